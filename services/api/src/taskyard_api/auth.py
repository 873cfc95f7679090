"""API keys and callers: `Authorization: Bearer <key>`, compared in constant time.

Keys come from TASKYARD_API_KEYS (comma separated) and TASKYARD_API_KEYS_FILE (one a
line), each `name:key` or a bare key, read once at start-up. A request's caller is the
key's name: it owns what it creates and sees only that, unless its name is listed in
TASKYARD_ADMIN_API_KEYS. With no key configured the API is open (local development),
every caller is `anonymous` with an admin's view, and the API says so loudly at start.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import g, request

from taskyard_api.errors import ApiError
from taskyard_api.paths import (
    LIVENESS_PATH,
    METRICS_PATH,
    OPENAPI_PATH,
    READINESS_PATH,
    is_console_path,
    is_docs_path,
)
from taskyard_api.services import services
from taskyard_common.logs import get_logger
from taskyard_common.settings import ANONYMOUS

# Probes must answer without a key; so must the API's own description.
OPEN_PATHS = frozenset({LIVENESS_PATH, READINESS_PATH, OPENAPI_PATH})
MAX_KEY_CHARS = 4096
_CALLER = "taskyard_caller"
log = get_logger("taskyard.api")


@dataclass(frozen=True)
class Caller:
    name: str  # the key's name; "anonymous" when no keys are configured
    is_admin: bool

    @property
    def owner_filter(self) -> str | None:
        """The owner whose items this caller lists; None: every owner's (an admin)."""
        return None if self.is_admin else self.name

    def can_see(self, owner: str) -> bool:
        """Whether an item owned by `owner` exists for this caller (404 otherwise, never 403)."""
        return self.is_admin or owner == self.name


OPEN_CALLER = Caller(ANONYMOUS, is_admin=True)


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_CHARS:
        return None
    return key


def caller_for_key(presented: str) -> Caller | None:
    """The caller a presented key belongs to; None if it is no configured key."""
    found = services()
    matched: str | None = None
    # Compare against every key so the time taken does not tell which one nearly matched.
    for name, key in found.api_keys.items():
        if hmac.compare_digest(presented.encode(), key.encode()):
            matched = name
    if matched is None:
        return None
    return Caller(matched, is_admin=matched in found.admin_key_names)


def authenticated_caller() -> Caller | None:
    """The request's caller: the open caller when no key is configured, else the presented
    key's, or None (decided once per request; the console may have set it already)."""
    if _CALLER not in g:
        if not services().api_keys:
            g.taskyard_caller = OPEN_CALLER
        else:
            presented = _presented_key()
            g.taskyard_caller = None if presented is None else caller_for_key(presented)
    caller: Caller | None = g.taskyard_caller
    return caller


def set_current_caller(caller: Caller) -> None:
    """Make `caller` the request's caller (the console does, from its session cookie)."""
    g.taskyard_caller = caller


def current_caller() -> Caller:
    """The request's caller; 401 when there is none (a route outside the key check)."""
    caller = authenticated_caller()
    if caller is None:
        raise _unauthorized()
    return caller


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or is_docs_path(path)


def require_api_key() -> None:
    """before_request hook: a no-op when no key is configured (local development)."""
    found = services()
    if not found.api_keys or is_open_path(request.path) or is_console_path(request.path):
        return
    if request.path == METRICS_PATH and not found.settings.metrics_require_auth:
        return
    if authenticated_caller() is None:
        log.info(
            "auth_rejected",
            path=request.path,
            method=request.method,
            remote_addr=request.remote_addr,
            reason="no key" if _presented_key() is None else "unknown key",
        )
        raise _unauthorized()


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "missing or wrong API key: send Authorization: Bearer <key>",
        headers={"WWW-Authenticate": 'Bearer realm="taskyard"'},
    )
