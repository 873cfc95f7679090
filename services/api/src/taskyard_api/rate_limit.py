"""Rate limits per API key: 429 with Retry-After, decided in memory, shared through Redis.

One budget per caller across every route: TASKYARD_RATE_LIMIT, e.g. "600/minute" or
"20/second;600/minute" (limits' notation, several joined with ";"); "off" turns
limiting off. A caller is the name of the API key it presented (never the key), or
its address when keys are off or the key is wrong, so guessing keys is limited too.
Probes and metrics are never limited.

Each limit is a fixed window aligned to the clock. A request is decided without a
Redis round trip: against the window's total across every API process as last seen
in Redis, plus this process's hits not yet sent. A background thread in each process
adds its new hits to Redis (INCRBY, one pipeline) every SYNC_INTERVAL_SECONDS and reads
the totals back. Tolerance: within one window, the API processes together admit at
most the limit plus, for every process but one, what that process admits in one sync
interval (tests/integration/test_rate_limit_sync.py measures it). While Redis is unreachable
each process goes on limiting with its own counts.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Flask, Response, request
from limits import RateLimitItem, parse_many

from taskyard_api.auth import OPEN_CALLER, authenticated_caller
from taskyard_api.errors import ApiError, error_response
from taskyard_api.paths import LIVENESS_PATH, METRICS_PATH, READINESS_PATH
from taskyard_common.logs import get_logger
from taskyard_common.redis_keys import REDIS_KEYS
from taskyard_common.settings import Settings

EXEMPT_PATHS = frozenset({LIVENESS_PATH, READINESS_PATH, METRICS_PATH})
DISABLED_VALUES = frozenset({"", "off", "none", "disabled"})
LOCAL_ONLY_STORAGE = "memory://"
STORAGE_TIMEOUT_SECONDS = 2
SYNC_INTERVAL_SECONDS = 0.1
log = get_logger("taskyard.api")


def rate_limit_key() -> str:
    caller = authenticated_caller()
    if caller is not None and caller != OPEN_CALLER:
        return f"key:{caller.name}"
    return f"addr:{request.remote_addr or 'unknown'}"


def limit_items(settings: Settings) -> list[RateLimitItem] | None:
    """The configured limits, checked; None when limiting is off. Bad notation fails start-up."""
    configured = settings.rate_limit.strip()
    if configured.lower() in DISABLED_VALUES:
        return None
    try:
        items = parse_many(configured)
    except ValueError as error:
        raise ValueError(
            f"TASKYARD_RATE_LIMIT={configured!r} is not a rate limit such as '600/minute': {error}"
        ) from error
    if not items:
        raise ValueError(f"TASKYARD_RATE_LIMIT={configured!r} names no limit")
    return items


@dataclass
class _Window:
    """One caller's count in one window of one limit."""

    key: str  # the Redis key: caller, limit and window
    ends_at: float
    seen_total: int = 0  # every process's hits, as Redis last answered (ours included)
    unsent: int = 0  # this process's hits Redis has not been told about


class WindowCounter:
    """The decision and the sync, without Flask: each process has one."""

    def __init__(
        self,
        items: list[RateLimitItem],
        client: redis.Redis | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._items = items
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._redis_ok = True

    def _window(self, caller: str, item: RateLimitItem, now: float) -> _Window:
        seconds = item.get_expiry()
        start = int(now // seconds) * seconds
        key = REDIS_KEYS.rate_limit(caller, f"{item.amount}/{seconds}", start)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(key, start + seconds)
        return window

    def hit(self, caller: str) -> int | None:
        """Counts the request; None if admitted, else the seconds until it would be."""
        now = self._clock()
        with self._lock:
            windows = [self._window(caller, item, now) for item in self._items]
            full = [
                w
                for w, item in zip(windows, self._items, strict=True)
                if w.seen_total + w.unsent >= item.amount
            ]
            if full:
                return max(1, math.ceil(max(w.ends_at for w in full) - now))
            for window in windows:
                window.unsent += 1
        return None

    def sync(self) -> None:
        """Send this process's new hits and read every live window's total, in one pipeline."""
        now = self._clock()
        with self._lock:
            for key in [k for k, w in self._windows.items() if w.ends_at <= now]:
                del self._windows[key]
            sending = [(w, w.unsent) for w in self._windows.values()]
        if self._client is None or not sending:
            return
        pipe = self._client.pipeline(transaction=False)
        for window, count in sending:
            pipe.incrby(window.key, count)
            pipe.expireat(window.key, math.ceil(window.ends_at) + 1)
        try:
            replies = pipe.execute()
        except redis.RedisError as error:
            if self._redis_ok:
                log.warning("rate_limit_store_unavailable", error=str(error))
            self._redis_ok = False
            return
        if not self._redis_ok:
            log.info("rate_limit_store_back")
        self._redis_ok = True
        with self._lock:
            for (window, count), total in zip(sending, replies[::2], strict=True):
                window.unsent -= count
                window.seen_total = int(total)


class _Syncer:
    """The background thread of one process; started by its first request (after fork)."""

    def __init__(self, counter: WindowCounter) -> None:
        self._counter = counter
        self._pid: int | None = None
        self._start_lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid != os.getpid():
                threading.Thread(target=self._loop, name="rate-limit-sync", daemon=True).start()
                self._pid = os.getpid()

    def _loop(self) -> None:
        while True:
            time.sleep(SYNC_INTERVAL_SECONDS)
            try:
                self._counter.sync()
            except Exception:  # the thread must outlive any one bad sync
                log.exception("rate_limit_sync_failed")


def _client(settings: Settings) -> redis.Redis | None:
    url = (
        settings.rate_limit_storage_url.get_secret_value() or settings.redis_url.get_secret_value()
    )
    if url == LOCAL_ONLY_STORAGE:
        return None
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=STORAGE_TIMEOUT_SECONDS,
        socket_timeout=STORAGE_TIMEOUT_SECONDS,
    )


def install(app: Flask, settings: Settings) -> WindowCounter | None:
    """Install before the API key check, so failed key guesses count against their address."""
    items = limit_items(settings)
    if items is None:
        log.warning("rate_limit_off", message="TASKYARD_RATE_LIMIT is off: no request is limited")
        return None
    counter = WindowCounter(items, _client(settings))
    syncer = _Syncer(counter)

    @app.before_request
    def _limit() -> Response | None:
        if request.path in EXEMPT_PATHS:
            return None
        syncer.ensure_running()
        caller = rate_limit_key()
        retry_after = counter.hit(caller)
        if retry_after is None:
            return None
        log.info(
            "rate_limited",
            path=request.path,
            method=request.method,
            caller=caller,
            limit=settings.rate_limit,
            retry_after_seconds=retry_after,
        )
        return error_response(
            ApiError(
                429,
                f"rate limit exceeded ({settings.rate_limit}); retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        )

    log.info("rate_limit_on", limit=settings.rate_limit)
    return counter
