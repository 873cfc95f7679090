"""Rate limits per API key (Flask-Limiter, counters in Redis): 429 with Retry-After.

One budget per caller across every route: TASKYARD_RATE_LIMIT, e.g. "600/minute" or
"20/second;600/minute" (limits' notation, several joined with ";"); "off" turns
limiting off. A caller is the API key it presented (by a hash, never the key), or
its address when keys are off or the key is wrong, so guessing keys is limited too.
Probes and metrics are never limited. If the counter store is unreachable, each
process goes on limiting in memory until it is back.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many

from taskyard_api.auth import authenticated_key, fingerprint
from taskyard_api.errors import ApiError, error_response
from taskyard_common.logs import get_logger
from taskyard_common.settings import Settings

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
DISABLED_VALUES = frozenset({"", "off", "none", "disabled"})
KEY_PREFIX = "taskyard"
STORAGE_TIMEOUT_SECONDS = 2
EXTENSION_KEY = "taskyard_limiter"
log = get_logger("taskyard.api")


def rate_limit_key() -> str:
    key = authenticated_key()
    if key is not None:
        return f"key:{fingerprint(key)}"
    return f"addr:{request.remote_addr or 'unknown'}"


def _exempt() -> bool:
    return request.path in EXEMPT_PATHS


def limit_string(settings: Settings) -> str | None:
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
    return configured


def _storage_uri(settings: Settings) -> str:
    return (
        settings.rate_limit_storage_url.get_secret_value() or settings.redis_url.get_secret_value()
    )


def _retry_after_seconds(limiter: Limiter) -> int:
    breached = limiter.current_limit
    if breached is None:
        return 1
    try:
        reset_at = breached.window[0]
    except Exception:  # the counter store went away between the hit and now
        return 1
    return max(1, math.ceil(reset_at - time.time()))


def install(app: Flask, settings: Settings) -> Limiter | None:
    """Install before the API key check, so failed key guesses count against their address."""
    limits = limit_string(settings)
    if limits is None:
        log.warning("rate_limit_off", message="TASKYARD_RATE_LIMIT is off: no request is limited")
        return None
    storage_uri = _storage_uri(settings)
    options: dict[str, str | int] = {}
    if storage_uri.startswith(("redis://", "rediss://", "redis+unix://")):
        options = {
            "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
            "socket_timeout": STORAGE_TIMEOUT_SECONDS,
        }
    limiter = Limiter(
        rate_limit_key,
        application_limits=[limits],
        storage_uri=storage_uri,
        storage_options=options,
        strategy="fixed-window",
        key_prefix=KEY_PREFIX,
        headers_enabled=False,
        in_memory_fallback_enabled=True,
        in_memory_fallback=[limits],
        swallow_errors=True,
    )
    limiter.request_filter(_exempt)
    limiter.init_app(app)
    app.extensions[EXTENSION_KEY] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _too_many(error: RateLimitExceeded) -> Response:
        retry_after = _retry_after_seconds(limiter)
        log.info(
            "rate_limited",
            path=request.path,
            method=request.method,
            caller=rate_limit_key(),
            limit=str(error.description),
            retry_after_seconds=retry_after,
        )
        return error_response(
            ApiError(
                429,
                f"rate limit exceeded ({error.description}); retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        )

    log.info("rate_limit_on", limit=limits)
    return limiter
