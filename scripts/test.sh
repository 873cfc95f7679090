#!/usr/bin/env bash
# `make test`: unit, integration, e2e (against a stack the tests start), fault and chart tests.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"

PATH="$(scripts/ensure-uv.sh):$PATH"
uv sync --locked --quiet
scripts/ensure-servers.sh
helm_bin=$(scripts/ensure-helm.sh)
export PATH="$helm_bin:$PATH"

uv run --locked pytest -m "not cluster" \
  tests/unit tests/client tests/integration tests/e2e tests/docs tests/fuzz tests/faults tests/chart \
  tests/cluster "$@"
