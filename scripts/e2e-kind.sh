#!/usr/bin/env bash
# `make e2e-kind`: against the cluster of `make kind-up`: port-forward the API and
# Flower, run `helm test` and tests/e2e through the port-forward, then flood the
# data.low queue and check that KEDA scales its Deployment from 0 up and back to 0.
#
# Settings (environment):
#   KIND_CLUSTER_NAME (taskyard), TASKYARD_NAMESPACE (taskyard), TASKYARD_RELEASE (taskyard),
#   TASKYARD_KIND_API_PORT (18000), TASKYARD_KIND_FLOWER_PORT (15555),
#   TASKYARD_FLOOD_TASKS (60), TASKYARD_SCALE_TIMEOUT (300 seconds per phase).
# Extra arguments go to pytest. Runs under bash 3.2 (stock macOS).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cluster="${KIND_CLUSTER_NAME:-taskyard}"
namespace="${TASKYARD_NAMESPACE:-taskyard}"
release="${TASKYARD_RELEASE:-taskyard}"
api_port="${TASKYARD_KIND_API_PORT:-18000}"
flower_port="${TASKYARD_KIND_FLOWER_PORT:-15555}"
flood_tasks="${TASKYARD_FLOOD_TASKS:-60}"
scale_timeout="${TASKYARD_SCALE_TIMEOUT:-300}"
low_worker="$release-data-worker-low"

log() { printf '[e2e-kind] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PATH="$(scripts/ensure-uv.sh):$PATH"
PATH="$(scripts/ensure-helm.sh --kubectl):$PATH"
export PATH
context="kind-$cluster"
kc=(kubectl --context "$context" --namespace "$namespace")
"${kc[@]}" get deployment "$release-api" >/dev/null 2>&1 || die "no $release-api in $context/$namespace: run make kind-up"

secret_value() { # secret key
  "${kc[@]}" get secret "$1" -o go-template="{{index .data \"$2\" | base64decode}}"
}

pids=()
workdir="$(mktemp -d /tmp/taskyard-e2e-kind.XXXXXX)"
cleanup() {
  local pid
  # ${a[@]+...}: bash 3.2 with set -u calls an empty array unbound.
  for pid in ${pids[@]+"${pids[@]}"}; do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$workdir"
}
trap cleanup EXIT

port_forward() { # service local-port remote-port
  "${kc[@]}" port-forward "svc/$1" "$2:$3" >"$workdir/port-forward-$1.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  cat "$workdir/port-forward-$1.log" >&2
  die "port-forward of svc/$1 to 127.0.0.1:$2 did not open"
}

port_forward "$release-api" "$api_port" 8000
port_forward "$release-flower" "$flower_port" 5555
api_key="$(secret_value "$release-api-keys" api-keys | head -n 1)"
flower_auth="$(secret_value "$release-flower" basic-auth)"

log "helm test $release"
helm test "$release" --kube-context "$context" --namespace "$namespace" --logs --timeout 5m

log "tests/e2e against http://127.0.0.1:$api_port"
TASKYARD_E2E_BASE_URL="http://127.0.0.1:$api_port" \
TASKYARD_E2E_API_KEY="$api_key" \
TASKYARD_E2E_FLOWER_URL="http://127.0.0.1:$flower_port" \
TASKYARD_E2E_FLOWER_BASIC_AUTH="$flower_auth" \
  uv run --locked pytest tests/e2e "$@"

# --- KEDA: data.low scales from 0 up under a flood, and back to 0 -------------------
replicas() {
  "${kc[@]}" get deployment "$low_worker" -o jsonpath='{.spec.replicas}'
}
wait_replicas() { # test-operator value description, e.g. -eq 0 "scaled to zero"
  local deadline=$((SECONDS + scale_timeout)) now
  while ((SECONDS < deadline)); do
    now="$(replicas)"
    if test "${now:-0}" "$1" "$2"; then
      log "$low_worker: ${now:-0} replicas ($3)"
      return 0
    fi
    sleep 3
  done
  "${kc[@]}" get scaledobject "$low_worker" -o yaml >&2 || true
  "${kc[@]}" get hpa >&2 || true
  die "$low_worker not $3 within ${scale_timeout}s (replicas: $(replicas))"
}

log "waiting for $low_worker to be scaled to zero (its queue is empty)"
wait_replicas -eq 0 "scaled to zero"

log "flooding data.low with $flood_tasks tasks"
TASKYARD_E2E_BASE_URL="http://127.0.0.1:$api_port" TASKYARD_E2E_API_KEY="$api_key" \
  uv run --locked python scripts/kind_flood.py submit "$flood_tasks" >"$workdir/task-ids"

log "waiting for KEDA to scale $low_worker up"
wait_replicas -ge 1 "scaled up from zero"

log "waiting for the flood to be processed"
TASKYARD_E2E_BASE_URL="http://127.0.0.1:$api_port" TASKYARD_E2E_API_KEY="$api_key" \
  uv run --locked python scripts/kind_flood.py wait "$workdir/task-ids" "$scale_timeout"

log "waiting for KEDA to scale $low_worker back to zero"
wait_replicas -eq 0 "back to zero"
log "passed: helm test, tests/e2e and KEDA scaling of data.low"
