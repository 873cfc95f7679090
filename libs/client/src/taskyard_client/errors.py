"""Typed errors: one class per answer a caller handles differently, each carrying the error body.

The API answers every error as `{"error": {"code", "message", "details"}}`; `ApiError` keeps
that body whole and exposes its parts.
"""

from __future__ import annotations

from typing import Any


class TaskyardError(Exception):
    """Anything this client raises."""


class ApiUnreachable(TaskyardError):
    """No HTTP answer at all: connection refused, DNS failure, timeout."""


class WaitTimeout(TaskyardError):
    """`wait` gave up before the task reached a final status; `record` is the last one seen."""

    def __init__(self, task_id: str, record: dict[str, Any], timeout_seconds: float) -> None:
        super().__init__(f"task {task_id} still {record.get('status')} after {timeout_seconds:g} s")
        self.record = record


class ApiError(TaskyardError):
    """The API answered with an error status."""

    def __init__(
        self,
        status_code: int,
        body: Any,
        *,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        self.retry_after_seconds = retry_after_seconds
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.code: str = str(error.get("code") or f"http_{status_code}")
        self.message: str = str(error.get("message") or f"HTTP {status_code}")
        details = error.get("details")
        self.details: list[dict[str, Any]] = details if isinstance(details, list) else []
        super().__init__(f"{status_code} {self.code}: {self.message}")


class BadRequest(ApiError):
    """400, 413 or 415: the request was not something the API can read."""


class Unauthorized(ApiError):
    """401: missing or wrong API key."""


class NotFound(ApiError):
    """404: no such task or file (or not yours)."""


class MethodNotAllowed(ApiError):
    """405: this server does not offer that operation on that path."""


class Conflict(ApiError):
    """409: the task's status does not allow it (cancel a finished task, retry a running one)."""


class ValidationFailed(ApiError):
    """422: the body breaks the schema; `details` point at the fields."""


class RateLimited(ApiError):
    """429 after every allowed retry."""


class ServiceUnavailable(ApiError):
    """503 after every allowed retry (RabbitMQ, Redis or storage is down), or a proxy's 502/504."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: BadRequest,
    415: BadRequest,
    422: ValidationFailed,
    429: RateLimited,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_for_status(
    status_code: int, body: Any, retry_after_seconds: float | None = None
) -> ApiError:
    error_class = _BY_STATUS.get(status_code, ApiError)
    return error_class(status_code, body, retry_after_seconds=retry_after_seconds)
