"""The client suites' own stack: an API key, a tight rate limit, and data.low without a worker.

Its own rather than the session's: `retry --all-failed` and `list --all` act on every task
the stack holds, and a queue nobody consumes keeps a task QUEUED for as long as a test needs
(cancel it, watch the progress bar wait), until the test starts that worker. The rate limit
is low enough that a burst of requests meets real 429 answers, which the client waits out.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.stack import BIN, Stack, running_stack
from taskyard_client import Client

API_KEY = "client-suite-key"
SERVED_QUEUES = ["data.normal", "data.high", "file.normal"]
# Nothing consumes it until a test calls stack.start_worker(UNSERVED_QUEUE).
UNSERVED_QUEUE = "data.low"
RATE_LIMIT_PER_SECOND = 5
TASKYARD = BIN / "taskyard"


@pytest.fixture(scope="package")
def client_stack() -> Iterator[Stack]:
    env = {"TASKYARD_API_KEYS": API_KEY, "TASKYARD_RATE_LIMIT": f"{RATE_LIMIT_PER_SECOND}/second"}
    with running_stack("client", env, queues=SERVED_QUEUES) as started:
        yield started


@pytest.fixture
def client(client_stack: Stack) -> Iterator[Client]:
    with Client(client_stack.base_url, API_KEY) as opened:
        yield opened


@dataclass
class Cli:
    """Runs the installed `taskyard` console script with TASKYARD_URL and TASKYARD_API_KEY set."""

    env: dict[str, str]
    cwd: Path

    def __call__(
        self, *args: str, input_text: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TASKYARD), *args],
            input=input_text,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=timeout,
            check=False,
        )


def cli_env(base_url: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TASKYARD_")}
    return {
        **inherited,
        "PATH": f"{BIN}:{inherited.get('PATH', '')}",
        "TASKYARD_URL": base_url,
        "TASKYARD_API_KEY": API_KEY,
    }


@pytest.fixture
def cli(client_stack: Stack, tmp_path: Path) -> Cli:
    return Cli(cli_env(client_stack.base_url), tmp_path)
