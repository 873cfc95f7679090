"""Checks that run before a JSON body reaches validation: 415 for not JSON, 400 for broken JSON."""

from __future__ import annotations

import json

from flask import request

from taskyard_api.errors import ApiError

MAX_JSON_NESTING = 32


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def require_json_body() -> None:
    if request.mimetype != "application/json":
        raise ApiError(415, "send the body as application/json")
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, "body is not UTF-8") from error
    # Checked before parsing so a deeply nested body cannot exhaust the parser's stack.
    if _nesting_depth(text) > MAX_JSON_NESTING:
        raise ApiError(422, f"JSON nested deeper than {MAX_JSON_NESTING} levels",
                       details=[{"loc": ["body"], "msg": "too deeply nested"}])
    try:
        json.loads(text)
    except ValueError as error:
        raise ApiError(400, f"malformed JSON: {error}") from error
