"""/api/tasks: submit, read, list, cancel and rerun tasks."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from flask import Response, jsonify, request, url_for
from flask_openapi3 import APIBlueprint, Tag

from taskyard_api import http_metrics
from taskyard_api.auth import caller_identity
from taskyard_api.errors import ApiError
from taskyard_api.models import UUID_REGEX, ErrorResponse, SubmitHeaders, TaskPath
from taskyard_api.publisher import publish
from taskyard_api.request_guards import require_json_body
from taskyard_api.services import Services, services
from taskyard_common import topology
from taskyard_common.clock import now_iso
from taskyard_common.contracts import SubmitRequest, TaskListQuery
from taskyard_common.logs import get_logger
from taskyard_common.records import HistoryEntry, TaskList, TaskRecord, TaskStatus
from taskyard_common.task_cursors import CursorError

tasks_bp = APIBlueprint("tasks", __name__, url_prefix="/api/tasks", abp_tags=[Tag(name="tasks")])
log = get_logger("taskyard.api")
_UUID = re.compile(UUID_REGEX)


def _record_response(record: TaskRecord, status: int) -> Response:
    response = jsonify(record.model_dump(mode="json"))
    response.status_code = status
    response.headers["Location"] = url_for("tasks.get_task", task_id=record.id)
    return response


def _load(found: Services, task_id: str) -> TaskRecord:
    record = found.store.get(task_id) if _UUID.fullmatch(task_id) else None
    if record is None:
        raise ApiError(404, f"no task {task_id}")
    return record


def _idempotency_scope(key: str) -> str:
    return hashlib.sha256(f"{caller_identity()}\0{key}".encode()).hexdigest()


@tasks_bp.post(
    "",
    responses={
        202: TaskRecord,
        200: TaskRecord,
        400: ErrorResponse,
        413: ErrorResponse,
        415: ErrorResponse,
    },
    summary="Submit a task",
    operation_id="submitTask",
)
def submit_task(body: SubmitRequest, header: SubmitHeaders) -> Response:
    """Queue a task on `<type>.<priority>`; 202 once RabbitMQ confirmed the message."""
    found = services()
    submission = body.root
    task_id = str(uuid.uuid4())
    scope = _idempotency_scope(header.idempotency_key) if header.idempotency_key else None
    if scope:
        existing_id = found.store.claim_idempotency_key(
            scope, task_id, found.settings.idempotency_ttl_seconds
        )
        if existing_id:
            existing = found.store.get(existing_id)
            if existing is not None:
                return _record_response(existing, 200)
            found.store.release_idempotency_key(scope)
            found.store.claim_idempotency_key(
                scope, task_id, found.settings.idempotency_ttl_seconds
            )
    created_at = now_iso()
    record = TaskRecord(
        id=task_id,
        type=submission.type,
        priority=submission.priority,
        queue=topology.queue_name(submission.type, submission.priority),
        status=TaskStatus.QUEUED,
        max_retries=(
            found.settings.retry_max_retries
            if submission.max_retries is None
            else submission.max_retries
        ),
        timeout_seconds=(
            submission.timeout_seconds or found.settings.time_limit_seconds(submission.type)
        ),
        created_at=created_at,
        history=[HistoryEntry(status=TaskStatus.QUEUED, at=created_at)],
    )
    payload: dict[str, Any] = submission.model_dump(mode="json")["payload"]
    try:
        found.store.create(record, payload)
    except Exception:
        if scope:
            found.store.release_idempotency_key(scope)
        raise
    try:
        publish(found, record, payload)
    except ApiError:
        found.store.delete(task_id)
        if scope:
            found.store.release_idempotency_key(scope)
        raise
    http_metrics.count_submitted(record.type, record.priority)
    log.info(
        "task_submitted",
        task_id=task_id,
        type=record.type,
        priority=record.priority,
        attempt=0,
        queue=record.queue,
    )
    return _record_response(record, 202)


@tasks_bp.get(
    "",
    responses={200: TaskList},
    summary="List recent tasks, newest first",
    operation_id="listTasks",
)
def list_tasks(query: TaskListQuery) -> Response:
    try:
        items, next_cursor = services().store.list_records(
            status=query.status,
            task_type=query.type,
            priority=query.priority,
            limit=query.limit,
            cursor=query.cursor,
        )
    except CursorError as error:
        raise ApiError(
            422, f"cursor: {error}", details=[{"loc": ["query", "cursor"], "msg": str(error)}]
        ) from error
    return jsonify(TaskList(items=items, next_cursor=next_cursor).model_dump(mode="json"))


@tasks_bp.get(
    "/<task_id>",
    responses={200: TaskRecord, 404: ErrorResponse},
    summary="One task",
    operation_id="getTask",
)
def get_task(path: TaskPath) -> Response:
    return jsonify(_load(services(), path.task_id).model_dump(mode="json"))


@tasks_bp.delete(
    "/<task_id>",
    responses={202: TaskRecord, 404: ErrorResponse, 409: ErrorResponse},
    summary="Cancel a task that has not finished",
    operation_id="cancelTask",
)
def cancel_task(path: TaskPath) -> Response:
    found = services()
    record = _load(found, path.task_id)
    outcome = found.store.cancel(record.id)
    if not outcome.applied:
        if outcome.missing:
            raise ApiError(404, f"no task {record.id}")
        raise ApiError(409, f"task is {outcome.previous_status} and cannot be cancelled")
    log.info(
        "task_cancelled",
        task_id=record.id,
        type=record.type,
        priority=record.priority,
        attempt=record.attempts,
    )
    return _record_response(_load(found, record.id), 202)


@tasks_bp.post(
    "/<task_id>/retry",
    responses={202: TaskRecord, 404: ErrorResponse, 409: ErrorResponse},
    summary="Run a FAILED or CANCELLED task again",
    operation_id="retryTask",
)
def retry_task(path: TaskPath) -> Response:
    found = services()
    record = _load(found, path.task_id)
    payload = found.store.get_payload(record.id)
    outcome = found.store.requeue(record.id)
    if not outcome.applied:
        if outcome.missing:
            raise ApiError(404, f"no task {record.id}")
        raise ApiError(
            409, f"task is {outcome.previous_status}; only FAILED or CANCELLED tasks rerun"
        )
    requeued = _load(found, record.id)
    try:
        publish(found, requeued, payload or {})
    except ApiError as error:
        found.store.fail(
            record.id, {"type": "BrokerUnavailable", "message": error.message, "retryable": True}
        )
        raise
    log.info(
        "task_requeued", task_id=record.id, type=record.type, priority=record.priority, attempt=0
    )
    return _record_response(requeued, 202)


@tasks_bp.before_request
def _submit_body_is_json() -> None:
    if request.method == "POST" and request.path == tasks_bp.url_prefix:
        require_json_body()
