"""The audit's decision (scripts/audit_report.py): which findings fail `make audit`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.audit_report import (
    Finding,
    decide,
    main,
    parse_pins,
    project_findings,
    report_findings,
)

FIXABLE = Finding("jinja2", "3.1.4", "GHSA-aaaa", ("CVE-1",), ("3.1.5",))
NO_FIX = Finding("ecdsa", "0.19.0", "GHSA-bbbb")


@pytest.mark.parametrize(
    ("found", "unaudited", "reported", "status", "exit_code", "err"),
    [
        ([], [], 10, 0, 0, []),
        ([NO_FIX], [], 10, 1, 0, []),  # pip-audit's 1 is the finding: nothing to upgrade to
        ([FIXABLE], [], 10, 1, 1, ["1 known vulnerabilities have a fix"]),
        ([FIXABLE, NO_FIX], [], 10, 1, 1, ["1 known vulnerabilities have a fix"]),
        ([], [], 10, 1, 1, ["pip-audit failed (exit 1)"]),  # its own error, no finding
        ([], ["a 1: x", "b 2: y"], 2, 0, 1, ["no package could be audited"]),
        ([], ["a 1: x"], 2, 0, 0, []),  # one of two audited is enough to pass
        ([FIXABLE], ["a 1: x"], 1, 1, 1, ["no package could be audited"]),
    ],
)
def test_which_findings_fail_the_audit(
    found: list[Finding],
    unaudited: list[str],
    reported: int,
    status: int,
    exit_code: int,
    err: list[str],
) -> None:
    verdict = decide(found, unaudited, reported, status)
    assert verdict.exit_code == exit_code
    assert [line.split(":")[0] for line in verdict.err] == [e.split(":")[0] for e in err]
    assert verdict.out[: len(found)] == [finding.line() for finding in found]
    passed = [line for line in verdict.out if line.startswith("audit passed")]
    assert bool(passed) == (exit_code == 0)


def test_finding_lines() -> None:
    assert FIXABLE.line() == "VULNERABLE: jinja2 3.1.4: GHSA-aaaa (CVE-1) -> fixed in 3.1.5"
    assert NO_FIX.line() == "known, no fix yet: ecdsa 0.19.0: GHSA-bbbb (no aliases)"


def test_parse_pins_reads_name_and_version_under_any_spelling() -> None:
    requirements = (
        "Jinja2==3.1.4 \\\n    --hash=sha256:abc\n"
        "zope.interface==7.0 ; python_version >= '3.12'\n"
        "# a comment\n    --hash=sha256:def\n"
    )
    assert parse_pins(requirements) == {"jinja2": "3.1.4", "zope-interface": "7.0"}


def test_report_findings_splits_findings_from_skipped_packages() -> None:
    report = {
        "dependencies": [
            {
                "name": "Jinja2",
                "version": "3.1.4",
                "vulns": [{"id": "GHSA-aaaa", "aliases": ["CVE-1"], "fix_versions": ["3.1.5"]}],
            },
            {"name": "ecdsa", "version": "0.19.0", "vulns": [{"id": "GHSA-bbbb"}]},
            {"name": "Zope.Interface", "skip_reason": "not found on PyPI"},
        ]
    }
    found, skipped = report_findings(report)
    assert found == [
        Finding("Jinja2", "3.1.4", "GHSA-aaaa", ("CVE-1",), ("3.1.5",)),
        Finding("ecdsa", "0.19.0", "GHSA-bbbb"),
    ]
    assert skipped == ["zope-interface"]


PROJECT = {
    "info": {"version": "2.0"},
    "vulnerabilities": [
        {"id": "PYSEC-1", "aliases": None, "fixed_in": ["2.1"]},
        {"id": "PYSEC-2", "withdrawn": "2026-01-01"},
        {"id": "PYSEC-3", "fixed_in": []},
    ],
}


@pytest.mark.parametrize(
    ("version", "project", "ignored", "ids", "reason"),
    [
        ("2.0", PROJECT, set(), ["PYSEC-1", "PYSEC-3"], None),  # withdrawn ones never count
        ("2.0", PROJECT, {"PYSEC-1"}, ["PYSEC-3"], None),  # TASKYARD_AUDIT_IGNORE
        ("1.9", PROJECT, set(), [], "pkg 1.9: advisories are published for 2.0 only"),
        ("2.0", OSError("timed out"), set(), [], "pkg 2.0: PyPI did not answer (timed out)"),
    ],
)
def test_project_findings_for_a_skipped_package(
    version: str,
    project: dict[str, object] | Exception,
    ignored: set[str],
    ids: list[str],
    reason: str | None,
) -> None:
    found, why = project_findings("pkg", version, project, ignored)  # type: ignore[arg-type]
    assert [finding.id for finding in found] == ids
    assert why == reason


def test_main_fails_on_a_fixable_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = {
        "dependencies": [
            {
                "name": "jinja2",
                "version": "3.1.4",
                "vulns": [{"id": "GHSA-aaaa", "aliases": [], "fix_versions": ["3.1.5"]}],
            },
            {"name": "redis", "version": "5.0", "vulns": []},
        ]
    }
    (tmp_path / "audit.json").write_text(json.dumps(report))
    (tmp_path / "requirements.txt").write_text("jinja2==3.1.4\nredis==5.0\n")
    code = main([str(tmp_path / "audit.json"), "1", str(tmp_path / "requirements.txt")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "VULNERABLE: jinja2 3.1.4: GHSA-aaaa" in out
    assert "have a fix" in err


def test_main_without_a_report_shows_pip_audit_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pip-audit.log").write_text("ERROR: network unreachable")
    code = main([str(tmp_path / "audit.json"), "1", str(tmp_path / "requirements.txt")])
    assert code == 1
    assert "network unreachable" in capsys.readouterr().err
