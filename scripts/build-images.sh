#!/usr/bin/env bash
# Build the service images as taskyard/<name>:<version> (version from
# services/<name>/pyproject.toml), from the repository root's one Dockerfile
# (the build argument SERVICE and the target <name> pick the service).
# TASKYARD_IMAGE_PREFIX replaces "taskyard/" in the tags (parallel builds on one
# Docker daemon keep apart that way).
#
#   scripts/build-images.sh                # all five
#   scripts/build-images.sh api data-worker
#
# Base image: $TASKYARD_BASE_IMAGE when set; else python:3.11-slim-bookworm when
# it is present or can be pulled; else a stand-in built from Debian packages by
# scripts/build-base-image.sh. Prints each image's size over its base.
# Certificate authorities added on this host (/usr/local/share/ca-certificates,
# or the PEM file $TASKYARD_BUILD_CA_FILE) are trusted by the build stage for
# its downloads, never by the final images.
# Build logs go to ${TMPDIR:-/tmp}/taskyard-build-<name>.log
# (TASKYARD_BUILD_VERBOSE=1 shows them as they run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_images=(api data-worker email-worker file-worker callback-worker)
official_base=python:3.11-slim-bookworm
# Size budgets over the base (MB): polars alone is 143 MB of the data worker's.
# TASKYARD_IMAGE_MAX_MB sets one budget for all.
budget_mb() {
  if [[ -n "${TASKYARD_IMAGE_MAX_MB:-}" ]]; then echo "$TASKYARD_IMAGE_MAX_MB"
  elif [[ "$1" == data-worker ]]; then echo 200
  else echo 80; fi
}
pull_timeout="${TASKYARD_PULL_TIMEOUT:-60}"
logdir="${TMPDIR:-/tmp}"

if [[ $# -gt 0 ]]; then
  images=("$@")
else
  images=("${all_images[@]}")
fi
for name in "${images[@]}"; do
  [[ " ${all_images[*]} " == *" $name "* ]] || { echo "no service $name: one of ${all_images[*]}" >&2; exit 2; }
done
prefix="${TASKYARD_IMAGE_PREFIX:-taskyard}"

scripts/ensure-docker.sh

# --- the base image -----------------------------------------------------------
base="${TASKYARD_BASE_IMAGE:-}"
if [[ -z "$base" ]]; then
  if docker image inspect "$official_base" >/dev/null 2>&1; then
    base="$official_base"
  elif timeout "$pull_timeout" docker pull -q "$official_base" >/dev/null 2>&1; then
    base="$official_base"
  else
    echo "$official_base cannot be pulled: using a stand-in base built from Debian packages" >&2
    base="$(scripts/build-base-image.sh)"
  fi
fi
docker image inspect "$base" >/dev/null 2>&1 || docker pull "$base" >/dev/null
echo "base image: $base" >&2

# --- build --------------------------------------------------------------------
project_version() {
  # The first `version = "..."` of the [project] table.
  awk -F'"' '/^\[project\]/ { p = 1; next } /^\[/ { p = 0 } p && /^version[[:space:]]*=/ { print $2; exit }' "$1"
}

revision="$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)"
created="$(git log -1 --format=%cI 2>/dev/null || true)"
created="${created:-unknown}"

# PEM text of the CAs this host added to its trust store (a TLS-inspecting proxy's, say).
build_ca_certs=""
if [[ -n "${TASKYARD_BUILD_CA_FILE:-}" ]]; then
  build_ca_certs="$(cat "$TASKYARD_BUILD_CA_FILE")"
else
  shopt -s nullglob
  local_cas=(/usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt)
  shopt -u nullglob
  if ((${#local_cas[@]})); then
    build_ca_certs="$(cat "${local_cas[@]}")"
  fi
fi

bytes_of() { docker image inspect -f '{{.Size}}' "$1"; }
base_bytes="$(bytes_of "$base")"

declare -A tags=()
total_start=$SECONDS
for name in "${images[@]}"; do
  version="$(project_version "services/$name/pyproject.toml")"
  [[ -n "$version" ]] || { echo "no version in services/$name/pyproject.toml" >&2; exit 1; }
  tag="$prefix/$name:$version"
  tags[$name]="$tag"
  log="$logdir/${prefix//\//-}-build-$name.log"
  echo "building $tag (log: $log)" >&2
  start=$SECONDS
  build=(docker build --network host
    --file Dockerfile
    --target "$name"
    --tag "$tag"
    --build-arg "SERVICE=$name"
    --build-arg "BASE_IMAGE=$base"
    --build-arg "VERSION=$version"
    --build-arg "REVISION=$revision"
    --build-arg "CREATED=$created"
    --build-arg "BUILD_CA_CERTS=$build_ca_certs"
    .)
  if [[ "${TASKYARD_BUILD_VERBOSE:-0}" == 1 ]]; then
    "${build[@]}" 2>&1 | tee "$log"
  elif ! "${build[@]}" >"$log" 2>&1; then
    echo "building $tag failed; last lines of $log:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
  echo "built $tag in $((SECONDS - start))s" >&2
done
echo "built ${#images[@]} image(s) in $((SECONDS - total_start))s" >&2

# --- sizes --------------------------------------------------------------------
# Uncompressed sizes as `docker image inspect` reports them (MB = 10^6 bytes).
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
too_big=()
printf '%-34s %10s %15s\n' IMAGE "SIZE MB" "OVER BASE MB"
for name in "${images[@]}"; do
  bytes="$(bytes_of "${tags[$name]}")"
  delta=$((bytes - base_bytes))
  printf '%-34s %10s %15s\n' "${tags[$name]}" "$(mb "$bytes")" "$(mb "$delta")"
  ((delta <= $(budget_mb "$name") * 1000000)) || too_big+=("${tags[$name]} (budget $(budget_mb "$name") MB)")
done
printf '%-34s %10s\n' "base: $base" "$(mb "$base_bytes")"
if ((${#too_big[@]})); then
  echo "WARNING: over their size budget: ${too_big[*]}" >&2
  [[ "${TASKYARD_ENFORCE_IMAGE_SIZE:-0}" != 1 ]] || exit 1
fi
