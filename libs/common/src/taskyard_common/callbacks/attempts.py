"""What one delivery attempt's answer leads to: a pure decision, tested as a table."""

from __future__ import annotations

from enum import StrEnum

# A receiver must answer 2xx within this many seconds (the contract's figure).
DELIVERY_TIMEOUT_SECONDS = 10


class Next(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


def next_step(status_code: int | None, attempt: int, max_attempts: int) -> Next:
    """`status_code`: the receiver's answer, None when there was none (connection refused,
    timeout, TLS error). `attempt` is 1-based; after `max_attempts` failures the delivery
    has FAILED."""
    if status_code is not None and 200 <= status_code < 300:
        return Next.DELIVERED
    if attempt < max_attempts:
        return Next.RETRY
    return Next.FAILED
