"""The retry decision as a table: which answers are retried, how long each wait is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskyard_client.backoff import BackoffPolicy, parse_retry_after, retry_delay

POLICY = BackoffPolicy(max_retries=3, base_seconds=0.5, max_wait_seconds=10)
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "retry_number", "retry_after", "expected"),
    [
        (429, 1, 2.0, 2.0),  # the server's Retry-After wins
        (503, 1, 5.0, 5.0),
        (429, 1, None, 0.5),  # no header: exponential from the base
        (429, 2, None, 1.0),
        (503, 3, None, 2.0),
        (429, 1, 3600.0, 10),  # never longer than max_wait_seconds
        (503, 1, 0.0, 0.0),
        (429, 4, 1.0, None),  # retries used up
        (500, 1, 1.0, None),  # only 429 and 503 are retried
        (404, 1, None, None),
        (422, 1, None, None),
    ],
)
def test_retry_delay(
    status: int, retry_number: int, retry_after: float | None, expected: float | None
) -> None:
    assert retry_delay(POLICY, status, retry_number, retry_after) == expected


def test_no_retries_when_turned_off() -> None:
    assert retry_delay(BackoffPolicy(max_retries=0), 503, 1, 1.0) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        (" 2 ", 2.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # a date in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected
