"""Fixtures shared by every suite: one test stack per session, started only when asked for."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.s3 import S3Server, aws_credentials, running_s3_server
from support.stack import Stack, running_stack

TESTS = Path(__file__).parent
# Suites whose every test needs real servers: marked here, by folder, once.
SERVER_SUITES = frozenset({"integration", "e2e", "faults", "fuzz"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(TESTS).parts[0] in SERVER_SUITES:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """TASKYARD_TEST_STORAGE=s3 keeps the stack's files in a moto bucket instead of a folder."""
    extra_env: dict[str, str] = {}
    if os.environ.get("TASKYARD_TEST_STORAGE", "folder") == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        extra_env = s3.storage_env(s3.new_bucket())
    with running_stack("stack", extra_env) as started:
        yield started


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server, one per session; AWS credentials for it in this process's env."""
    with running_s3_server(tmp_path_factory.mktemp("moto")) as server, aws_credentials(server):
        yield server


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
