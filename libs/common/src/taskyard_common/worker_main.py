"""What every `taskyard-<type>-worker` process (and `taskyard-callback-worker`) runs:
consume exactly one queue.

SIGTERM (what Kubernetes and `docker stop` send, so the path of every scale-down and
rollout) is Celery's warm shutdown: no new task is taken and the worker exits as soon as
the running ones end, each within its time limit (the pool kills a task
TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS after it), so the wait is bounded and a task is
neither cut short nor run twice. The chart's termination grace covers that wait.

SIGQUIT is Celery's cold shutdown: the running tasks get
TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS, then whatever is still unfinished goes back
to its queue (late acks). Not the SIGTERM path: Celery's soft shutdown blocks the worker's
event loop for the whole timeout, so it neither ends when the tasks end nor enforces their
time limits meanwhile.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

from celery import Celery

from taskyard_common.settings import Settings
from taskyard_common.task_runtime import Handler
from taskyard_common.topology import (
    CALLBACK_QUEUE_NAME,
    PRIORITIES,
    TaskType,
    kombu_queues,
    queue_name,
)
from taskyard_common.worker_app import build_worker_app

FIXED_ARGUMENTS = ("-Q", "--queues", "-n", "--hostname")


def _refuse_fixed(parser: argparse.ArgumentParser, celery_args: list[str], set_by: str) -> None:
    for fixed in FIXED_ARGUMENTS:
        if any(arg == fixed or arg.startswith(f"{fixed}=") for arg in celery_args):
            parser.error(f"{fixed} is set by {set_by}")


def _consumer_arguments(queue: str, hostname: str) -> list[str]:
    return [
        "worker",
        "--queues",
        queue,
        "--hostname",
        hostname,
        "--loglevel",
        os.environ.get("TASKYARD_LOG_LEVEL", "INFO").upper(),
        "--without-mingle",
        "--without-gossip",
        "--task-events",
    ]


def celery_worker_arguments(task_type: TaskType, argv: list[str]) -> tuple[str, list[str]]:
    """(queue, arguments of `celery worker`) for `taskyard-<type>-worker <argv>`.

    --priority picks the one queue; every other argument (--concurrency,
    --max-tasks-per-child, ...) goes on to Celery's own parser, which rejects what it
    does not know. The queue and hostname are the worker's, so they cannot be overridden.
    """
    parser = argparse.ArgumentParser(prog=f"taskyard-{task_type}-worker")
    parser.add_argument("--priority", choices=PRIORITIES, required=True)
    args, celery_args = parser.parse_known_args(argv)
    _refuse_fixed(parser, celery_args, f"taskyard-{task_type}-worker from --priority")
    queue = queue_name(task_type, args.priority)
    worker_args = _consumer_arguments(queue, f"{task_type}-{args.priority}@%h")
    return queue, worker_args + celery_args


def callback_worker_arguments(argv: list[str]) -> list[str]:
    """Arguments of `celery worker` for `taskyard-callback-worker <argv>`: the callbacks queue."""
    parser = argparse.ArgumentParser(prog="taskyard-callback-worker")
    _, celery_args = parser.parse_known_args(argv)
    _refuse_fixed(parser, celery_args, "taskyard-callback-worker")
    return _consumer_arguments(CALLBACK_QUEUE_NAME, "callback@%h") + celery_args


def _consume(app: Celery, queue: str, worker_args: list[str]) -> None:
    # The worker knows only its own queue, so its delayed-delivery bindings cover just that one.
    app.conf.task_queues = [q for q in kombu_queues() if q.name == queue]
    app.worker_main(worker_args)


def start_worker(
    task_type: TaskType,
    handler: Handler,
    *,
    on_start: Callable[[Settings], None] | None = None,
    argv: list[str] | None = None,
) -> None:
    """The whole of a worker service's entry point: its type and its handler."""
    queue, worker_args = celery_worker_arguments(task_type, sys.argv[1:] if argv is None else argv)
    _consume(build_worker_app(task_type, handler, on_start=on_start), queue, worker_args)


def start_callback_worker(app_module: str, argv: list[str] | None = None) -> None:
    """`taskyard-callback-worker`: the callbacks queue, consumed by the app in `app_module`."""
    worker_args = callback_worker_arguments(sys.argv[1:] if argv is None else argv)
    app = importlib.import_module(app_module).app
    _consume(app, CALLBACK_QUEUE_NAME, worker_args)
