"""When a scheduled task runs: the moment a submit asks for, and the broker delay that holds
its message until then."""

from __future__ import annotations

import math
from datetime import datetime, timedelta


def requested_run_at(
    run_at: datetime | None, delay_seconds: int | None, now: datetime
) -> datetime | None:
    """The moment the submit asked for, or None when it asked to run at once."""
    if run_at is not None:
        return run_at
    if delay_seconds is not None:
        return now + timedelta(seconds=delay_seconds)
    return None


def is_scheduled(run_at: datetime | None, now: datetime) -> bool:
    """A run_at that is not ahead (the past, or now) runs at once."""
    return run_at is not None and broker_delay_seconds(run_at, now) > 0


def broker_delay_seconds(run_at: datetime, now: datetime) -> int:
    """Whole seconds the broker holds the message: its delay queues count whole seconds,
    so the delay is rounded up and the task never starts before run_at. 0: publish now."""
    return max(0, math.ceil((run_at - now).total_seconds()))
