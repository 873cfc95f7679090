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

# pip-audit exits 1 both for "found something" and for its own errors: the report tells.
# It looks each pinned version up at PyPI's per-release JSON API; where that answers "not
# found" (some mirrors and proxies serve only the per-project JSON), the same advisories
# are read from the per-project JSON, which carries them for the project's latest release.
uv run --locked --quiet python - "$work/audit.json" "$status" "$work/requirements.txt" <<'PY'
import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import requests

report_path, status, requirements_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ignored = {i.strip() for i in os.environ.get("TASKYARD_AUDIT_IGNORE", "").split(",") if i.strip()}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


try:
    with open(report_path, encoding="utf-8") as handle:
        report = json.load(handle)
except (OSError, ValueError):
    print(f"pip-audit failed (exit {status}) without a report:", file=sys.stderr)
    with open(report_path.replace("audit.json", "pip-audit.log"), encoding="utf-8") as log:
        print(log.read()[-4000:], file=sys.stderr)
    sys.exit(1)

pins = {}
with open(requirements_path, encoding="utf-8") as handle:
    for line in handle:
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)

found = []  # (name, version, id, aliases, fix versions)
skipped = []
for dependency in report.get("dependencies", []):
    if "skip_reason" in dependency:
        skipped.append(canonical(dependency["name"]))
        continue
    for vuln in dependency.get("vulns", []):
        found.append((dependency["name"], dependency["version"], vuln["id"],
                      vuln.get("aliases", []), vuln.get("fix_versions", [])))


def project_advisories(name: str) -> tuple[str, object]:
    try:
        response = requests.get(f"https://pypi.org/pypi/{name}/json", timeout=20)
        response.raise_for_status()
        return name, response.json()
    except (requests.RequestException, ValueError) as error:
        return name, error


unaudited = []
if skipped:
    print(f"{len(skipped)} packages not found at PyPI's per-release API: reading the "
          "per-project advisories instead", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(project_advisories, skipped))
    for name, data in answers:
        version = pins.get(name, "?")
        if not isinstance(data, dict):
            unaudited.append(f"{name} {version}: PyPI did not answer ({data})")
            continue
        latest = data["info"]["version"]
        if latest != version:
            unaudited.append(f"{name} {version}: advisories are published for {latest} only")
            continue
        for vuln in data.get("vulnerabilities") or []:
            if vuln.get("withdrawn") or vuln["id"] in ignored:
                continue
            found.append((name, version, vuln["id"], vuln.get("aliases") or [],
                          vuln.get("fixed_in") or []))

fixable = [entry for entry in found if entry[4]]
for name, version, vuln_id, aliases, fixes in found:
    where = f"{name} {version}: {vuln_id} ({', '.join(aliases) or 'no aliases'})"
    if fixes:
        print(f"VULNERABLE: {where} -> fixed in {', '.join(fixes)}")
    else:
        print(f"known, no fix yet: {where}")
for line in unaudited:
    print(f"not audited: {line}")

reported = len(report.get("dependencies", []))
audited = reported - len(unaudited)
if audited <= 0:
    print("no package could be audited", file=sys.stderr)
    sys.exit(1)
if fixable:
    print(f"{len(fixable)} known vulnerabilities have a fix: upgrade them in uv.lock "
          "(uv lock --upgrade-package NAME)", file=sys.stderr)
    sys.exit(1)
if status != 0 and not found:
    print(f"pip-audit failed (exit {status})", file=sys.stderr)
    sys.exit(1)
print(f"audit passed: {audited} of {reported} packages audited (pins whose markers exclude "
      "this Python are not), no known vulnerability with a fix")
PY
