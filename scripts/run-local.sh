#!/usr/bin/env bash
# `make run`: the whole system on this machine, in the foreground, until Ctrl-C.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
run_dir="$repo_root/.run"
mkdir -p "$run_dir"

PATH="$(scripts/ensure-uv.sh):$PATH"
uv sync --locked --quiet
scripts/ensure-servers.sh

# Development secrets, made once and kept in .env (never shipped: the chart generates its own).
random_secret() { head -c "$1" /dev/urandom | base64 | tr -d '/+='; }
# write_once NAME WHAT LINE...: append the lines to .env unless it already sets NAME.
write_once() {
  local name=$1 what=$2
  shift 2
  if [ ! -f .env ] || ! grep -q "^$name=" .env; then
    printf '%s\n' "$@" >> .env
    echo "wrote $what to .env"
  fi
}
write_once TASKYARD_FLOWER_BASIC_AUTH "development Flower credentials" \
  "TASKYARD_FLOWER_BASIC_AUTH=admin:$(random_secret 18)" \
  "TASKYARD_FLOWER_COOKIE_SECRET=$(random_secret 32)"
# An admin key that sees every caller's tasks and files and a "demo" key that sees its own.
# Keys set in the environment win, and then the generated admin name does not apply
# (unless TASKYARD_ADMIN_API_KEYS is set too).
write_once TASKYARD_API_KEYS "development API keys (admin, demo)" \
  "TASKYARD_API_KEYS=admin:$(random_secret 24),demo:$(random_secret 24)" \
  "TASKYARD_ADMIN_API_KEYS=admin"
write_once TASKYARD_CALLBACK_SIGNING_SECRET "a development callback signing secret" \
  "TASKYARD_CALLBACK_SIGNING_SECRET=$(random_secret 32)"
write_once TASKYARD_UI_SESSION_SECRET "a development console session secret" \
  "TASKYARD_UI_SESSION_SECRET=$(random_secret 48)"
if [ -n "${TASKYARD_API_KEYS:-}${TASKYARD_API_KEYS_FILE:-}" ] \
  && [ -z "${TASKYARD_ADMIN_API_KEYS+set}" ]; then
  export TASKYARD_ADMIN_API_KEYS=""
fi
# shellcheck source=scripts/load-dotenv.sh
. scripts/load-dotenv.sh
load_dotenv_defaults .env

export TASKYARD_STORAGE_URL="${TASKYARD_STORAGE_URL:-file://$run_dir/files}"
export TASKYARD_LOG_FORMAT="${TASKYARD_LOG_FORMAT:-console}"
export PYTHONUNBUFFERED=1
venv_bin="$repo_root/.venv/bin"

procfile="$run_dir/Procfile"
purge_interval_seconds=3600
{
  echo "api: $venv_bin/gunicorn --config $repo_root/services/api/gunicorn.conf.py"
  echo "flower: $venv_bin/taskyard-flower --address=127.0.0.1 --port=5555"
  # Expired uploads and outputs go once an hour, as the chart's filePurge CronJob does; a
  # failed run is logged and the next one tries again.
  echo "callbacks: $venv_bin/taskyard-callback-worker"
  echo "purge: sh -c 'while :; do $venv_bin/taskyard-admin purge-expired; sleep $purge_interval_seconds; done'"
} > "$procfile"

if [ -z "${TASKYARD_SMTP_HOST:-}" ]; then
  export TASKYARD_SMTP_HOST=127.0.0.1 TASKYARD_SMTP_PORT=2525
  echo "smtp: $venv_bin/python -m aiosmtpd -n -u -l 127.0.0.1:2525 -c aiosmtpd.handlers.Debugging stdout" >> "$procfile"
  echo "TASKYARD_SMTP_HOST is not set: mail goes to a local catcher on 127.0.0.1:2525 and is printed below"
fi

# One worker per queue, the queues read from taskyard_common.topology.
"$venv_bin/python" scripts/local_workers.py "$venv_bin" >> "$procfile"

if [ -z "${TASKYARD_API_KEYS:-}${TASKYARD_API_KEYS_FILE:-}" ]; then
  echo "WARNING: no API key configured (TASKYARD_API_KEYS): the API on 127.0.0.1:8000 accepts every caller"
fi
echo "API http://127.0.0.1:8000 (docs /api/docs, console /ui/), Flower http://127.0.0.1:5555 (user:password in .env)"
cat <<'HINT'
API keys (name:key) are in .env (TASKYARD_API_KEYS); for the examples in docs/, the demo key:
  export TASKYARD_API_KEY=$(sed -n 's/^TASKYARD_API_KEYS=.*demo:\([^,]*\).*/\1/p' .env)
HINT
# -e /dev/null: honcho would otherwise apply .env over the environment this script settled.
exec "$venv_bin/honcho" -f "$procfile" -d "$repo_root" -e /dev/null start
