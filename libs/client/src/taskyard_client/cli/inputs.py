"""What commands read: a payload (a JSON object) or submit bodies (JSON lines), file or stdin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from taskyard_client.cli.exits import UsageError

STDIN = "-"


def _read_source(source: str, stdin: TextIO) -> str:
    if source == STDIN:
        return stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {source}: {error.strerror or error}") from error


def read_payload(source: str, stdin: TextIO) -> dict[str, Any]:
    return _json_object(_read_source(source, stdin), _source_name(source), "the payload")


def read_json_lines(source: str, stdin: TextIO) -> list[dict[str, Any]]:
    name = _source_name(source)
    items = [
        _json_object(line, f"{name} line {number}", "a submit body")
        for number, line in enumerate(_read_source(source, stdin).splitlines(), start=1)
        if line.strip()
    ]
    if not items:
        raise UsageError(f"{name}: no task (one submit body a line)")
    return items


def _json_object(text: str, where: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{where}: not JSON: {error}") from error
    if not isinstance(value, dict):
        raise UsageError(f"{where}: {what} must be a JSON object")
    return value


def _source_name(source: str) -> str:
    return "stdin" if source == STDIN else source
