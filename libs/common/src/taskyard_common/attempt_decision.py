"""What becomes of one attempt of a task: a pure function of what happened, tested as a table.

The worker reports the facts (the error the handler raised, if any; the final status that
refused the attempt, if any; the attempt's number, the retry budget and the time limit)
and acts on the verdict: SUCCEED, RETRY after a delay, FAIL with an error, or DROP (the
record was already final, e.g. cancelled, so the message is acknowledged unrun).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError

from taskyard_common.records import TaskStatus
from taskyard_common.retry import (
    BackoffPolicy,
    compute_backoff,
    error_type_name,
    is_retryable,
    is_time_limit,
    time_limit_message,
)

MAX_ERROR_MESSAGE_CHARS = 2000
INVALID_PAYLOAD_ERROR_TYPE = "InvalidPayload"


class Verdict(StrEnum):
    SUCCEED = "succeed"
    RETRY = "retry"
    FAIL = "fail"
    DROP = "drop"


@dataclass(frozen=True)
class AttemptFacts:
    """`attempt` is 1-based and counts this message's deliveries (Celery's retries + 1);
    `refused_by` is the final status the record already had when the attempt began;
    `time_limit_seconds` the soft limit the attempt ran under, for the error message."""

    attempt: int
    max_retries: int
    error: BaseException | None = None
    refused_by: TaskStatus | None = None
    time_limit_seconds: float | None = None


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    # The record's `error` for RETRY and FAIL: {"type", "message", "retryable"}.
    error: dict[str, object] | None = None
    # RETRY only: whole seconds, one at least (the broker's delay exchanges count seconds).
    delay_seconds: int = 0


def decide(
    facts: AttemptFacts, backoff: BackoffPolicy, rng: random.Random | None = None
) -> Decision:
    if facts.refused_by is not None:
        return Decision(Verdict.DROP)
    error = facts.error
    if error is None:
        return Decision(Verdict.SUCCEED)
    retryable = is_retryable(error)
    info = error_info(error, retryable, facts.time_limit_seconds)
    if retryable and facts.attempt <= facts.max_retries:
        delay = max(1, math.ceil(compute_backoff(facts.attempt, backoff, rng)))
        return Decision(Verdict.RETRY, info, delay)
    if retryable:
        info["message"] = f"gave up after {facts.attempt} attempts: {info['message']}"
    return Decision(Verdict.FAIL, info)


def error_info(
    error: BaseException, retryable: bool, time_limit_seconds: float | None = None
) -> dict[str, object]:
    if isinstance(error, ValidationError):
        return {
            "type": INVALID_PAYLOAD_ERROR_TYPE,
            "message": _validation_message(error),
            "retryable": False,
        }
    if is_time_limit(error):
        message = time_limit_message(time_limit_seconds, killed=False)
    else:
        message = str(error)[:MAX_ERROR_MESSAGE_CHARS] or type(error).__name__
    return {"type": error_type_name(error), "message": message, "retryable": retryable}


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
    )
