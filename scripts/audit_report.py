"""The audit's verdict (scripts/audit.sh): pip-audit's JSON report in, the findings and
the exit status out.

    python scripts/audit_report.py AUDIT_JSON PIP_AUDIT_STATUS REQUIREMENTS_TXT

A vulnerability with a fixed release fails the audit (there is something to upgrade
to); one with no fix yet is listed and passes. pip-audit exits 1 both for "found
something" and for its own errors: the report tells which. It looks each pinned
version up at PyPI's per-release JSON API; where that answers "not found" (some mirrors
and proxies serve only the per-project JSON), the same advisories are read from the
per-project JSON, which carries them for the project's latest release only.
TASKYARD_AUDIT_IGNORE="GHSA-xxxx,PYSEC-yyyy" accepts known findings.
"""

from __future__ import annotations

import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

PYPI_PROJECT_URL = "https://pypi.org/pypi/{name}/json"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


@dataclass(frozen=True)
class Finding:
    name: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()

    def line(self) -> str:
        where = f"{self.name} {self.version}: {self.id} ({', '.join(self.aliases) or 'no aliases'})"
        if self.fixes:
            return f"VULNERABLE: {where} -> fixed in {', '.join(self.fixes)}"
        return f"known, no fix yet: {where}"


@dataclass
class Verdict:
    exit_code: int
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def ignored_ids(value: str) -> set[str]:
    return {i.strip() for i in value.split(",") if i.strip()}


def parse_pins(requirements: str) -> dict[str, str]:
    """{canonical name: version} of every `name==version` line of a requirements file."""
    pins = {}
    for line in requirements.splitlines():
        if match := PIN.match(line):
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def report_findings(report: dict[str, Any]) -> tuple[list[Finding], list[str]]:
    """pip-audit's findings, and the packages it skipped (not found per release)."""
    found: list[Finding] = []
    skipped: list[str] = []
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            skipped.append(canonical(dependency["name"]))
            continue
        for vuln in dependency.get("vulns", []):
            found.append(
                Finding(
                    dependency["name"],
                    dependency["version"],
                    vuln["id"],
                    tuple(vuln.get("aliases", [])),
                    tuple(vuln.get("fix_versions", [])),
                )
            )
    return found, skipped


def project_findings(
    name: str, version: str, project: dict[str, Any] | Exception, ignored: set[str]
) -> tuple[list[Finding], str | None]:
    """A skipped package's findings from PyPI's per-project JSON, or why it stays unaudited."""
    if not isinstance(project, dict):
        return [], f"{name} {version}: PyPI did not answer ({project})"
    latest = project["info"]["version"]
    if latest != version:
        return [], f"{name} {version}: advisories are published for {latest} only"
    return [
        Finding(
            name,
            version,
            vuln["id"],
            tuple(vuln.get("aliases") or []),
            tuple(vuln.get("fixed_in") or []),
        )
        for vuln in project.get("vulnerabilities") or []
        if not vuln.get("withdrawn") and vuln["id"] not in ignored
    ], None


def decide(
    found: list[Finding], unaudited: list[str], reported: int, pip_audit_status: int
) -> Verdict:
    """Fail on a fixable vulnerability, on nothing audited, or on pip-audit's own error."""
    verdict = Verdict(0, [finding.line() for finding in found])
    verdict.out += [f"not audited: {line}" for line in unaudited]
    audited = reported - len(unaudited)
    fixable = [finding for finding in found if finding.fixes]
    if audited <= 0:
        verdict.err.append("no package could be audited")
        verdict.exit_code = 1
    elif fixable:
        verdict.err.append(
            f"{len(fixable)} known vulnerabilities have a fix: upgrade them in uv.lock "
            "(uv lock --upgrade-package NAME)"
        )
        verdict.exit_code = 1
    elif pip_audit_status != 0 and not found:
        verdict.err.append(f"pip-audit failed (exit {pip_audit_status})")
        verdict.exit_code = 1
    else:
        verdict.out.append(
            f"audit passed: {audited} of {reported} packages audited (pins whose markers "
            "exclude this Python are not), no known vulnerability with a fix"
        )
    return verdict


def fetch_project(name: str) -> tuple[str, dict[str, Any] | Exception]:
    try:
        response = requests.get(PYPI_PROJECT_URL.format(name=name), timeout=20)
        response.raise_for_status()
        return name, response.json()
    except (requests.RequestException, ValueError) as error:
        return name, error


def main(argv: list[str]) -> int:
    report_path, status, requirements_path = Path(argv[0]), int(argv[1]), Path(argv[2])
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print(f"pip-audit failed (exit {status}) without a report:", file=sys.stderr)
        log = report_path.with_name("pip-audit.log")
        print(log.read_text(encoding="utf-8")[-4000:], file=sys.stderr)
        return 1
    pins = parse_pins(requirements_path.read_text(encoding="utf-8"))
    ignored = ignored_ids(os.environ.get("TASKYARD_AUDIT_IGNORE", ""))
    found, skipped = report_findings(report)
    unaudited: list[str] = []
    if skipped:
        print(
            f"{len(skipped)} packages not found at PyPI's per-release API: reading the "
            "per-project advisories instead",
            file=sys.stderr,
        )
        with ThreadPoolExecutor(max_workers=8) as pool:
            for name, project in pool.map(fetch_project, skipped):
                more, reason = project_findings(name, pins.get(name, "?"), project, ignored)
                found += more
                unaudited += [reason] if reason else []
    verdict = decide(found, unaudited, len(report.get("dependencies", [])), status)
    for line in verdict.out:
        print(line)
    for line in verdict.err:
        print(line, file=sys.stderr)
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
