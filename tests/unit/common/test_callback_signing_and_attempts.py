"""The callback signature (a fixed vector) and what an attempt's answer leads to (a table)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from taskyard_common.callbacks.attempts import Next, next_step
from taskyard_common.callbacks.signing import signature_header
from taskyard_common.records import CallbackState, CallbackStatus, TaskRecord


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"t1","status":"SUCCESS"}'
    expected = hmac.new(b"s3cret", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert signature_header("s3cret", 1767225600, body) == f"t=1767225600,v1={expected}"
    assert signature_header("other", 1767225600, body) != signature_header(
        "s3cret", 1767225600, body
    )
    assert signature_header("s3cret", 1767225601, body) != signature_header(
        "s3cret", 1767225600, body
    )


@pytest.mark.parametrize(
    ("status_code", "attempt", "max_attempts", "expected"),
    [
        (200, 1, 8, Next.DELIVERED),
        (204, 8, 8, Next.DELIVERED),
        (299, 3, 8, Next.DELIVERED),
        (500, 1, 8, Next.RETRY),
        (500, 7, 8, Next.RETRY),
        (500, 8, 8, Next.FAILED),
        (301, 1, 8, Next.RETRY),  # redirects are not followed
        (404, 1, 8, Next.RETRY),
        (None, 1, 8, Next.RETRY),  # no answer: refused, timed out
        (None, 8, 8, Next.FAILED),
        (503, 1, 1, Next.FAILED),
    ],
)
def test_next_step_table(
    status_code: int | None, attempt: int, max_attempts: int, expected: Next
) -> None:
    assert next_step(status_code, attempt, max_attempts) is expected


def test_the_record_field_defaults_to_null_and_starts_pending() -> None:
    base = {
        "id": "t1",
        "type": "data",
        "priority": "normal",
        "queue": "data.normal",
        "status": "QUEUED",
        "max_retries": 5,
        "created_at": "2026-01-01T00:00:00.000Z",
    }
    assert TaskRecord.model_validate(base).callback is None
    record = TaskRecord.model_validate({**base, "callback": {"url": "https://x.example/h"}})
    assert record.callback == CallbackState(url="https://x.example/h")
    assert record.model_dump(mode="json")["callback"] == {
        "url": "https://x.example/h",
        "status": CallbackStatus.PENDING,
        "attempts": 0,
        "last_status_code": None,
        "last_error": None,
        "delivered_at": None,
    }
