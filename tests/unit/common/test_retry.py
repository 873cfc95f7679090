from __future__ import annotations

import random
import smtplib

import pytest

from taskyard_common.retry import (
    BackoffPolicy,
    PermanentError,
    TransientError,
    compute_backoff,
    error_type_name,
    is_retryable,
)

POLICY = BackoffPolicy(base_seconds=2.0, max_seconds=60.0, jitter=False)


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (40, 60.0), (10_000, 60.0)],
)
def test_backoff_doubles_then_caps(attempt: int, expected: float) -> None:
    assert compute_backoff(attempt, POLICY) == expected


def test_full_jitter_stays_within_the_ceiling_and_spreads() -> None:
    policy = BackoffPolicy(base_seconds=2.0, max_seconds=60.0, jitter=True)
    rng = random.Random(7)
    delays = [compute_backoff(4, policy, rng) for _ in range(2000)]
    assert all(0.0 <= d <= 16.0 for d in delays)
    assert min(delays) < 2.0 and max(delays) > 14.0


def test_attempts_are_one_based() -> None:
    with pytest.raises(ValueError):
        compute_backoff(0, POLICY)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (TransientError("later"), True),
        (PermanentError("never"), False),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (smtplib.SMTPServerDisconnected(), True),
        (ValueError("bad"), False),
        (KeyError("x"), False),
    ],
)
def test_transient_permanent_split(error: BaseException, retryable: bool) -> None:
    assert is_retryable(error) is retryable


def test_error_type_names_the_cause() -> None:
    assert error_type_name(PermanentError("x", error_type="SMTPDataError")) == "SMTPDataError"
    assert error_type_name(ConnectionRefusedError()) == "ConnectionRefusedError"
