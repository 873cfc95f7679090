#!/usr/bin/env bash
# Dependency audit: every package version uv.lock pins for the services is checked
# against the known vulnerabilities PyPI publishes (pip-audit; nothing is installed).
# Fails when a vulnerability has a fixed release to upgrade to; one with no fix yet is
# listed but does not fail the run (there is nothing to upgrade to).
#
#   scripts/audit.sh          runtime dependencies: what the images ship
#   scripts/audit.sh --dev    the dev group (test and lint tools) as well
#
# TASKYARD_AUDIT_IGNORE="GHSA-xxxx,PYSEC-yyyy" accepts known findings, with a reason in
# the commit that adds them.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
PATH="$(scripts/ensure-uv.sh):$PATH"

groups=(--no-dev)
scope="runtime dependencies"
case "${1:-}" in
  "") ;;
  --dev) groups=(); scope="runtime and dev dependencies" ;;
  *) echo "usage: $0 [--dev]" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Pinned and hashed, without the workspace's own packages (they are not on PyPI).
uv export --locked --quiet "${groups[@]}" --format requirements-txt --no-emit-workspace \
  >"$work/requirements.txt"

ignores=()
IFS=',' read -r -a ignored_ids <<<"${TASKYARD_AUDIT_IGNORE:-}"
for id in "${ignored_ids[@]}"; do
  [ -n "$id" ] && ignores+=(--ignore-vuln "$id")
done

echo "auditing $(grep -c '==' "$work/requirements.txt") pinned packages ($scope) from uv.lock" >&2
status=0
uv run --locked --quiet pip-audit \
  --requirement "$work/requirements.txt" --require-hashes --disable-pip \
  --progress-spinner off --desc off --format json --output "$work/audit.json" \
  ${ignores[@]+"${ignores[@]}"} >"$work/pip-audit.log" 2>&1 || status=$?

# The verdict (which findings fail the audit) is scripts/audit_report.py's.
uv run --locked --quiet python scripts/audit_report.py \
  "$work/audit.json" "$status" "$work/requirements.txt"
