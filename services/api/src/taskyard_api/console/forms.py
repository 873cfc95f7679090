"""The console's forms and query strings, checked by pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from taskyard_api.auth import MAX_KEY_CHARS
from taskyard_api.models import UUID_REGEX
from taskyard_common.contracts import TaskListQuery

FILTER_FIELDS = ("status", "type", "priority")
PAGE_SIZE = 25
_UUID = re.compile(UUID_REGEX)


@dataclass
class TaskFilters:
    query: TaskListQuery
    # the filters as they were asked, for the form to show them again
    chosen: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def task_filters(args: Mapping[str, str], *, with_cursor: bool = True) -> TaskFilters:
    """The listing a query string asks for; a value the API would refuse is dropped and named."""
    chosen = {name: args.get(name, "") for name in FILTER_FIELDS if args.get(name, "")}
    wanted: dict[str, str | int] = {**chosen, "limit": PAGE_SIZE}
    if with_cursor and args.get("cursor"):
        wanted["cursor"] = args["cursor"]
    problems = []
    try:
        query = TaskListQuery.model_validate(wanted)
    except ValidationError as error:
        bad = {str(problem["loc"][0]) for problem in error.errors()}
        problems = [f"{name}: not a valid value" for name in sorted(bad)]
        query = TaskListQuery.model_validate(
            {name: value for name, value in wanted.items() if name not in bad}
        )
        chosen = {name: value for name, value in chosen.items() if name not in bad}
    return TaskFilters(query, chosen, problems)


def task_id_problem(task_id: str) -> str | None:
    task_id = task_id.strip()
    if not task_id:
        return "enter a task id"
    if not _UUID.fullmatch(task_id):
        return "a task id is a UUID such as 0b6f3c1e-4c1a-4f7e-9d3b-2a1e5c7d9f00"
    return None


def api_key_problem(key: str) -> str | None:
    if not key.strip():
        return "enter an API key"
    if len(key) > MAX_KEY_CHARS:
        return f"an API key has at most {MAX_KEY_CHARS} characters"
    return None
