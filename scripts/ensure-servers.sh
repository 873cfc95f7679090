#!/usr/bin/env bash
# Make sure RabbitMQ (with its management API) and Redis answer on their default local ports.
# Reuses servers already listening; otherwise installs them through apt (as root) and starts them.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
state_dir="$repo_root/.run"
RABBITMQ_START_TIMEOUT_SECONDS=120
mkdir -p "$state_dir"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: $1 is missing; install it with: sudo apt-get install -y $1" >&2
    exit 1
  fi
  echo "installing $1 with apt-get" >&2
  if [ ! -f "$state_dir/apt-updated" ]; then
    apt-get update -q >&2
    touch "$state_dir/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >&2
}

wait_for_port() {
  local port=$1 what=$2
  for _ in $(seq 1 120); do
    listening "$port" && return 0
    sleep 0.5
  done
  echo "error: $what did not start listening on port $port" >&2
  exit 1
}

# `rabbitmqctl await_startup` fails at once while the freshly detached node has not yet
# registered with epmd, so ping until it answers before waiting for the app to boot.
wait_for_rabbitmq_node() {
  for _ in $(seq 1 "$RABBITMQ_START_TIMEOUT_SECONDS"); do
    rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break
    sleep 1
  done
  if ! rabbitmqctl await_startup --timeout "$RABBITMQ_START_TIMEOUT_SECONDS" >/dev/null; then
    echo "error: RabbitMQ did not start; its log follows" >&2
    tail -n 50 /var/log/rabbitmq/*.log >&2 || true
    exit 1
  fi
}

ensure_rabbitmq() {
  if ! listening 5672; then
    command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
    rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
    echo "starting rabbitmq-server" >&2
    rabbitmq-server -detached
    wait_for_rabbitmq_node
  fi
  if ! listening 15672; then
    echo "enabling the RabbitMQ management plugin" >&2
    rabbitmq-plugins enable rabbitmq_management >/dev/null
  fi
  wait_for_port 15672 "RabbitMQ management"
}

ensure_redis() {
  if listening 6379; then
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  mkdir -p "$state_dir/redis"
  echo "starting redis-server (AOF on, data in $state_dir/redis)" >&2
  redis-server --daemonize yes --appendonly yes --dir "$state_dir/redis" \
    --bind 127.0.0.1 --port 6379 --logfile "$state_dir/redis/redis.log"
  wait_for_port 6379 "Redis"
}

ensure_rabbitmq
ensure_redis
echo "RabbitMQ on 127.0.0.1:5672 (management :15672) and Redis on 127.0.0.1:6379 are up" >&2
