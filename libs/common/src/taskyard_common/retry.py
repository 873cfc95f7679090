"""One retry policy for every worker: which errors retry, and after how long."""

from __future__ import annotations

import random
import smtplib
import socket
from dataclasses import dataclass
from typing import NamedTuple

import redis.exceptions
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from taskyard_common.settings import Settings


class TaskError(Exception):
    """An error a task raises on purpose; `retryable` says which side of the split it is on."""

    retryable = False

    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type or type(self).__name__


class TransientError(TaskError):
    """Worth trying again later: the dependency may come back."""

    retryable = True


class PermanentError(TaskError):
    """Trying again cannot help: the input or the request is wrong."""

    retryable = False


# Errors from the outside world that usually go away by themselves.
TRANSIENT_EXCEPTION_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.timeout,
    socket.gaierror,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


# Raised inside the task at its time limit (soft), or reported by the pool for the process
# it killed when the task did not stop (hard).
TIME_LIMIT_EXCEPTION_TYPES: tuple[type[BaseException], ...] = (
    SoftTimeLimitExceeded,
    TimeLimitExceeded,
)
TIME_LIMIT_ERROR_TYPE = "TimeLimitExceeded"


def is_time_limit(error: BaseException) -> bool:
    return isinstance(error, TIME_LIMIT_EXCEPTION_TYPES)


class ErrorClass(NamedTuple):
    type: str  # the record's error.type
    retryable: bool


def classify(error: BaseException) -> ErrorClass:
    """What the record calls an error, and which side of the transient/permanent split it is on."""
    if is_time_limit(error):
        # A task that ran out of time would run out of time again.
        return ErrorClass(TIME_LIMIT_ERROR_TYPE, retryable=False)
    if isinstance(error, TaskError):
        return ErrorClass(error.error_type, error.retryable)
    return ErrorClass(type(error).__name__, isinstance(error, TRANSIENT_EXCEPTION_TYPES))


def is_retryable(error: BaseException) -> bool:
    return classify(error).retryable


def error_type_name(error: BaseException) -> str:
    return classify(error).type


def time_limit_message(seconds: float | None, *, killed: bool) -> str:
    """`seconds`: the soft limit that stopped the task, or the hard one it was killed at."""
    if killed:
        after = f" after {seconds:g} s" if seconds else ""
        return f"killed{after}: it did not stop at its time limit"
    return f"stopped at its time limit of {seconds:g} s" if seconds else "stopped at its time limit"


@dataclass(frozen=True)
class BackoffPolicy:
    base_seconds: float
    max_seconds: float
    jitter: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> BackoffPolicy:
        return cls(
            base_seconds=settings.retry_backoff_base_seconds,
            max_seconds=settings.retry_backoff_max_seconds,
            jitter=settings.retry_jitter,
        )


def compute_backoff(attempt: int, policy: BackoffPolicy, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): min(max, base * 2**(attempt-1)), full jitter.

    Full jitter draws uniformly from [0, ceiling] so that many tasks failing
    together do not come back together.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    exponent = min(attempt - 1, 62)
    ceiling = min(policy.max_seconds, policy.base_seconds * (2**exponent))
    if not policy.jitter:
        return ceiling
    return (rng or random).uniform(0.0, ceiling)
