"""/api/tasks: submit, read, list, cancel and rerun tasks."""

from __future__ import annotations

from flask import Response, jsonify, request, url_for
from flask_openapi3.types import ResponseDict

from taskyard_api import submission, task_actions
from taskyard_api.auth import current_caller
from taskyard_api.blueprints import api_blueprint
from taskyard_api.errors import ApiError
from taskyard_api.models import BatchAccepted, ErrorResponse, SubmitHeaders, TaskPath
from taskyard_api.request_guards import require_json_body
from taskyard_api.services import services
from taskyard_common.contracts import BatchSubmitRequest, SubmitRequest, TaskListQuery
from taskyard_common.records import TaskList, TaskRecord

tasks_bp = api_blueprint("tasks", __name__, url_prefix="/api/tasks")
_SUBMIT_PATHS = frozenset({f"{tasks_bp.url_prefix}", f"{tasks_bp.url_prefix}/batch"})
# Cancel and retry: the changed record, or why the change was refused.
_TRANSITION_RESPONSES: ResponseDict = {202: TaskRecord, 404: ErrorResponse, 409: ErrorResponse}


def _record_response(record: TaskRecord, status: int) -> Response:
    response = jsonify(record.model_dump(mode="json"))
    response.status_code = status
    response.headers["Location"] = url_for("tasks.get_task", task_id=record.id)
    return response


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
)
def submit_task(body: SubmitRequest, header: SubmitHeaders) -> Response:
    """Queue a task on `<type>.<priority>`; 202 once RabbitMQ confirmed the message.
    Every file the payload names must be the caller's own: any other is a 422 `no file`."""
    found, caller = services(), current_caller()
    submission.check_named_files(found, [((), body.root)], caller)
    accepted = submission.accept(
        found, [submission.Request(body.root, header.idempotency_key)], caller
    )[0]
    return _record_response(accepted.record, 202 if accepted.created else 200)


@tasks_bp.post(
    "/batch",
    responses={
        202: BatchAccepted,
        400: ErrorResponse,
        413: ErrorResponse,
        415: ErrorResponse,
    },
    summary="Submit many tasks at once",
)
def submit_batch(body: BatchSubmitRequest) -> Response:
    """Validate every item first (one bad item: 422, nothing queued), then queue them all;
    202 with the records in request order once RabbitMQ confirmed every message. A 503
    leaves the confirmed items accepted: repeat the batch with the same per-item
    `idempotency_key`s to get them back and queue the rest. Every item is the caller's;
    a file an item names that is not the caller's is a 422 `no file` at its `loc`."""
    found, caller = services(), current_caller()
    _check_batch(body, found.settings.max_batch_tasks)
    submission.check_named_files(
        found, [(("tasks", i), item) for i, item in enumerate(body.tasks)], caller
    )
    requests = [submission.Request(item, item.idempotency_key) for item in body.tasks]
    try:
        accepted = submission.accept(found, requests, caller)
    except submission.NotConfirmed as error:
        error.details.extend(
            {"loc": ["tasks", i], "msg": "not queued: RabbitMQ did not confirm it"}
            for i in error.unconfirmed
        )
        raise
    response = jsonify(BatchAccepted(items=[a.record for a in accepted]).model_dump(mode="json"))
    response.status_code = 202
    return response


def _check_batch(body: BatchSubmitRequest, max_tasks: int) -> None:
    if len(body.tasks) > max_tasks:
        raise ApiError(
            422,
            f"tasks: at most {max_tasks} tasks in one batch, got {len(body.tasks)}",
            details=[{"loc": ["tasks"], "msg": f"at most {max_tasks} tasks"}],
        )
    first_index: dict[str, int] = {}
    details = []
    for index, item in enumerate(body.tasks):
        key = item.idempotency_key
        if key is None:
            continue
        if key in first_index:
            details.append(
                {
                    "loc": ["tasks", index, "idempotency_key"],
                    "msg": f"the same key as tasks[{first_index[key]}]",
                }
            )
        first_index.setdefault(key, index)
    if details:
        raise ApiError(422, "tasks: idempotency keys repeat within the batch", details=details)


@tasks_bp.get("", responses={200: TaskList})
def list_tasks(query: TaskListQuery) -> Response:
    """List recent tasks, newest first"""
    return jsonify(task_actions.list_page(services(), query).model_dump(mode="json"))


@tasks_bp.get("/<task_id>", responses={200: TaskRecord, 404: ErrorResponse})
def get_task(path: TaskPath) -> Response:
    """One task"""
    return jsonify(task_actions.load(services(), path.task_id).model_dump(mode="json"))


@tasks_bp.delete("/<task_id>", responses=_TRANSITION_RESPONSES)
def cancel_task(path: TaskPath) -> Response:
    """Cancel a task that has not finished"""
    return _record_response(task_actions.cancel(services(), path.task_id), 202)


@tasks_bp.post("/<task_id>/retry", responses=_TRANSITION_RESPONSES)
def retry_task(path: TaskPath) -> Response:
    """Run a FAILED or CANCELLED task again"""
    return _record_response(task_actions.retry(services(), path.task_id), 202)


@tasks_bp.before_request
def _submit_body_is_json() -> None:
    if request.method == "POST" and request.path in _SUBMIT_PATHS:
        require_json_body()
