"""One attempt's transitions of the task record, each told to the observers.

RECEIVED and PROCESSING (`begin`), then one of SUCCESS, RETRYING or FAILED. Each is one
guarded status-store call: a transition the record refuses (it was cancelled meanwhile, or
another delivery of the message finished it) is reported as a skip or a discard, never
written. Whoever must hear of a task becoming final (completion callbacks) listens to the
status store, which also sees the API's cancel.
"""

from __future__ import annotations

import time
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from typing import Any

from structlog.typing import FilteringBoundLogger

from taskyard_common.attempt_observers import Observers
from taskyard_common.clock import iso, utc_now
from taskyard_common.logs import get_logger
from taskyard_common.records import TaskStatus
from taskyard_common.settings import ANONYMOUS
from taskyard_common.status_store import StatusStore, TransitionOutcome

logger = get_logger("taskyard.task")


# eq=False: an attempt is itself, compared and hashed by identity.
@dataclass(eq=False)
class Attempt:
    store: StatusStore
    observers: Observers
    task_id: str
    task_type: str
    priority: str
    _: KW_ONLY
    number: int | None = None
    max_retries: int | None = None
    log: FilteringBoundLogger = field(init=False, repr=False)
    # Whose files the handler may use: the record says, once the attempt has begun.
    owner: str = field(default=ANONYMOUS, init=False)
    _started: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        fields: dict[str, Any] = {
            "task_id": self.task_id,
            "type": self.task_type,
            "priority": self.priority,
        }
        if self.number is not None:
            fields["attempt"] = self.number
        self.log = logger.bind(**fields)

    def begin(self, worker: str) -> TaskStatus | None:
        """RECEIVED then PROCESSING. Returns the final status that refused the attempt, if
        the record already had one; None when the handler may run."""
        began = self.store.begin_attempt(self.task_id, worker=worker)
        self.owner = began.owner or ANONYMOUS
        if not began.applied and not began.missing:
            refused_by = began.previous_status
            assert refused_by is not None
            for observer in self.observers.all:
                observer.after_skip(self, refused_by)
            return refused_by
        if began.missing:
            self.log.warning("task_record_missing")
        for observer in self.observers.all:
            observer.before_attempt(self)
        self._started = time.monotonic()
        return None

    def succeed(self, result: dict[str, Any]) -> None:
        finished = self.store.succeed(self.task_id, result)
        if not finished.applied:
            self._discarded(finished)
            return
        duration = time.monotonic() - self._started
        for observer in self.observers.all:
            observer.after_success(self, duration, finished.due_at)

    def retry(self, error: dict[str, Any], delay: int) -> None:
        next_retry_at = iso(utc_now() + timedelta(seconds=delay))
        # A record cancelled meanwhile refuses RETRYING; the retry message is still sent
        # and dropped when it arrives, as the record is final by then.
        self.store.schedule_retry(self.task_id, error, next_retry_at)
        for observer in self.observers.all:
            observer.after_retry(self, error, delay, next_retry_at)

    def fail(self, error: dict[str, Any], *, reported_twice: bool = False) -> bool:
        """FAILED; False when the record refused it (already final, or gone).

        reported_twice: the failure may arrive twice (Celery's hard time limit); a record
        already FAILED is then the first report's doing, not a discarded result.
        """
        failed = self.store.fail(self.task_id, error)
        if not failed.applied:
            if not (reported_twice and failed.previous_status is TaskStatus.FAILED):
                self._discarded(failed)
            return False
        for observer in self.observers.all:
            observer.after_failure(self, error, failed.due_at)
        return True

    def _discarded(self, outcome: TransitionOutcome) -> None:
        for observer in self.observers.all:
            observer.after_discard(self, outcome.previous_status)
