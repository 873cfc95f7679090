"""Paging cursors carry their query: decoding, and which filters a next page may repeat."""

from __future__ import annotations

import base64
import json

import pytest

from taskyard_common.task_cursors import (
    CursorError,
    TaskCursor,
    TaskFilters,
    decode_cursor,
    encode_cursor,
    page_filters,
)

FILE_TASKS = TaskFilters(type="file")
FAILED_LOW_DATA = TaskFilters(status="FAILED", type="data", priority="low")


@pytest.mark.parametrize("filters", [TaskFilters(), FILE_TASKS, FAILED_LOW_DATA])
@pytest.mark.parametrize("owner", [None, "alice"])
def test_a_cursor_decodes_to_what_was_encoded(filters: TaskFilters, owner: str | None) -> None:
    cursor = TaskCursor(1_767_225_600_123, "8090a407-0000-4000-8000-000000000000", filters, owner)
    assert decode_cursor(encode_cursor(cursor)) == cursor


def _raw(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "not-a-cursor",
        "",
        _raw([1, 2]),
        _raw({"s": 1, "id": "x"}),
        _raw({"s": "soon", "id": "x", "q": {}}),
        _raw({"s": 1, "id": "", "q": {}}),
        _raw({"s": 1, "id": "x", "q": {"type": "sms"}}),
        _raw({"s": 1, "id": "x", "q": {"status": "DONE"}}),
        _raw({"s": 1, "id": "x", "q": {"owner": "someone"}}),
        _raw({"s": 1, "id": "x", "q": {}, "o": ["alice"]}),
        base64.urlsafe_b64encode(b"1767225600123:8090a407").decode(),  # the old format
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(text)


def _cursor(filters: TaskFilters) -> TaskCursor:
    return TaskCursor(1, "id", filters)


@pytest.mark.parametrize(
    ("asked", "cursor", "listed"),
    [
        # No cursor: the request's own filters.
        (FILE_TASKS, None, FILE_TASKS),
        (TaskFilters(), None, TaskFilters()),
        # A cursor alone continues its own query (the case that used to lose the filter).
        (TaskFilters(), _cursor(FILE_TASKS), FILE_TASKS),
        (TaskFilters(), _cursor(FAILED_LOW_DATA), FAILED_LOW_DATA),
        # Repeating the cursor's filters, all or some, is the same query.
        (FILE_TASKS, _cursor(FILE_TASKS), FILE_TASKS),
        (TaskFilters(priority="low"), _cursor(FAILED_LOW_DATA), FAILED_LOW_DATA),
        (FAILED_LOW_DATA, _cursor(FAILED_LOW_DATA), FAILED_LOW_DATA),
    ],
)
def test_a_page_lists_with_the_cursors_filters(
    asked: TaskFilters, cursor: TaskCursor | None, listed: TaskFilters
) -> None:
    assert page_filters(asked, cursor, None) == listed


@pytest.mark.parametrize(
    ("asked", "cursor", "named"),
    [
        (TaskFilters(type="email"), _cursor(FILE_TASKS), "send it without type"),
        (TaskFilters(priority="high"), _cursor(FILE_TASKS), "send it without priority"),
        (TaskFilters(status="FAILED"), _cursor(TaskFilters()), "a list with no filters"),
        (
            TaskFilters(status="SUCCESS", priority="high"),
            _cursor(FAILED_LOW_DATA),
            "without status, priority",
        ),
    ],
)
def test_a_different_query_with_a_cursor_is_refused(
    asked: TaskFilters, cursor: TaskCursor, named: str
) -> None:
    with pytest.raises(CursorError, match=named):
        page_filters(asked, cursor, None)


@pytest.mark.parametrize(
    ("cursor_owner", "caller_owner", "continues"),
    [
        ("alice", "alice", True),
        (None, None, True),
        ("alice", "bob", False),
        (None, "alice", False),  # an admin's cursor pages every owner's list
        ("alice", None, False),
    ],
)
def test_a_cursor_pages_only_the_list_it_came_from(
    cursor_owner: str | None, caller_owner: str | None, continues: bool
) -> None:
    cursor = TaskCursor(1, "id", FILE_TASKS, cursor_owner)
    if continues:
        assert page_filters(TaskFilters(), cursor, caller_owner) == FILE_TASKS
    else:
        with pytest.raises(CursorError, match="another caller's list"):
            page_filters(TaskFilters(), cursor, caller_owner)
