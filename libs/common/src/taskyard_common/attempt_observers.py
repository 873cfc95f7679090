"""Who watches an attempt: one hook interface (dramatiq's middleware idea), so the lifecycle
itself holds no metric or log call. Logs and metrics are the two observers every worker has;
a worker may add its own (build_worker_app's `observers`).

An observer's hooks run in the process that makes the transition (a pool process, or the
worker's main process for an attempt killed at its hard time limit) and must not raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from taskyard_common import metrics, worker_monitoring
from taskyard_common.records import TaskStatus

if TYPE_CHECKING:
    from taskyard_common.attempt import Attempt


class AttemptObserver:
    """Every hook does nothing unless overridden."""

    def before_attempt(self, attempt: Attempt) -> None:
        """RECEIVED and PROCESSING are recorded; the handler is about to run."""

    def after_skip(self, attempt: Attempt, status: TaskStatus) -> None:
        """The record was already final (`status`, e.g. CANCELLED): the handler did not run."""

    def after_success(self, attempt: Attempt, duration: float, due_at: str | None) -> None:
        """SUCCESS is recorded. `due_at`: when the task was due (created_at or run_at)."""

    def after_retry(
        self, attempt: Attempt, error: dict[str, Any], delay: int, next_retry_at: str
    ) -> None:
        """RETRYING is recorded; the retry message is about to be published."""

    def after_failure(self, attempt: Attempt, error: dict[str, Any], due_at: str | None) -> None:
        """FAILED is recorded."""

    def after_discard(self, attempt: Attempt, status: TaskStatus | None) -> None:
        """The attempt ended but the record had moved on (to `status`, e.g. CANCELLED, or
        None: no record), so its outcome was not written."""


class LogObserver(AttemptObserver):
    """One structured line per event, on the attempt's logger (task id, type, priority,
    attempt)."""

    def before_attempt(self, attempt: Attempt) -> None:
        attempt.log.info("task_started")

    def after_skip(self, attempt: Attempt, status: TaskStatus) -> None:
        attempt.log.info("task_skipped", status=status)

    def after_success(self, attempt: Attempt, duration: float, due_at: str | None) -> None:
        attempt.log.info("task_succeeded", duration_seconds=round(duration, 4))

    def after_retry(
        self, attempt: Attempt, error: dict[str, Any], delay: int, next_retry_at: str
    ) -> None:
        attempt.log.warning(
            "task_retry_scheduled",
            error_type=error["type"],
            error=error["message"],
            delay_seconds=delay,
            next_retry_at=next_retry_at,
            max_retries=attempt.max_retries,
        )

    def after_failure(self, attempt: Attempt, error: dict[str, Any], due_at: str | None) -> None:
        attempt.log.error(
            "task_failed",
            error_type=error["type"],
            error=error["message"],
            retryable=error["retryable"],
        )

    def after_discard(self, attempt: Attempt, status: TaskStatus | None) -> None:
        attempt.log.info("task_result_discarded", status=status)


class MetricsObserver(AttemptObserver):
    """The worker's Prometheus metrics (taskyard_common.metrics)."""

    def after_success(self, attempt: Attempt, duration: float, due_at: str | None) -> None:
        metrics.TASK_RUNTIME.labels(attempt.task_type, attempt.priority).observe(duration)
        worker_monitoring.observe_end_to_end(due_at, attempt.task_type, attempt.priority, "SUCCESS")

    def after_retry(
        self, attempt: Attempt, error: dict[str, Any], delay: int, next_retry_at: str
    ) -> None:
        metrics.TASK_RETRIES.labels(attempt.task_type, attempt.priority).inc()

    def after_failure(self, attempt: Attempt, error: dict[str, Any], due_at: str | None) -> None:
        metrics.TASK_FAILURES.labels(attempt.task_type, attempt.priority).inc()
        worker_monitoring.observe_end_to_end(due_at, attempt.task_type, attempt.priority, "FAILED")


def default_observers() -> list[AttemptObserver]:
    return [LogObserver(), MetricsObserver()]


class Observers:
    """The observers of a worker's task, called in order."""

    def __init__(self, observers: Iterable[AttemptObserver]) -> None:
        self.all = tuple(observers)
