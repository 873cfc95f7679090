"""The Celery application of a `taskyard-<type>-worker`: one task type, one handler."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from taskyard_common import worker_heartbeat, worker_monitoring
from taskyard_common.attempt_observers import AttemptObserver
from taskyard_common.celery_app import create_celery_app
from taskyard_common.logs import configure_logging, quiet_celery_per_task_lines
from taskyard_common.settings import Settings, get_settings
from taskyard_common.task_runtime import Handler, WorkerRuntime, register_task
from taskyard_common.topology import TaskType


def build_worker_app(
    task_type: TaskType,
    handler: Handler,
    *,
    observers: list[AttemptObserver] | None = None,
    on_start: Callable[[Settings], None] | None = None,
) -> Celery:
    """`observers` replace the default ones (logs, metrics) when given; `on_start` runs
    once logging is set up, for a worker's own startup checks."""
    settings = get_settings()
    configure_logging(settings)
    quiet_celery_per_task_lines(settings)
    if on_start is not None:
        on_start(settings)
    app = create_celery_app(f"taskyard-{task_type}-worker", settings)
    worker_monitoring.install(settings)
    worker_heartbeat.install(app, settings)
    register_task(app, task_type, handler, WorkerRuntime(settings, observers))
    return app
