"""When a scheduled task runs, and how long the broker holds its message: tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskyard_common.schedule import broker_delay_seconds, is_scheduled, requested_run_at

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("run_at", "delay_seconds", "expected"),
    [
        (None, None, None),
        (LATER, None, LATER),
        (None, 3, NOW + timedelta(seconds=3)),
        (None, 0, NOW),
    ],
)
def test_the_requested_moment(
    run_at: datetime | None, delay_seconds: int | None, expected: datetime | None
) -> None:
    assert requested_run_at(run_at, delay_seconds, NOW) == expected


@pytest.mark.parametrize(
    ("run_at", "delay", "scheduled"),
    [
        (NOW + timedelta(seconds=3), 3, True),
        # Rounded up: the broker counts whole seconds, and the task must not start early.
        (NOW + timedelta(seconds=2, milliseconds=1), 3, True),
        (NOW + timedelta(milliseconds=1), 1, True),
        (NOW, 0, False),
        (NOW - timedelta(days=1), 0, False),
        (NOW + timedelta(days=30), 30 * 24 * 3600, True),
    ],
)
def test_the_broker_delay_and_whether_the_task_waits(
    run_at: datetime, delay: int, scheduled: bool
) -> None:
    assert broker_delay_seconds(run_at, NOW) == delay
    assert is_scheduled(run_at, NOW) is scheduled


def test_no_run_at_is_not_scheduled() -> None:
    assert is_scheduled(None, NOW) is False
