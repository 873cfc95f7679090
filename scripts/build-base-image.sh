#!/usr/bin/env bash
# Build a stand-in for python:3.11-slim-bookworm from Debian packages, for
# machines that reach no image registry: debootstrap a minimal bookworm with
# Debian's python3 (3.11) and python3-venv, then `docker import` it.
# Prints nothing but progress on stderr; the image name on stdout.
# Skips the work when the image already exists (TASKYARD_REBUILD_BASE=1 forces it).
set -euo pipefail

image="${TASKYARD_STANDIN_BASE:-taskyard/base:bookworm-python3.11}"
suite=bookworm

if [[ "${TASKYARD_REBUILD_BASE:-0}" != 1 ]] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "stand-in base $image exists: reusing it" >&2
  echo "$image"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "debootstrap needs root: run this script as root" >&2
  exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debootstrap not found: installing it" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# The Debian mirror this machine's apt uses (one-line or deb822 sources), not the security one.
find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    awk '
      /^[[:space:]]*#/ { next }
      $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; break } }
      $1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }
    ' "$f"
  done | grep -E '/debian/?$' | head -n 1
}
mirror="${TASKYARD_DEBIAN_MIRROR:-$(find_mirror || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"

rootfs="$(mktemp -d /tmp/taskyard-base-rootfs.XXXXXX)"
cleanup() { rm -rf "$rootfs"; }
trap cleanup EXIT

echo "debootstrap $suite from $mirror into $rootfs (takes a few minutes)" >&2
start=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  echo "debootstrap failed; last lines of $rootfs.log:" >&2
  tail -n 40 "$rootfs.log" >&2
  exit 1
}
rm -f "$rootfs.log"

# Slim it down the way the official slim images are: no apt caches, docs or man pages.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old "$rootfs"/tmp/*
# Same interpreter names as the official image has on PATH.
ln -sf python3 "$rootfs/usr/bin/python"

tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change 'LABEL org.opencontainers.image.description="Stand-in for python:3.11-slim-bookworm: Debian bookworm minbase with python3 and python3-venv"' \
  - "$image" >/dev/null
echo "built stand-in base $image in $((SECONDS - start))s" >&2
echo "$image"
