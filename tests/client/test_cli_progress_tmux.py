"""`taskyard submit --wait` in a real terminal (a tmux pane): the progress bar redraws in place."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.polling import eventually
from support.servers import missing_server
from support.stack import Stack

from .conftest import TASKYARD, UNSERVED_QUEUE, cli_env

pytestmark = pytest.mark.integration

SALES = {"input": {"records": [{"region": "eu", "amount": 10}]}}
WAITING_BAR = re.compile(r"\[-{30}\]\s+0%\s+QUEUED\s+attempt 0/\d+\s+\d+\.\ds")
DONE_BAR = re.compile(r"\[#{30}\] 100%\s+SUCCESS\s+attempt 1/\d+\s+\d+\.\ds")


@dataclass
class Pane:
    """One tmux pane on a tmux server of this test's own (-L), so no other session is touched."""

    socket: str

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def type_line(self, line: str) -> None:
        self.tmux("send-keys", "-t", "cli", "-l", line)
        self.tmux("send-keys", "-t", "cli", "Enter")

    def screen(self) -> str:
        """The pane's text, scrollback included."""
        return self.tmux("capture-pane", "-p", "-S", "-", "-t", "cli")


@pytest.fixture
def pane(client_stack: Stack, tmp_path: Path) -> Iterator[Pane]:
    if shutil.which("tmux") is None:
        missing_server("tmux (apt-get install tmux)")
    opened = Pane(f"taskyard-client-{uuid.uuid4().hex[:8]}")
    subprocess.run(
        [
            "tmux",
            "-L",
            opened.socket,
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "30",
            "-s",
            "cli",
            "-c",
            str(tmp_path),
            "bash --norc --noprofile",
        ],
        env=cli_env(client_stack.base_url),
        check=True,
    )
    try:
        yield opened
    finally:
        subprocess.run(["tmux", "-L", opened.socket, "kill-server"], check=False)


def test_progress_bar_waits_in_place_then_ends_at_100_percent(
    pane: Pane, client_stack: Stack, tmp_path: Path
) -> None:
    (tmp_path / "sales.json").write_text(json.dumps(SALES))
    # data.low has no worker yet: the bar sits at QUEUED until the test starts one.
    pane.type_line(f"{TASKYARD} submit --type data --priority low --wait sales.json; echo EXIT=$?")

    waiting = eventually(lambda: _matching(pane.screen(), WAITING_BAR), timeout_seconds=30)
    task_line = waiting.splitlines()[waiting.splitlines().index(_line(waiting, WAITING_BAR)) - 1]
    assert task_line.split()[1:] == ["QUEUED", UNSERVED_QUEUE]

    client_stack.start_worker(UNSERVED_QUEUE)
    try:
        done = eventually(lambda: _matching(pane.screen(), re.compile("EXIT=0")), 60)
    finally:
        client_stack.stop_worker(UNSERVED_QUEUE)

    assert DONE_BAR.search(done), done
    # one line redrawn in place: no QUEUED bar left above the final one
    assert not WAITING_BAR.search(done), done
    assert "status: SUCCESS" in done


def _matching(screen: str, pattern: re.Pattern[str]) -> str:
    assert pattern.search(screen), screen
    return screen


def _line(screen: str, pattern: re.Pattern[str]) -> str:
    return next(line for line in screen.splitlines() if pattern.search(line))
