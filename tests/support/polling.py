"""Waiting for a check to pass: stats that refresh every few seconds, servers coming up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

T = TypeVar("T")
POLL_INTERVAL_SECONDS = 0.5


def eventually(check: Callable[[], T], timeout_seconds: float = 30) -> T:
    """check's value once it stops raising AssertionError or a requests error; its last
    error after timeout_seconds."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            return check()
        except (AssertionError, requests.RequestException):
            if time.monotonic() > deadline:
                raise
            time.sleep(POLL_INTERVAL_SECONDS)
