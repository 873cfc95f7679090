#!/usr/bin/env bash
# Make sure a Docker engine answers. When `docker info` fails, start dockerd in
# the background (log under /tmp) and wait until it answers.
set -euo pipefail

log="${TASKYARD_DOCKERD_LOG:-/tmp/taskyard-dockerd.log}"
timeout_s="${TASKYARD_DOCKERD_TIMEOUT:-60}"

if docker info >/dev/null 2>&1; then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo -n)
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "dockerd not found: installing Debian's docker.io" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq docker.io >/dev/null
fi

echo "no Docker engine answers: starting dockerd (log: $log)" >&2
# setsid: the engine must outlive this script and the make target that ran it.
"${sudo_cmd[@]}" setsid dockerd >"$log" 2>&1 </dev/null &

for ((i = 0; i < timeout_s; i++)); do
  if docker info >/dev/null 2>&1; then
    echo "dockerd is up" >&2
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within ${timeout_s}s; last lines of $log:" >&2
tail -n 30 "$log" >&2 || true
exit 1
