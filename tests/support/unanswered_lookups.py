"""A resolver that never answers, for the bounds on callback URL lookups."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from taskyard_common.callbacks import address_policy


@contextmanager
def unanswered_lookups(
    monkeypatch: pytest.MonkeyPatch, lookup_timeout_seconds: float
) -> Iterator[None]:
    """Every host name lookup hangs until the block ends; each may wait the given time."""
    released = threading.Event()

    def never_answers(*_args: object, **_kwargs: object) -> list[object]:
        released.wait(10)
        return []

    monkeypatch.setattr(address_policy.socket, "getaddrinfo", never_answers)
    monkeypatch.setattr(address_policy, "LOOKUP_TIMEOUT_SECONDS", lookup_timeout_seconds)
    try:
        yield
    finally:
        released.set()
