"""List the docs' shell blocks that no test runs, with the reason each gives."""

from __future__ import annotations

import pytest

from support.doc_examples import SKIP_REASONS, doc_files, parse_blocks


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        block
        for path in doc_files()
        for block in parse_blocks(path, path.read_text(encoding="utf-8"))
        if block.skip_reason in SKIP_REASONS
    ]
    if not skipped:
        return
    terminalreporter.section("docs examples no test runs")
    for block in skipped:
        reason = block.skip_reason or ""
        terminalreporter.line(f"{block.where}: {reason} ({SKIP_REASONS[reason]})")
