"""API keys: `Authorization: Bearer <key>`, compared in constant time.

Keys come from TASKYARD_API_KEYS (comma separated) and TASKYARD_API_KEYS_FILE (one a
line), read once at start-up. With no key configured the API is open (local
development) and says so loudly when it starts.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import g, request

from taskyard_api.errors import ApiError
from taskyard_api.services import services
from taskyard_common.logs import get_logger

# Probes must answer without a key; so must the API's own description.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/api/openapi.json"})
OPEN_PREFIXES = ("/api/docs",)
# The web console signs in with its own session cookie (taskyard_api.console), not a header.
CONSOLE_PREFIX = "/ui"
METRICS_PATH = "/metrics"
MAX_KEY_CHARS = 4096
log = get_logger("taskyard.api")


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_CHARS:
        return None
    return key


def key_matches(presented: str, keys: frozenset[str]) -> bool:
    # Compare against every key so the time taken does not tell which one nearly matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


def fingerprint(key: str) -> str:
    """A stable, non-reversible name for a key: rate limit buckets and logs never hold a key."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def authenticated_key() -> str | None:
    """The presented key when it is one of the configured keys (checked once per request)."""
    if "taskyard_api_key" not in g:
        keys = services().api_keys
        presented = _presented_key()
        g.taskyard_api_key = (
            presented if keys and presented is not None and key_matches(presented, keys) else None
        )
    key: str | None = g.taskyard_api_key
    return key


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or any(
        path == prefix or path.startswith(prefix + "/") for prefix in OPEN_PREFIXES
    )


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def require_api_key() -> None:
    """before_request hook: a no-op when no key is configured (local development)."""
    found = services()
    if not found.api_keys or is_open_path(request.path) or is_console_path(request.path):
        return
    if request.path == METRICS_PATH and not found.settings.metrics_require_auth:
        return
    if authenticated_key() is None:
        log.info(
            "auth_rejected",
            path=request.path,
            method=request.method,
            remote_addr=request.remote_addr,
            reason="no key" if _presented_key() is None else "unknown key",
        )
        raise ApiError(
            401,
            "missing or wrong API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": 'Bearer realm="taskyard"'},
        )


def caller_identity() -> str:
    """Scopes idempotency keys per API key, so two clients never share one."""
    return _presented_key() or "anonymous"


# -- The ownership interface (wt/ownership builds the real one; this stands in until the merge).
@dataclass(frozen=True)
class Caller:
    name: str
    is_admin: bool

    @property
    def owner_filter(self) -> str | None:
        return None if self.is_admin else self.name


def caller_for_key(presented: str) -> Caller | None:
    keys = services().api_keys
    if not key_matches(presented, keys):
        return None
    return Caller(f"key-{hashlib.sha256(presented.encode()).hexdigest()[:8]}", True)


def set_current_caller(caller: Caller) -> None:
    g.taskyard_caller = caller


def current_caller() -> Caller:
    caller: Caller = g.get("taskyard_caller") or Caller("anonymous", True)
    return caller
