#!/usr/bin/env bash
# Print a folder holding `uv` for the caller to put first on PATH:
#   PATH="$(scripts/ensure-uv.sh):$PATH"
# When uv is on PATH, prints its folder. Otherwise installs uv from PyPI into
# .cache/uv (pip --target: no ~/.local/bin, no PATH change, no system site-packages)
# and prints .cache/uv/bin, so a fresh machine needs no manual step.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${TASKYARD_UV_DIR:-$root/.cache/uv}"

if found="$(command -v uv 2>/dev/null)"; then
  dirname "$found"
  exit 0
fi
if [[ -x "$target/bin/uv" ]]; then
  echo "$target/bin"
  exit 0
fi

echo "uv not found: installing it from PyPI into $target" >&2
python3 -m pip install --quiet --disable-pip-version-check --target "$target" uv >&2
"$target/bin/uv" --version >&2
echo "$target/bin"
