"""Fixtures shared by every suite: one test stack per session, started only when asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.stack import Stack, running_stack

TESTS = Path(__file__).parent
# Suites whose every test needs real servers: marked here, by folder, once.
SERVER_SUITES = frozenset({"integration", "e2e", "faults", "fuzz"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(TESTS).parts[0] in SERVER_SUITES:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with running_stack("stack") as started:
        yield started


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test carries the logs of every stack it used (the session's or its own)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        if isinstance(value, Stack):
            report.sections.append((f"taskyard stack logs ({name})", value.dump_logs()))
