"""API keys: `Authorization: Bearer <key>`, compared in constant time."""

from __future__ import annotations

import hmac

from flask import request

from taskyard_api.errors import ApiError
from taskyard_api.services import services

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
OPEN_PREFIXES = ("/api/docs", "/api/openapi.json")


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


def key_matches(presented: str, keys: frozenset[str]) -> bool:
    # Compare against every key so the time taken does not tell which one nearly matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


def require_api_key() -> None:
    """before_request hook: a no-op when no key is configured (local development)."""
    found = services()
    if not found.api_keys or request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
        return
    if request.path == "/metrics" and not found.settings.metrics_require_auth:
        return
    presented = _presented_key()
    if presented is None or not key_matches(presented, found.api_keys):
        raise ApiError(
            401,
            "missing or wrong API key",
            headers={"WWW-Authenticate": 'Bearer realm="taskyard"'},
        )


def caller_identity() -> str:
    """Scopes idempotency keys per API key, so two clients never share one."""
    return _presented_key() or "anonymous"
