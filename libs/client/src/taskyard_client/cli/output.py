"""How commands print: tables and task descriptions for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from taskyard_client.client import Record

TASK_COLUMNS = ("id", "type", "priority", "status", "attempts", "created_at")
TASK_LINE_COLUMNS = ("id", "status", "queue")
FILE_COLUMNS = ("id", "name", "size", "content_type", "created_at")
QUEUE_COLUMNS = ("name", "ready", "unacked", "consumers")
WORKER_COLUMNS = ("name", "queues", "active", "processed", "last_seen")


class Output:
    """Human text, or JSON for scripts (`--json`): one document, or one record a line."""

    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def document(self, value: Any, human: str) -> None:
        text = json.dumps(value) if self.as_json else human
        if text:
            print(text, file=self.stdout)

    def rows(self, records: Iterable[Record], columns: Sequence[str]) -> int:
        """A table (JSON lines with --json), printed as the records arrive; how many."""
        count = 0
        for record in records:
            if self.as_json:
                print(json.dumps(record), file=self.stdout, flush=True)
            else:
                if count == 0:
                    print("  ".join(f"{c.upper():<{_width(c)}}" for c in columns), file=self.stdout)
                print(_row(record, columns), file=self.stdout, flush=True)
            count += 1
        return count

    def note(self, message: str) -> None:
        print(message, file=self.stderr)


def _width(column: str) -> int:
    return {"id": 36, "status": 10, "name": 24, "created_at": 24, "queues": 24}.get(column, 8)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


def _row(record: Record, columns: Sequence[str]) -> str:
    return "  ".join(f"{_cell(record.get(c)):<{_width(c)}}" for c in columns).rstrip()


def describe_task(record: Record) -> str:
    lines = [f"{name}: {_cell(record.get(name))}" for name in TASK_COLUMNS]
    lines.append(f"queue: {record.get('queue')}")
    for name in ("started_at", "finished_at", "next_retry_at", "progress", "run_at", "owner"):
        if record.get(name) is not None:
            lines.append(f"{name}: {record[name]}")
    for name in ("result", "error", "callback"):
        if record.get(name) is not None:
            lines.append(f"{name}: {json.dumps(record[name], indent=2)}")
    history = record.get("history") or []
    if history:
        lines.append("history:")
        lines.extend(f"  {entry.get('at')}  {entry.get('status')}" for entry in history)
    return "\n".join(lines)


def task_line(record: Record) -> str:
    return _row(record, TASK_LINE_COLUMNS)
