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
    text = _read_source(source, stdin)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{_source_name(source)} is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise UsageError(f"{_source_name(source)}: the payload must be a JSON object")
    return payload


def read_json_lines(source: str, stdin: TextIO) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(_read_source(source, stdin).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{_source_name(source)} line {number}: not JSON: {error}") from error
        if not isinstance(item, dict):
            raise UsageError(f"{_source_name(source)} line {number}: not a JSON object")
        items.append(item)
    if not items:
        raise UsageError(f"{_source_name(source)}: no task (one submit body a line)")
    return items


def _source_name(source: str) -> str:
    return "stdin" if source == STDIN else source
