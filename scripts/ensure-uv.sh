#!/usr/bin/env bash
# Make sure uv is on PATH; installs it from PyPI when missing.
set -euo pipefail
if command -v uv >/dev/null 2>&1; then
  exit 0
fi
echo "uv not found: installing it from PyPI" >&2
python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
command -v uv >/dev/null 2>&1 || { echo "uv was installed but is not on PATH; add ~/.local/bin to PATH" >&2; exit 1; }
