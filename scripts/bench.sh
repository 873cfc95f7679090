#!/usr/bin/env bash
# `make bench`: Taskyard beside a minimal Flask endpoint and plain Celery, in one run.
# Starts RabbitMQ/Redis when absent (scripts/ensure-servers.sh), then bench/run.py starts
# the API, the baselines and the workers in a private vhost and Redis db, prints the table
# (with the command behind each figure) and stops everything it started.
# BENCH_SCALE=0.05 for a quick trial; see bench/run.py for the other knobs.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"

PATH="$(scripts/ensure-uv.sh):$PATH"
# --inexact: never remove a package someone installed into the shared environment.
uv sync --locked --inexact --quiet
scripts/ensure-servers.sh

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: wrk is missing; install it with: sudo apt-get install -y wrk" >&2
    exit 1
  fi
  echo "installing wrk with apt-get" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2
fi

bench_pid=""
# shellcheck disable=SC2317  # called through the trap
stop_bench() {
  # bench/run.py stops what it started; its children also die with it (PR_SET_PDEATHSIG).
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
}
trap stop_bench EXIT
trap 'exit 130' INT TERM

echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" .venv/bin/python -m bench.run &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=""
exit "$status"
