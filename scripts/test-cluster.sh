#!/usr/bin/env bash
# `make test-cluster`: build the images (Taskyard's with scripts/build-images.sh, the
# RabbitMQ/Valkey stand-ins from Debian packages, reused while unchanged), run the
# rendered chart in the Docker cluster emulation (tests/cluster/kubesim) and the tests
# marked `cluster` through it. Needs root and Docker (started here when not running).
#   TASKYARD_CLUSTER_SKIP_BUILD=1    use the Taskyard images as they are
#   TASKYARD_CLUSTER_VALUES=file     extra chart values, applied last
# Extra arguments go to pytest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PATH="$(scripts/ensure-uv.sh):$PATH"
uv sync --locked --quiet
scripts/ensure-docker.sh
helm_bin=$(scripts/ensure-helm.sh)
export PATH="$helm_bin:$PATH"

started=$SECONDS
status=0
uv run --locked pytest -m cluster tests/cluster -p no:cacheprovider -rA "$@" || status=$?
echo "test-cluster finished in $((SECONDS - started)) s (exit $status)" >&2
exit "$status"
