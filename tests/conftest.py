"""Fixtures shared by every suite: one test stack per session, started only when asked for."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.stack import Stack, cleanup_workdir, start_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="taskyard-stack-"))
    started = start_stack(workdir)
    yield started
    started.stop()
    cleanup_workdir(workdir)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    running: Stack | None = getattr(item.session, "_taskyard_stack", None)
    if report.failed and running is not None:
        report.sections.append(("taskyard stack logs", running.dump_logs()))


@pytest.fixture(autouse=True)
def _attach_stack_logs(request: pytest.FixtureRequest) -> None:
    if "stack" in request.fixturenames:
        request.session._taskyard_stack = request.getfixturevalue("stack")  # type: ignore[attr-defined]
