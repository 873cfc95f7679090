"""What the /api/tasks routes and the web console do to tasks: one implementation for both.

Each function answers a record or raises ApiError (404, 409, 422, 503), which the API turns
into its JSON error and the console into a page.
"""

from __future__ import annotations

import re

from taskyard_api.auth import current_caller
from taskyard_api.errors import ApiError, BackendUnavailable, invalid_cursor
from taskyard_api.models import UUID_REGEX
from taskyard_api.publisher import PublishFailed
from taskyard_api.services import Services
from taskyard_common.contracts import TaskListQuery
from taskyard_common.logs import get_logger
from taskyard_common.records import TaskList, TaskRecord, TaskStatus
from taskyard_common.status_store import NewTask, TransitionOutcome
from taskyard_common.task_cursors import CursorError

_UUID = re.compile(UUID_REGEX)
log = get_logger("taskyard.api")


def load(found: Services, task_id: str) -> TaskRecord:
    """The task, if the caller may see it: another owner's task is as missing as none (404)."""
    record = found.store.get(task_id) if _UUID.fullmatch(task_id) else None
    if record is None or not current_caller().can_see(record.owner):
        raise ApiError(404, f"no task {task_id}")
    return record


def list_page(found: Services, query: TaskListQuery) -> TaskList:
    try:
        items, next_cursor = found.store.list_records(
            status=query.status,
            task_type=query.type,
            priority=query.priority,
            limit=query.limit,
            cursor=query.cursor,
            owner=current_caller().owner_filter,
        )
    except CursorError as error:
        raise invalid_cursor(error) from error
    return TaskList(items=items, next_cursor=next_cursor)


def _check_applied(outcome: TransitionOutcome, task_id: str, conflict: str) -> None:
    """404 if the task went meanwhile; 409 with `conflict` (naming its {status}) if its status
    does not allow the change."""
    if outcome.applied:
        return
    if outcome.missing:
        raise ApiError(404, f"no task {task_id}")
    raise ApiError(409, conflict.format(status=outcome.previous_status))


def cancel(found: Services, task_id: str) -> TaskRecord:
    record = load(found, task_id)
    outcome = found.store.cancel(record.id)
    _check_applied(outcome, record.id, "task is {status} and cannot be cancelled")
    log.info(
        "task_cancelled",
        task_id=record.id,
        type=record.type,
        priority=record.priority,
        attempt=record.attempts,
    )
    return load(found, record.id)


def retry(found: Services, task_id: str) -> TaskRecord:
    record = load(found, task_id)
    payload = found.store.get_payload(record.id)
    outcome = found.store.requeue(record.id)
    _check_applied(outcome, record.id, "task is {status}; only FAILED or CANCELLED tasks rerun")
    requeued = load(found, record.id)
    try:
        found.publisher.publish([NewTask(requeued, payload or {})])
    except PublishFailed as error:
        found.store.fail(
            record.id, {"type": "BrokerUnavailable", "message": str(error), "retryable": True}
        )
        raise BackendUnavailable("rabbitmq", error.cause) from error
    log.info(
        "task_requeued", task_id=record.id, type=record.type, priority=record.priority, attempt=0
    )
    return requeued


def retry_failed(found: Services, query: TaskListQuery, at_most: int) -> list[TaskRecord]:
    """Rerun up to `at_most` FAILED tasks matching the query's type and priority, newest first.

    The ids are collected before any rerun: a rerun leaves FAILED, which would move the
    listing under the cursor's feet. A task another request reran meanwhile is skipped."""
    listing = query.model_copy(update={"status": TaskStatus.FAILED, "cursor": None})
    task_ids: list[str] = []
    while len(task_ids) < at_most:
        page = list_page(found, listing)
        task_ids.extend(record.id for record in page.items)
        if page.next_cursor is None:
            break
        listing = listing.model_copy(update={"cursor": page.next_cursor})
    rerun = []
    for task_id in task_ids[:at_most]:
        try:
            rerun.append(retry(found, task_id))
        except ApiError as error:
            if error.status not in (404, 409):
                raise
    log.info(
        "tasks_bulk_requeued",
        type=query.type,
        priority=query.priority,
        found=len(task_ids[:at_most]),
        requeued=len(rerun),
    )
    return rerun
