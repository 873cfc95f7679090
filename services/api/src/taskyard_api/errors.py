"""One error shape for every failure: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any

import redis.exceptions
from flask import Flask, Response, jsonify, request
from kombu.exceptions import OperationalError
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from taskyard_common.logs import get_logger
from taskyard_common.storage import StorageMisconfigured, StorageUnavailable

BACKEND_RETRY_AFTER_SECONDS = 5
# Request models are named by the part of the request they read; the body's have no suffix.
_REQUEST_PARTS = (("Query", "query"), ("Form", "form"), ("Path", "path"), ("Headers", "header"))
_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}
log = get_logger("taskyard.api")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _HTTP_CODES.get(status, "error")
        self.message = message
        self.details = details or []
        self.headers = headers or {}


class BackendUnavailable(ApiError):
    def __init__(self, backend: str, error: BaseException | str) -> None:
        super().__init__(
            503,
            f"{backend} is unavailable, try again later",
            code="backend_unavailable",
            details=[{"loc": [backend], "msg": str(error)[:500]}],
            headers={"Retry-After": str(BACKEND_RETRY_AFTER_SECONDS)},
        )


def invalid_cursor(error: Exception) -> ApiError:
    """A cursor this API did not hand out, or one sent with another query: 422 at the cursor."""
    return ApiError(
        422, f"cursor: {error}", details=[{"loc": ["query", "cursor"], "msg": str(error)}]
    )


def error_response(error: ApiError) -> Response:
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    response = jsonify(body)
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def client_loc(loc: tuple[int | str, ...], sent: Any) -> list[int | str]:
    """The part of a pydantic location that exists in what the client sent.

    Pydantic adds labels of its own to a location: union member names (`FileInput`,
    `constrained-str`) and discriminator tags (`data`, `limit`). Walking the client's
    document keeps only the keys and indexes it holds, and a missing field's name.
    """
    kept: list[int | str] = []
    current = sent
    for index, part in enumerate(loc):
        if _holds(current, part):
            current = current[part]
        elif not (index == len(loc) - 1 and isinstance(current, dict)):
            continue  # a label of pydantic's; the last part may name a field left out
        kept.append(part)
    return kept


def _holds(container: Any, part: int | str) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def validation_details(
    error: ValidationError, sent: Any, prefix: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """One detail per location the client can act on: the first problem pydantic saw there."""
    details: dict[tuple[int | str, ...], dict[str, Any]] = {}
    for problem in error.errors():
        loc = (*prefix, *client_loc(tuple(problem["loc"]), sent))
        if problem["type"] in _TAG_ERRORS:
            # A wrong or missing tag is the tag field's fault: point at it.
            loc = (*loc, str(problem["ctx"]["discriminator"]).strip("'"))
        details.setdefault(loc, {"loc": list(loc), "msg": problem["msg"]})
    return list(details.values())


def validation_error(error: ValidationError, sent: Any, prefix: tuple[str, ...] = ()) -> ApiError:
    details = validation_details(error, sent, prefix)
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return ApiError(422, f"{where}: {first['msg']}", details=details)


def request_part(model_name: str) -> str | None:
    """ "query", "form", "path" or "header" for the model that read it; None for the body."""
    return next((part for suffix, part in _REQUEST_PARTS if model_name.endswith(suffix)), None)


def _sent(part: str | None) -> Any:
    if part == "query":
        return request.args.to_dict()
    if part == "form":
        return {**request.form.to_dict(), **request.files.to_dict()}
    if part == "path":
        return request.view_args or {}
    if part == "header":
        return dict(request.headers)
    return request.get_json(silent=True)


# A refused body up to this size is read and dropped before the 413 goes out, so the
# client's keep-alive connection is clean for its next request (seen failing without).
DISCARD_BODY_MAX_BYTES = 64 * 1024 * 1024
_DISCARD_CHUNK_BYTES = 64 * 1024


def _discard_unread_body() -> None:
    length = request.content_length
    if length is None or length > DISCARD_BODY_MAX_BYTES:
        return
    stream = request.environ["wsgi.input"]
    try:
        while stream.read(_DISCARD_CHUNK_BYTES):
            pass
    except OSError:
        pass


# What a backend raises when it cannot be reached: a 503, on API routes and console pages.
BACKEND_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.RedisError,
    StorageUnavailable,
    StorageMisconfigured,
    OperationalError,
)


def backend_unavailable(error: Exception) -> BackendUnavailable:
    """The 503 for one of BACKEND_ERRORS, logged once with the backend it names."""
    if isinstance(error, redis.exceptions.RedisError):
        backend = "redis"
    elif isinstance(error, OperationalError):
        backend = "rabbitmq"
    else:
        backend = "storage"
    log.warning(
        "backend_unavailable", backend=backend, error_type=type(error).__name__, error=str(error)
    )
    return BackendUnavailable(backend, error)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = "request body too large" if status == 413 else error.description or error.name
        response = error_response(ApiError(status, message))
        if status == 413:
            _discard_unread_body()
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(redis.exceptions.RedisError)
    @app.errorhandler(StorageUnavailable)
    @app.errorhandler(StorageMisconfigured)
    @app.errorhandler(OperationalError)
    def _backend_down(error: Exception) -> Response:
        return error_response(backend_unavailable(error))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled_error", error_type=type(error).__name__)
        return error_response(ApiError(500, "internal error", code="internal_error"))


def openapi_validation_callback(error: ValidationError) -> Response:
    """flask-openapi3 calls this for a request that fails its models."""
    part = request_part(error.title)
    prefix = (part,) if part else ()
    return error_response(validation_error(error, _sent(part), prefix))
