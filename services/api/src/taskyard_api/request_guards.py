"""Checks that run before a JSON body reaches validation.

415 for a body that is not JSON, 400 for broken JSON (including NaN and Infinity,
which are not JSON), 422 for a body nested deeper than TASKYARD_MAX_JSON_DEPTH and
for inline data records beyond TASKYARD_MAX_DATA_RECORDS. The body size itself is
capped by MAX_CONTENT_LENGTH (TASKYARD_MAX_REQUEST_BYTES, 413), whether or not it
comes with a Content-Length.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from taskyard_api.errors import ApiError
from taskyard_api.services import services

# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        first = match.group()[0]
        if first in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif first in "]}":
            depth -= 1
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONProvider(DefaultJSONProvider):
    """Request bodies parse as strict JSON: NaN and Infinity are not JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return json.loads(s, parse_constant=_reject_constant, **kwargs)


def _inline_record_count(submission: Any) -> int | None:
    if not isinstance(submission, dict) or submission.get("type") != "data":
        return None
    payload = submission.get("payload")
    source = payload.get("input") if isinstance(payload, dict) else None
    records = source.get("records") if isinstance(source, dict) else None
    return len(records) if isinstance(records, list) else None


def _submissions(body: Any) -> list[tuple[tuple[str | int, ...], Any]]:
    """The submit bodies in a request: the body itself, or each item of a batch."""
    tasks = body.get("tasks") if isinstance(body, dict) else None
    if isinstance(tasks, list):
        return [(("tasks", index), item) for index, item in enumerate(tasks)]
    return [((), body)]


def _check_inline_records(body: Any, max_records: int) -> None:
    for loc, submission in _submissions(body):
        count = _inline_record_count(submission)
        if count is not None and count > max_records:
            where = [*loc, "payload", "input", "records"]
            raise ApiError(
                422,
                f"{'.'.join(map(str, where))}: at most {max_records} records, got {count}",
                details=[{"loc": where, "msg": f"at most {max_records} records"}],
            )


def require_json_body() -> None:
    if request.mimetype != "application/json":
        raise ApiError(415, "send the body as application/json")
    settings = services().settings
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body is cut at the limit without an error: the rest was never read.
        # Raised as werkzeug's 413 so it is answered like any other (and the connection closed).
        raise RequestEntityTooLarge()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, "body is not UTF-8") from error
    # Checked before parsing so a deeply nested body cannot exhaust the parser's stack.
    max_depth = settings.max_json_depth
    if _nesting_depth(text) > max_depth:
        raise ApiError(
            422,
            f"JSON nested deeper than {max_depth} levels",
            details=[{"loc": ["body"], "msg": "too deeply nested"}],
        )
    try:
        # Parsed once: the view's body model reads flask's cached result.
        body = request.get_json()
    except BadRequest as error:
        raise ApiError(400, f"malformed JSON: {error.__cause__ or error}") from error
    except RecursionError as error:
        raise ApiError(400, f"malformed JSON: {error}") from error
    _check_inline_records(body, settings.max_data_records)
