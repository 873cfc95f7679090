"""The TTL a new record starts with: a scheduled task's record outlives its wait."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskyard_common.status_store import created_record_ttl_seconds

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
WEEK = 7 * 24 * 3600


@pytest.mark.parametrize(
    ("run_at", "expected"),
    [
        (None, WEEK),
        ("", WEEK),
        ("2026-11-30T12:00:00.000Z", WEEK),
        ("2026-11-30T11:00:00.000Z", WEEK),  # already due: runs at once
        ("2026-11-30T12:00:00.400Z", WEEK + 1),  # a part second counts whole
        ("2026-12-10T12:00:00.000Z", WEEK + 10 * 24 * 3600),
        ("2026-12-30T13:00:00+01:00", WEEK + 30 * 24 * 3600),
    ],
)
def test_a_scheduled_record_lives_its_wait_plus_the_result_ttl(
    run_at: str | None, expected: int
) -> None:
    assert created_record_ttl_seconds(WEEK, NOW, run_at) == expected
