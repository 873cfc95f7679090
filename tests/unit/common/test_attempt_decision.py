"""What becomes of an attempt, as a table: facts in, verdict (and error, delay) out."""

from __future__ import annotations

import random
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from pydantic import BaseModel, ValidationError

from taskyard_common.attempt_decision import (
    MAX_ERROR_MESSAGE_CHARS,
    AttemptFacts,
    Decision,
    Verdict,
    decide,
)
from taskyard_common.records import TaskStatus
from taskyard_common.retry import BackoffPolicy, PermanentError, TransientError

# No jitter: the delay is the ceiling min(max, base * 2**(attempt-1)), in whole seconds.
BACKOFF = BackoffPolicy(base_seconds=2.0, max_seconds=30.0, jitter=False)


class _Payload(BaseModel):
    to: list[str]


def _invalid_payload() -> ValidationError:
    try:
        _Payload.model_validate({"to": "not a list"})
    except ValidationError as error:
        return error
    raise AssertionError("the payload validated")


def _error(kind: str, message: str, retryable: bool) -> dict[str, object]:
    return {"type": kind, "message": message, "retryable": retryable}


SUCCEED = Decision(Verdict.SUCCEED)
DROP = Decision(Verdict.DROP)


@pytest.mark.parametrize(
    ("facts", "decision"),
    [
        # The handler returned.
        (AttemptFacts(attempt=1, max_retries=3), SUCCEED),
        (AttemptFacts(attempt=4, max_retries=3), SUCCEED),
        # The record was already final when the attempt began: never run, whatever else.
        (AttemptFacts(attempt=1, max_retries=3, refused_by=TaskStatus.CANCELLED), DROP),
        (AttemptFacts(attempt=2, max_retries=3, refused_by=TaskStatus.SUCCESS), DROP),
        (
            AttemptFacts(
                attempt=1, max_retries=3, refused_by=TaskStatus.FAILED, error=TransientError("x")
            ),
            DROP,
        ),
        # Transient errors retry while the budget lasts, with the backoff of this attempt.
        (
            AttemptFacts(attempt=1, max_retries=3, error=TransientError("later")),
            Decision(Verdict.RETRY, _error("TransientError", "later", True), 2),
        ),
        (
            AttemptFacts(attempt=3, max_retries=3, error=ConnectionRefusedError("refused")),
            Decision(Verdict.RETRY, _error("ConnectionRefusedError", "refused", True), 8),
        ),
        (
            AttemptFacts(attempt=9, max_retries=20, error=TimeoutError("slow")),
            Decision(Verdict.RETRY, _error("TimeoutError", "slow", True), 30),
        ),
        # ... and fail once it is spent, saying so.
        (
            AttemptFacts(attempt=4, max_retries=3, error=TransientError("later")),
            Decision(
                Verdict.FAIL, _error("TransientError", "gave up after 4 attempts: later", True)
            ),
        ),
        (
            AttemptFacts(attempt=1, max_retries=0, error=TransientError("later")),
            Decision(
                Verdict.FAIL, _error("TransientError", "gave up after 1 attempts: later", True)
            ),
        ),
        # Permanent errors, bugs and time limits fail at once.
        (
            AttemptFacts(
                attempt=1,
                max_retries=3,
                error=PermanentError("bad address", error_type="SMTPRecipientsRefused"),
            ),
            Decision(Verdict.FAIL, _error("SMTPRecipientsRefused", "bad address", False)),
        ),
        (
            AttemptFacts(attempt=1, max_retries=3, error=ValueError("bug")),
            Decision(Verdict.FAIL, _error("ValueError", "bug", False)),
        ),
        (
            AttemptFacts(attempt=1, max_retries=3, error=KeyError()),
            Decision(Verdict.FAIL, _error("KeyError", "KeyError", False)),
        ),
        (
            AttemptFacts(
                attempt=1, max_retries=3, error=SoftTimeLimitExceeded(), time_limit_seconds=2.5
            ),
            Decision(
                Verdict.FAIL,
                _error("TimeLimitExceeded", "stopped at its time limit of 2.5 s", False),
            ),
        ),
        (
            AttemptFacts(attempt=1, max_retries=3, error=TimeLimitExceeded(12)),
            Decision(Verdict.FAIL, _error("TimeLimitExceeded", "stopped at its time limit", False)),
        ),
        (
            AttemptFacts(attempt=1, max_retries=3, error=_invalid_payload()),
            Decision(
                Verdict.FAIL, _error("InvalidPayload", "to: Input should be a valid list", False)
            ),
        ),
    ],
)
def test_decision_table(facts: AttemptFacts, decision: Decision) -> None:
    assert decide(facts, BACKOFF) == decision


def test_retry_delays_draw_full_jitter_in_whole_seconds_one_at_least() -> None:
    jittered = BackoffPolicy(base_seconds=2.0, max_seconds=30.0, jitter=True)
    facts = AttemptFacts(attempt=4, max_retries=5, error=TransientError("later"))
    delays = {decide(facts, jittered, random.Random(seed)).delay_seconds for seed in range(200)}
    assert delays <= set(range(1, 17))
    assert len(delays) > 8


def test_long_error_messages_are_cut() -> None:
    facts: Any = AttemptFacts(attempt=1, max_retries=0, error=ValueError("x" * 5000))
    decision = decide(facts, BACKOFF)
    assert decision.error is not None
    assert len(str(decision.error["message"])) == MAX_ERROR_MESSAGE_CHARS
