"""Python client for the Taskyard API: `from taskyard_client import Client`."""

from __future__ import annotations

from taskyard_client.backoff import BackoffPolicy
from taskyard_client.client import Client, Page
from taskyard_client.contract import FINAL_STATUSES
from taskyard_client.errors import (
    ApiError,
    ApiUnreachable,
    BadRequest,
    Conflict,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TaskyardError,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
)
from taskyard_client.version import __version__

__all__ = [
    "FINAL_STATUSES",
    "ApiError",
    "ApiUnreachable",
    "BackoffPolicy",
    "BadRequest",
    "Client",
    "Conflict",
    "MethodNotAllowed",
    "NotFound",
    "Page",
    "RateLimited",
    "ServiceUnavailable",
    "TaskyardError",
    "Unauthorized",
    "ValidationFailed",
    "WaitTimeout",
    "__version__",
]
