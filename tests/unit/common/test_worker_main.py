"""taskyard-<type>-worker's arguments: --priority picks the queue, the rest goes to Celery."""

from __future__ import annotations

import subprocess
import sys

import pytest
from celery import Celery
from celery.bin.base import CLIContext
from celery.bin.worker import worker as celery_worker_command

from taskyard_common.worker_main import callback_worker_arguments, celery_worker_arguments

FIXED = ["--loglevel", "INFO", "--without-mingle", "--without-gossip", "--task-events"]


def celery_parse(arguments: list[str]) -> dict:
    """What Celery's own `worker` command makes of the arguments (no worker is started)."""
    assert arguments[0] == "worker"
    context = CLIContext(app=Celery("parse-only"), no_color=True, workdir=None, quiet=True)
    return celery_worker_command.make_context("worker", arguments[1:], obj=context).params


@pytest.mark.parametrize(
    ("argv", "queue", "extra"),
    [
        (["--priority", "high"], "data.high", []),
        (["--priority", "low", "--concurrency", "4"], "data.low", ["--concurrency", "4"]),
        (
            ["--priority", "normal", "--max-tasks-per-child", "100", "--prefetch-multiplier=1"],
            "data.normal",
            ["--max-tasks-per-child", "100", "--prefetch-multiplier=1"],
        ),
        (["--concurrency=2", "--priority=high"], "data.high", ["--concurrency=2"]),
    ],
)
def test_arguments_table(monkeypatch, argv, queue, extra):
    monkeypatch.delenv("TASKYARD_LOG_LEVEL", raising=False)
    got_queue, arguments = celery_worker_arguments("data", argv)
    assert got_queue == queue
    priority = queue.split(".")[1]
    assert arguments == [
        "worker",
        "--queues",
        queue,
        "--hostname",
        f"data-{priority}@%h",
        *FIXED,
        *extra,
    ]
    params = celery_parse(arguments)
    assert params["queues"] == [queue]


def test_celery_reads_the_passed_through_options():
    _, arguments = celery_worker_arguments(
        "file", ["--priority", "high", "--concurrency", "3", "--max-memory-per-child", "200000"]
    )
    params = celery_parse(arguments)
    assert params["concurrency"] == 3
    assert params["max_memory_per_child"] == 200000


def test_celery_rejects_what_it_does_not_know():
    _, arguments = celery_worker_arguments("email", ["--priority", "low", "--no-such-option"])
    with pytest.raises(Exception, match="No such option"):
        celery_parse(arguments)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--priority", "urgent"],
        ["--priority", "high", "--queues", "email.low"],
        ["--priority", "high", "-Q", "email.low"],
        ["--priority", "high", "--hostname=other@%h"],
    ],
)
def test_refused(argv):
    with pytest.raises(SystemExit):
        celery_worker_arguments("email", argv)


def test_the_callback_worker_consumes_the_callbacks_queue() -> None:
    arguments = callback_worker_arguments(["--concurrency", "4"])
    assert arguments[:5] == ["worker", "--queues", "callbacks", "--hostname", "callback@%h"]
    params = celery_parse(arguments)
    assert params["queues"] == ["callbacks"]
    assert params["concurrency"] == 4


@pytest.mark.parametrize("argv", [["-Q", "data.high"], ["--hostname=x@y"]])
def test_the_callback_worker_keeps_its_queue_and_name(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        callback_worker_arguments(argv)


@pytest.mark.parametrize("worker", ["data", "email", "file", "callback"])
def test_python_dash_m_runs_the_worker_command(worker: str) -> None:
    """`python -m taskyard_<type>_worker` is the command, not a silent import."""
    shown = subprocess.run(
        [sys.executable, "-m", f"taskyard_{worker}_worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"usage: taskyard-{worker}-worker" in shown.stdout
