"""Paging cursors of GET /api/tasks: where the last page ended and which query it answered.

A cursor carries its query's filters, so the next page keeps them; a request that
sends a cursor with different filters is refused rather than silently mixing lists.
It also carries whose list it pages (an owner, or none for an admin's view of all):
a cursor is refused from any other caller's list. The cursor is opaque to clients but
not secret: what it encodes, a client could ask for.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass

from taskyard_common.records import TaskStatus
from taskyard_common.topology import PRIORITIES, TASK_TYPES

_STATUSES = frozenset(status.value for status in TaskStatus)


class CursorError(ValueError):
    """A cursor this API did not hand out, or one sent with a different query."""


@dataclass(frozen=True)
class TaskFilters:
    status: str | None = None
    type: str | None = None
    priority: str | None = None

    def differences(self, other: TaskFilters) -> list[str]:
        """Names of the filters this one sets to something other than `other` does."""
        return [
            name
            for name, value in asdict(self).items()
            if value is not None and value != getattr(other, name)
        ]


@dataclass(frozen=True)
class TaskCursor:
    score: int
    task_id: str
    filters: TaskFilters
    owner: str | None = None  # whose list it pages; None: every owner's


def encode_cursor(cursor: TaskCursor) -> str:
    document = {
        "s": cursor.score,
        "id": cursor.task_id,
        "q": asdict(cursor.filters),
        "o": cursor.owner,
    }
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> TaskCursor:
    try:
        document = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        filters = TaskFilters(**document["q"])
        owner = document.get("o")
        cursor = TaskCursor(int(document["s"]), str(document["id"]), filters, owner)
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as error:
        raise CursorError("not a cursor from this API") from error
    if not cursor.task_id or not _known(filters) or not isinstance(owner, str | None):
        raise CursorError("not a cursor from this API")
    return cursor


def _known(filters: TaskFilters) -> bool:
    return (
        filters.status in _STATUSES | {None}
        and filters.type in (*TASK_TYPES, None)
        and filters.priority in (*PRIORITIES, None)
    )


def page_filters(asked: TaskFilters, cursor: TaskCursor | None, owner: str | None) -> TaskFilters:
    """The filters a page of `owner`'s list (None: every owner's) is listed with: the
    cursor's, which the request may only repeat. A cursor from another list is refused."""
    if cursor is None:
        return asked
    if cursor.owner != owner:
        raise CursorError("this cursor continues another caller's list; start again without it")
    changed = asked.differences(cursor.filters)
    if changed:
        raise CursorError(
            f"this cursor continues a list with {_describe(cursor.filters)}; "
            f"send it without {', '.join(changed)} or start again without a cursor"
        )
    return cursor.filters


def _describe(filters: TaskFilters) -> str:
    chosen = [f"{name}={value}" for name, value in asdict(filters).items() if value is not None]
    return " and ".join(chosen) if chosen else "no filters"
