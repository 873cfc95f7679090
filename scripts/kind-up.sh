#!/usr/bin/env bash
# `make kind-up`: a kind cluster from deploy/kind/, the Taskyard images loaded into
# it, KEDA from its pinned release manifest, then `helm upgrade --install` of the
# chart and a wait for every rollout. Safe to run again: reuses what exists.
#
# Needs Docker, kind >= v0.33 (https://kind.sigs.k8s.io) and internet access for the KEDA
# manifest and the upstream images (kindest/node, rabbitmq, valkey, KEDA's). helm and
# kubectl come from PATH or scripts/ensure-helm.sh (for this host's OS and architecture).
# Runs under bash 3.2 (stock macOS) and on Linux or macOS, x86-64 or arm64.
#
# Images reloaded under the same tag: the Taskyard Deployments are restarted so their
# pods run the new build (kind-up remembers the loaded image ids per cluster).
#
# Settings (environment):
#   KIND_CLUSTER_NAME (taskyard), KIND_NODE_IMAGE (the one pinned in deploy/kind/cluster.yaml),
#   TASKYARD_NAMESPACE (taskyard), TASKYARD_RELEASE (taskyard),
#   KEDA_VERSION (2.20.2), TASKYARD_SKIP_BUILD=1 (do not build missing images),
#   TASKYARD_HELM_TIMEOUT (10m). Extra arguments go to `helm upgrade --install`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cluster="${KIND_CLUSTER_NAME:-taskyard}"
namespace="${TASKYARD_NAMESPACE:-taskyard}"
release="${TASKYARD_RELEASE:-taskyard}"
keda_version="${KEDA_VERSION:-2.20.2}"
keda_manifest="https://github.com/kedacore/keda/releases/download/v${keda_version}/keda-${keda_version}.yaml"
helm_timeout="${TASKYARD_HELM_TIMEOUT:-10m}"
chart="deploy/helm/taskyard"

log() { printf '[kind-up] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker is needed"
command -v kind >/dev/null 2>&1 || die "kind is needed: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
PATH="$(scripts/ensure-helm.sh --kubectl):$PATH"
export PATH
docker info >/dev/null 2>&1 || scripts/ensure-docker.sh

version="$(awk -F'"' '/^appVersion:/ { print $2 }' "$chart/Chart.yaml")"
[[ -n "$version" ]] || die "no appVersion in $chart/Chart.yaml"
images=("taskyard/api:$version" "taskyard/data-worker:$version"
  "taskyard/email-worker:$version" "taskyard/file-worker:$version"
  "taskyard/callback-worker:$version")
stamp_dir="$root/.cache/kind"
stamp="$stamp_dir/$cluster.images"

# --- the cluster -------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "cluster $cluster exists"
else
  log "creating cluster $cluster"
  rm -f "$stamp"
  create=(kind create cluster --name "$cluster" --config deploy/kind/cluster.yaml --wait 180s)
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    create+=(--image "$KIND_NODE_IMAGE")
  fi
  "${create[@]}"
fi
context="kind-$cluster"
kc=(kubectl --context "$context")

# --- images ------------------------------------------------------------------------
missing=0
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 || missing=1
done
if ((missing)); then
  [[ "${TASKYARD_SKIP_BUILD:-0}" == 1 ]] && die "images missing and TASKYARD_SKIP_BUILD=1: run make images"
  log "building the images (make images)"
  scripts/build-images.sh
fi
log "loading ${images[*]} into $cluster"
if ! kind load docker-image --name "$cluster" "${images[@]}"; then
  # Docker's containerd image store (Docker Desktop's default) breaks `kind load
  # docker-image`; an archive from `docker save` loads either way.
  log "kind load docker-image failed: loading a docker save archive instead"
  archive="$(mktemp "${TMPDIR:-/tmp}/taskyard-images.XXXXXX")"
  docker save -o "$archive" "${images[@]}"
  if ! kind load image-archive --name "$cluster" "$archive"; then
    rm -f "$archive"
    die "could not load the images into $cluster"
  fi
  rm -f "$archive"
fi
loaded_ids="$(docker image inspect -f '{{.Id}}' "${images[@]}" | tr '\n' ' ')"
previous_ids=""
if [[ -f "$stamp" ]]; then
  previous_ids="$(cat "$stamp")"
fi

# --- KEDA ----------------------------------------------------------------------------
log "installing KEDA $keda_version"
"${kc[@]}" apply --server-side --force-conflicts -f "$keda_manifest" >/dev/null
"${kc[@]}" wait --for condition=established --timeout=120s \
  crd/scaledobjects.keda.sh crd/triggerauthentications.keda.sh >/dev/null
while read -r deployment; do
  "${kc[@]}" -n keda rollout status "$deployment" --timeout=300s
done < <("${kc[@]}" -n keda get deployments -o name)

# --- the chart -----------------------------------------------------------------------
if ! "${kc[@]}" get namespace "$namespace" >/dev/null 2>&1; then
  "${kc[@]}" create namespace "$namespace"
fi
# Every pod must meet Pod Security Standards "restricted": let the API server enforce it.
"${kc[@]}" label --overwrite namespace "$namespace" \
  pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/warn=restricted >/dev/null

log "helm upgrade --install $release"
helm upgrade --install "$release" "$chart" \
  --kube-context "$context" --namespace "$namespace" \
  --values deploy/kind/values.yaml \
  --wait --timeout "$helm_timeout" "$@"

if [[ -n "$previous_ids" && "$previous_ids" != "$loaded_ids" ]]; then
  # Same tags, new builds: the pods' spec did not change, so nothing rolled by itself.
  log "images rebuilt under the same tags: restarting the Taskyard Deployments"
  "${kc[@]}" -n "$namespace" rollout restart deployment -l "app.kubernetes.io/instance=$release"
fi
mkdir -p "$stamp_dir"
printf '%s' "$loaded_ids" >"$stamp"

log "waiting for every rollout"
"${kc[@]}" -n "$namespace" rollout status "statefulset/$release-rabbitmq" --timeout=300s
"${kc[@]}" -n "$namespace" rollout status "statefulset/$release-redis" --timeout=300s
while read -r deployment; do
  "${kc[@]}" -n "$namespace" rollout status "$deployment" --timeout=300s
done < <("${kc[@]}" -n "$namespace" get deployments -l "app.kubernetes.io/instance=$release" -o name)
"${kc[@]}" -n "$namespace" get scaledobjects
log "up: make e2e-kind runs the end-to-end tests; make kind-down deletes the cluster"
