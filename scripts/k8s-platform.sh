#!/usr/bin/env bash
# Print the <os>-<arch> that helm's and kubectl's release downloads use for this host, or for
# the given `uname -s` and `uname -m` values: linux-amd64, linux-arm64, darwin-amd64, darwin-arm64.
#   scripts/k8s-platform.sh               # this host
#   scripts/k8s-platform.sh Darwin arm64  # what a Mac with Apple silicon needs
set -euo pipefail

os="${1:-$(uname -s)}"
machine="${2:-$(uname -m)}"
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *)
    echo "k8s-platform: no helm/kubectl downloads for the OS '$os' here (Linux and macOS)" >&2
    exit 1
    ;;
esac
case "$machine" in
  x86_64 | amd64) arch=amd64 ;;
  arm64 | aarch64) arch=arm64 ;;
  *)
    echo "k8s-platform: no helm/kubectl downloads for the machine '$machine' here (x86_64, arm64)" >&2
    exit 1
    ;;
esac
echo "$os-$arch"
