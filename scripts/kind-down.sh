#!/usr/bin/env bash
# `make kind-down`: delete the kind cluster of `make kind-up` (KIND_CLUSTER_NAME, default taskyard).
set -euo pipefail

cluster="${KIND_CLUSTER_NAME:-taskyard}"
if ! command -v kind >/dev/null 2>&1; then
  echo "[kind-down] kind is not installed: nothing to delete" >&2
  exit 0
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  kind delete cluster --name "$cluster"
  rm -f "$root/.cache/kind/$cluster.images"
else
  echo "[kind-down] no kind cluster named $cluster" >&2
fi
