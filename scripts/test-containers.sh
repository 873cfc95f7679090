#!/usr/bin/env bash
# `make test-containers`: build the four images, run the whole stack from them
# on this machine (host networking, loopback only), run tests/e2e against it,
# then stop and remove everything, on success and on failure alike.
#
# Every container runs as the chart runs it: --read-only --tmpfs /tmp
# --user 10001 --cap-drop ALL --security-opt no-new-privileges.
# RabbitMQ and Redis are the host's (as for `make run`; started here when they
# do not answer), in a vhost and a Redis database of this run's own so that
# another stack on the same servers is not disturbed.
#
# Settings (environment):
#   TASKYARD_CT_API_PORT (18000), TASKYARD_CT_FLOWER_PORT (15555),
#   TASKYARD_CT_SMTP_PORT (2525), TASKYARD_CT_VHOST (taskyard-containers),
#   TASKYARD_CT_REDIS_DB (7), TASKYARD_CT_SKIP_BUILD=1 (use the images as built),
#   TASKYARD_CT_KEEP=1 (leave the stack running after the tests, for debugging).
# Extra arguments are passed to pytest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

api_port="${TASKYARD_CT_API_PORT:-18000}"
flower_port="${TASKYARD_CT_FLOWER_PORT:-15555}"
smtp_port="${TASKYARD_CT_SMTP_PORT:-2525}"
vhost="${TASKYARD_CT_VHOST:-taskyard-containers}"
redis_db="${TASKYARD_CT_REDIS_DB:-7}"
ready_timeout="${TASKYARD_CT_READY_TIMEOUT:-180}"
stop_timeout="${TASKYARD_CT_STOP_TIMEOUT:-40}"
prefix=taskyard-ct
types=(data email file)
priorities=(high normal low)

log() { printf '[test-containers %3ds] %s\n' "$SECONDS" "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

project_version() {
  awk -F'"' '/^\[project\]/ { p = 1; next } /^\[/ { p = 0 } p && /^version[[:space:]]*=/ { print $2; exit }' "$1"
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

# --- tools and images -----------------------------------------------------------
scripts/ensure-uv.sh
scripts/ensure-docker.sh
if [[ "${TASKYARD_CT_SKIP_BUILD:-0}" != 1 ]]; then
  scripts/build-images.sh
fi
api_image="taskyard/api:$(project_version services/api/pyproject.toml)"
for t in "${types[@]}"; do
  docker image inspect "taskyard/$t-worker:$(project_version "services/$t-worker/pyproject.toml")" >/dev/null
done
docker image inspect "$api_image" >/dev/null

for port in "$api_port" "$flower_port"; do
  if port_open "$port"; then
    log "port $port on 127.0.0.1 is taken: stop what listens there or set TASKYARD_CT_*_PORT"
    exit 1
  fi
done

# --- RabbitMQ and Redis on the host, as for `make run` -------------------------------
scripts/ensure-servers.sh

# --- this run's state: everything the trap removes -----------------------------------
workdir="$(mktemp -d /tmp/taskyard-containers.XXXXXX)"
files_dir="$workdir/files"
mkdir -p "$files_dir"
# The containers run as 10001: let that user own the shared storage folder.
chown 10001:10001 "$files_dir" 2>/dev/null || chmod 0777 "$files_dir"
containers=()
smtp_pid=""
vhost_created=0

dump_logs() {
  local c
  for c in "${containers[@]}"; do
    docker container inspect "$c" >/dev/null 2>&1 || continue
    echo "===== docker logs $c ($(docker inspect -f '{{.State.Status}} exit={{.State.ExitCode}}' "$c")) =====" >&2
    docker logs --tail "${TASKYARD_CT_LOG_LINES:-150}" "$c" >&2 2>&1 || true
  done
  if [[ -s "$workdir/smtp.log" ]]; then
    echo "===== aiosmtpd (last lines) =====" >&2
    tail -n 40 "$workdir/smtp.log" >&2 || true
  fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((rc != 0)); then
    log "FAILED (exit $rc): container logs follow"
    dump_logs
  fi
  if [[ "${TASKYARD_CT_KEEP:-0}" == 1 ]]; then
    log "TASKYARD_CT_KEEP=1: leaving ${containers[*]} running; state in $workdir"
    exit "$rc"
  fi
  if ((${#containers[@]})); then
    docker stop --time "$stop_timeout" "${containers[@]}" >/dev/null 2>&1 || true
    docker rm --force "${containers[@]}" >/dev/null 2>&1 || true
  fi
  if [[ -n "$smtp_pid" ]]; then
    kill "$smtp_pid" 2>/dev/null || true
    wait "$smtp_pid" 2>/dev/null || true
  fi
  if ((vhost_created)); then
    as_root rabbitmqctl -q delete_vhost "$vhost" >/dev/null 2>&1 || true
  fi
  redis-cli -n "$redis_db" flushdb >/dev/null 2>&1 || true
  rm -rf "$workdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh vhost and Redis database: no queue or status left from an earlier run.
as_root rabbitmqctl -q delete_vhost "$vhost" >/dev/null 2>&1 || true
as_root rabbitmqctl -q add_vhost "$vhost" >/dev/null
vhost_created=1
as_root rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
redis-cli -n "$redis_db" flushdb >/dev/null

# --- SMTP sink on the host -------------------------------------------------------------
if port_open "$smtp_port"; then
  log "something already listens on 127.0.0.1:$smtp_port: using it as the SMTP server"
else
  uv run --locked python -m aiosmtpd -n -l "127.0.0.1:$smtp_port" >"$workdir/smtp.log" 2>&1 &
  smtp_pid=$!
  for _ in $(seq 100); do port_open "$smtp_port" && break; sleep 0.2; done
  port_open "$smtp_port" || { log "aiosmtpd did not start"; cat "$workdir/smtp.log" >&2; exit 1; }
fi

# --- the stack ---------------------------------------------------------------------
broker_url="amqp://guest:guest@127.0.0.1:5672/$vhost"
flower_auth="${TASKYARD_CT_FLOWER_BASIC_AUTH:-flower:containers}"
# An API key, as the chart always configures one; tests/e2e sends it.
api_key="${TASKYARD_E2E_API_KEY:-ct-$RANDOM$RANDOM$RANDOM}"
common=(
  --detach --network host
  --read-only --tmpfs /tmp --user 10001 --cap-drop ALL --security-opt no-new-privileges
  --label taskyard.test=containers
  --volume "$files_dir:/data/files"
)
# Settings the caller set (retry backoff for the tests, say) go in first; this run's own win.
while IFS='=' read -r name _; do
  [[ "$name" == TASKYARD_* && "$name" != TASKYARD_CT_* && "$name" != TASKYARD_E2E_* ]] && common+=(--env "$name")
done < <(env)
common+=(
  --env "TASKYARD_BROKER_URL=$broker_url"
  --env "TASKYARD_REDIS_URL=redis://127.0.0.1:6379/$redis_db"
  --env "TASKYARD_RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672"
  --env "TASKYARD_STORAGE_URL=file:///data/files"
  --env "TASKYARD_SMTP_HOST=127.0.0.1"
  --env "TASKYARD_SMTP_PORT=$smtp_port"
  --env "TASKYARD_FLOWER_BASIC_AUTH=$flower_auth"
  --env "TASKYARD_LOG_FORMAT=${TASKYARD_LOG_FORMAT:-json}"
  --env "TASKYARD_API_KEYS=$api_key"
)

# `docker run` in the background: the eleven containers start side by side.
start_pids=()
start() {
  local name="$1"
  shift
  docker rm --force "$name" >/dev/null 2>&1 || true
  containers+=("$name")
  docker run --name "$name" "${common[@]}" "$@" >"$workdir/run-$name.log" 2>&1 &
  start_pids+=($!)
}

log "starting the api (127.0.0.1:$api_port), flower (127.0.0.1:$flower_port) and 9 workers"
start "$prefix-api" --env "TASKYARD_API_BIND=127.0.0.1:$api_port" "$api_image"
start "$prefix-flower" "$api_image" taskyard-flower --address=127.0.0.1 --port="$flower_port"
for t in "${types[@]}"; do
  image="taskyard/$t-worker:$(project_version "services/$t-worker/pyproject.toml")"
  for p in "${priorities[@]}"; do
    # One task at a time (two cores for eleven containers). `docker stop` (SIGTERM) lets a
    # running task end; the short soft shutdown bounds a SIGQUIT.
    start "$prefix-$t-$p" --env TASKYARD_WORKER_CONCURRENCY=1 \
      --env "TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS=${TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS:-10}" \
      "$image" "taskyard-$t-worker" --priority "$p"
  done
done
for pid in "${start_pids[@]}"; do
  if ! wait "$pid"; then
    log "docker run failed:"
    cat "$workdir"/run-*.log >&2
    exit 1
  fi
done

# --- wait: api ready, flower listening, one consumer on each of the 9 queues ----------
all_running() {
  local c
  for c in "${containers[@]}"; do
    if [[ "$(docker inspect -f '{{.State.Running}}' "$c")" != true ]]; then
      log "container $c stopped: $(docker inspect -f 'exit {{.State.ExitCode}}' "$c")"
      return 1
    fi
  done
}
queues_consumed() {
  # "<queue>\t<consumers>" for this vhost; every one of the 9 queues needs a consumer.
  local listing want=0
  listing="$(as_root rabbitmqctl -q list_queues -p "$vhost" --no-table-headers name consumers 2>/dev/null)" || return 1
  for t in "${types[@]}"; do
    for p in "${priorities[@]}"; do
      awk -v q="$t.$p" '$1 == q && $2 > 0 { found = 1 } END { exit !found }' <<<"$listing" || want=1
    done
  done
  return "$want"
}

deadline=$((SECONDS + ready_timeout))
api_ready=0 flower_up=0 workers_up=0
while ((SECONDS < deadline)); do
  all_running || exit 1
  ((api_ready)) || { curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$api_port/readyz" 2>/dev/null && api_ready=1 && log "api ready"; }
  ((flower_up)) || { port_open "$flower_port" && flower_up=1 && log "flower listening"; }
  ((workers_up)) || { queues_consumed && workers_up=1 && log "9 workers consuming"; }
  ((api_ready && flower_up && workers_up)) && break
  sleep 1
done
if ! ((api_ready && flower_up && workers_up)); then
  log "not ready after ${ready_timeout}s (api ready=$api_ready, flower=$flower_up, workers=$workers_up)"
  curl -sS --max-time 3 "http://127.0.0.1:$api_port/readyz" >&2 || true
  exit 1
fi

# --- the end-to-end tests ------------------------------------------------------------
log "running tests/e2e against http://127.0.0.1:$api_port"
export TASKYARD_E2E_BASE_URL="http://127.0.0.1:$api_port"
export TASKYARD_E2E_API_KEY="$api_key"
export TASKYARD_E2E_FLOWER_URL="http://127.0.0.1:$flower_port"
export TASKYARD_E2E_FLOWER_BASIC_AUTH="$flower_auth"
export TASKYARD_E2E_SMTP_PORT="$smtp_port"
status=0
uv run --locked pytest tests/e2e "$@" || status=$?
if ((status != 0)); then
  log "tests/e2e failed (pytest exit $status)"
  exit "$status"
fi

# --- shutdown: every main process must stop on SIGTERM, not be killed -------------------
if [[ "${TASKYARD_CT_KEEP:-0}" != 1 ]]; then
  log "stopping the containers with SIGTERM (up to ${stop_timeout}s each)"
  docker stop --time "$stop_timeout" "${containers[@]}" >/dev/null
  killed=()
  for c in "${containers[@]}"; do
    code="$(docker inspect -f '{{.State.ExitCode}}' "$c")"
    # 137 = SIGKILL after the timeout: SIGTERM did not reach or stop the main process.
    [[ "$code" == 137 ]] && killed+=("$c")
  done
  if ((${#killed[@]})); then
    log "did not stop on SIGTERM within ${stop_timeout}s: ${killed[*]}"
    exit 1
  fi
  log "all containers stopped on SIGTERM"
fi
log "passed"
