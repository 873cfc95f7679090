"""The heartbeat bootstep, the deferred soft limit and the record of a hard-killed attempt,
without servers."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from billiard.pool import SIG_SOFT_TIMEOUT
from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from taskyard_common import metrics, task_runtime, worker_heartbeat
from taskyard_common.attempt import Attempt
from taskyard_common.attempt_observers import AttemptObserver, default_observers
from taskyard_common.records import TaskStatus
from taskyard_common.settings import Settings
from taskyard_common.status_store import TransitionOutcome
from taskyard_common.topology import kombu_queues


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class _Timer:
    def __init__(self) -> None:
        self.calls: list[tuple[float, Any, tuple[Any, ...]]] = []
        self.cancelled = False

    def call_repeatedly(self, interval: float, fun: Any, args: tuple[Any, ...] = ()) -> Any:
        self.calls.append((interval, fun, args))
        return SimpleNamespace(cancel=lambda: setattr(self, "cancelled", True))


def _step(app: Celery) -> type[worker_heartbeat.Heartbeat]:
    (step,) = [s for s in app.steps["consumer"] if issubclass(s, worker_heartbeat.Heartbeat)]
    return step


def test_no_path_no_heartbeat() -> None:
    app = Celery("t", set_as_current=False)
    worker_heartbeat.install(app, _settings())
    assert not any(issubclass(s, worker_heartbeat.Heartbeat) for s in app.steps["consumer"])


def test_the_consumer_timer_touches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "worker" / "heartbeat"
    app = Celery("t", set_as_current=False)
    worker_heartbeat.install(
        app,
        _settings(worker_heartbeat_path=str(path), worker_heartbeat_interval_seconds=2.5),
    )
    step_class = _step(app)
    assert step_class.requires == ("celery.worker.consumer.tasks:Tasks",)
    timer = _Timer()
    consumer = SimpleNamespace(timer=timer)
    step = step_class(consumer)
    assert not path.exists()
    step.start(consumer)
    assert path.exists(), "the first beat comes at once"
    ((interval, fun, args),) = timer.calls
    assert interval == 2.5
    os.utime(path, (0, 0))
    fun(*args)
    assert path.stat().st_mtime > 0
    step.stop(consumer)
    assert timer.cancelled


def test_an_old_heartbeat_is_removed_when_the_worker_starts(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    path.touch()
    app = Celery("t", set_as_current=False)
    worker_heartbeat.install(app, _settings(worker_heartbeat_path=str(path)))
    _step(app)(SimpleNamespace(timer=_Timer()))
    assert not path.exists()


def test_a_soft_limit_inside_a_deferred_block_takes_effect_as_it_ends() -> None:
    def soft_limit(*_: Any) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(SIG_SOFT_TIMEOUT, soft_limit)
    finished_block = False
    try:
        with pytest.raises(SoftTimeLimitExceeded), task_runtime.soft_time_limit_deferred():
            os.kill(os.getpid(), SIG_SOFT_TIMEOUT)
            finished_block = True
    finally:
        signal.signal(SIG_SOFT_TIMEOUT, previous)
    assert finished_block


class _Store:
    def __init__(self) -> None:
        self.failed: list[tuple[str, dict[str, Any]]] = []

    def fail(self, task_id: str, error: dict[str, Any]) -> Any:
        first = task_id not in [failed_id for failed_id, _ in self.failed]
        self.failed.append((task_id, error))
        return TransitionOutcome(first, TaskStatus.PROCESSING if first else TaskStatus.FAILED)

    def get(self, task_id: str) -> Any:
        return SimpleNamespace(id=task_id, status=TaskStatus.FAILED)


def _failure_count() -> float:
    return metrics.TASK_FAILURES.labels("data", "high")._value.get()  # type: ignore[attr-defined, no-any-return]


class _Discards(AttemptObserver):
    def __init__(self) -> None:
        self.statuses: list[TaskStatus | None] = []

    def after_discard(self, attempt: Attempt, status: TaskStatus | None) -> None:
        self.statuses.append(status)


class _OtherTask:
    name = "taskyard.email.send"


def test_a_hard_killed_attempt_is_recorded_failed_by_the_main_process() -> None:
    app = Celery("t", set_as_current=False)
    app.conf.task_queues = [q for q in kombu_queues() if q.name == "data.high"]
    discards = _Discards()
    runtime = task_runtime.WorkerRuntime(_settings(), [*default_observers(), discards])
    store = _Store()
    runtime.__dict__["store"] = store
    task = task_runtime.register_task(app, "data", lambda payload, context: {}, runtime)

    signals.task_failure.send(sender=task, task_id="t-1", exception=TimeLimitExceeded(12.0))
    failures_before = _failure_count()
    # Celery sends it twice for one hard limit: counted once.
    signals.task_failure.send(sender=task, task_id="t-1", exception=TimeLimitExceeded(12.0))
    assert _failure_count() == failures_before
    signals.task_failure.send(sender=task, task_id="t-2", exception=ValueError("not a limit"))
    other = _OtherTask()
    signals.task_failure.send(sender=other, task_id="t-3", exception=TimeLimitExceeded(70.0))

    killed = {
        "type": "TimeLimitExceeded",
        "message": "killed after 12 s: it did not stop at its time limit",
        "retryable": False,
    }
    assert store.failed == [("t-1", killed), ("t-1", killed)]
    # The refused second FAILED is no task_result_discarded.
    assert discards.statuses == []


def test_tasks_carry_the_types_limits_for_messages_without_their_own() -> None:
    app = Celery("t", set_as_current=False)
    runtime = task_runtime.WorkerRuntime(_settings(email_time_limit_seconds=45))
    task = task_runtime.register_task(app, "email", lambda payload, context: {}, runtime)
    assert (task.soft_time_limit, task.time_limit) == (45, 55)
