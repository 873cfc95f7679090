"""An attempt's transitions and what its observers hear, over a store that answers as told."""

from __future__ import annotations

from typing import Any

import pytest

from taskyard_common.attempt import Attempt
from taskyard_common.attempt_observers import AttemptObserver, Observers
from taskyard_common.records import TaskRecord, TaskStatus
from taskyard_common.status_store import TransitionOutcome

APPLIED = TransitionOutcome(True, TaskStatus.PROCESSING, "2026-01-01T00:00:00.000Z")
ERROR = {"type": "TransientError", "message": "later", "retryable": True}


class _Store:
    """Answers each transition with the next outcome given, and records the calls."""

    def __init__(self, *outcomes: TransitionOutcome) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[str] = []

    def _next(self, name: str) -> TransitionOutcome:
        self.calls.append(name)
        return self.outcomes.pop(0)

    def begin_attempt(self, task_id: str, worker: str) -> TransitionOutcome:
        return self._next("begin")

    def succeed(self, task_id: str, result: dict[str, Any]) -> TransitionOutcome:
        return self._next("succeed")

    def schedule_retry(self, task_id: str, error: Any, next_retry_at: str) -> TransitionOutcome:
        return self._next("retry")

    def fail(self, task_id: str, error: Any) -> TransitionOutcome:
        return self._next("fail")

    def get(self, task_id: str) -> TaskRecord:
        self.calls.append("get")
        return TaskRecord.model_validate(
            {
                "id": task_id,
                "type": "data",
                "priority": "high",
                "queue": "data.high",
                "status": "SUCCESS",
                "max_retries": 3,
                "created_at": "2026-01-01T00:00:00.000Z",
            }
        )


class _Recorder(AttemptObserver):
    def __init__(self) -> None:
        self.heard: list[tuple[str, Any]] = []

    def before_attempt(self, attempt: Attempt) -> None:
        self.heard.append(("before_attempt", attempt.number))

    def after_skip(self, attempt: Attempt, status: TaskStatus) -> None:
        self.heard.append(("after_skip", status))

    def after_success(self, attempt: Attempt, duration: float, due_at: str | None) -> None:
        self.heard.append(("after_success", due_at))

    def after_retry(self, attempt: Attempt, error: Any, delay: int, next_retry_at: str) -> None:
        self.heard.append(("after_retry", delay))

    def after_failure(self, attempt: Attempt, error: Any, due_at: str | None) -> None:
        self.heard.append(("after_failure", error["type"]))

    def after_discard(self, attempt: Attempt, status: TaskStatus | None) -> None:
        self.heard.append(("after_discard", status))


def _attempt(store: _Store, *observers: AttemptObserver) -> Attempt:
    return Attempt(
        store,  # type: ignore[arg-type]
        Observers(observers),
        "t-1",
        "data",
        "high",
        number=2,
        max_retries=3,
    )


def test_a_success_is_heard_in_order() -> None:
    store = _Store(APPLIED, APPLIED)
    recorder = _Recorder()
    attempt = _attempt(store, recorder)
    assert attempt.begin("w") is None
    attempt.succeed({"ok": True})
    assert recorder.heard == [
        ("before_attempt", 2),
        ("after_success", APPLIED.due_at),
    ]
    assert store.calls == ["begin", "succeed"]


def test_a_record_already_final_is_skipped() -> None:
    store = _Store(TransitionOutcome(False, TaskStatus.CANCELLED))
    recorder = _Recorder()
    assert _attempt(store, recorder).begin("w") is TaskStatus.CANCELLED
    assert recorder.heard == [("after_skip", TaskStatus.CANCELLED)]


def test_a_missing_record_still_runs() -> None:
    recorder = _Recorder()
    assert _attempt(_Store(TransitionOutcome(False, None)), recorder).begin("w") is None
    assert recorder.heard == [("before_attempt", 2)]


def test_a_retry_is_not_final() -> None:
    recorder = _Recorder()
    attempt = _attempt(_Store(APPLIED, APPLIED), recorder)
    attempt.begin("w")
    attempt.retry(ERROR, 4)
    assert recorder.heard == [("before_attempt", 2), ("after_retry", 4)]


def test_a_failure_is_heard_once_and_a_refused_one_is_a_discard() -> None:
    store = _Store(APPLIED, APPLIED, TransitionOutcome(False, TaskStatus.FAILED))
    recorder = _Recorder()
    attempt = _attempt(store, recorder)
    attempt.begin("w")
    assert attempt.fail(ERROR)
    # A refused FAILED from a caller that expects one report is a discard.
    assert not attempt.fail(ERROR)
    assert recorder.heard == [
        ("before_attempt", 2),
        ("after_failure", "TransientError"),
        ("after_discard", TaskStatus.FAILED),
    ]


def test_a_result_for_a_record_cancelled_meanwhile_is_discarded_not_final() -> None:
    store = _Store(APPLIED, TransitionOutcome(False, TaskStatus.CANCELLED))
    recorder = _Recorder()
    attempt = _attempt(store, recorder)
    attempt.begin("w")
    attempt.succeed({})
    assert recorder.heard == [("before_attempt", 2), ("after_discard", TaskStatus.CANCELLED)]
    assert store.calls == ["begin", "succeed"]


@pytest.mark.parametrize(
    ("refused_by", "heard_after_failure"),
    [
        # Its own first report made the record FAILED: nothing was discarded.
        (TaskStatus.FAILED, []),
        (TaskStatus.CANCELLED, [("after_discard", TaskStatus.CANCELLED)]),
        (None, [("after_discard", None)]),
    ],
)
def test_a_failure_reported_twice_is_a_discard_only_when_the_record_moved_on(
    refused_by: TaskStatus | None, heard_after_failure: list[tuple[str, Any]]
) -> None:
    recorder = _Recorder()
    attempt = _attempt(_Store(TransitionOutcome(False, refused_by)), recorder)
    assert not attempt.fail(ERROR, reported_twice=True)
    assert recorder.heard == heard_after_failure
