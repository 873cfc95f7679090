"""When to send a refused request again: 429 and 503 only, Retry-After first, always bounded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class BackoffPolicy:
    # Attempts after the first one; 0 turns retrying off.
    max_retries: int = 5
    # Without Retry-After: base * 2**(retry-1) seconds.
    base_seconds: float = 0.5
    # No single wait is longer than this, whatever Retry-After asks for.
    max_wait_seconds: float = 30.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(
    policy: BackoffPolicy, status_code: int, retry_number: int, retry_after_seconds: float | None
) -> float | None:
    """Seconds to wait before retry number `retry_number` (1-based), or None to give up."""
    if status_code not in RETRYABLE_STATUSES or retry_number > policy.max_retries:
        return None
    if retry_after_seconds is not None:
        wanted = retry_after_seconds
    else:
        wanted = policy.base_seconds * 2 ** (retry_number - 1)
    return min(wanted, policy.max_wait_seconds)
