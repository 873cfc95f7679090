"""Accepting tasks, single or in a batch: idempotent create, publish, compensation.

1. Each task's record is written together with its idempotency key (one atomic script per
   task, all of a batch in one round trip). A key already held by a live record answers
   that record instead, and nothing is published for it.
2. The new tasks' messages are published and confirmed together.
3. Tasks RabbitMQ did not confirm are discarded (record and key), so repeating the request
   with the same keys queues exactly those; confirmed tasks stay accepted.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from taskyard_api import http_metrics
from taskyard_api.auth import Caller
from taskyard_api.errors import ApiError, BackendUnavailable
from taskyard_api.publisher import PublishFailed
from taskyard_api.services import Services
from taskyard_common import topology
from taskyard_common.clock import iso, utc_now
from taskyard_common.contracts.common import Loc, named_files
from taskyard_common.contracts.submit import Submission
from taskyard_common.logs import get_logger
from taskyard_common.records import CallbackState, HistoryEntry, TaskRecord, TaskStatus
from taskyard_common.schedule import is_scheduled, requested_run_at
from taskyard_common.status_store import NewTask
from taskyard_common.storage import FileNotFound

# A key's holder can vanish between the claim and the read (it expired, or its own submit
# was just compensated); the claim is then tried again, this many times at most.
CLAIM_ATTEMPTS = 3
log = get_logger("taskyard.api")


@dataclass(frozen=True)
class Request:
    submission: Submission
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Accepted:
    record: TaskRecord
    created: bool  # False: an earlier request with the same idempotency key made it


class NotConfirmed(BackendUnavailable):
    """RabbitMQ did not confirm every new task; `unconfirmed` are request indexes."""

    def __init__(self, unconfirmed: list[int], cause: BaseException | str) -> None:
        super().__init__("rabbitmq", cause)
        self.unconfirmed = unconfirmed


def idempotency_scope(owner: str, key: str) -> str:
    """Keys are per owner: the same key from two API keys names two tasks."""
    return hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()


def check_named_files(
    found: Services, submissions: Sequence[tuple[Loc, Submission]], caller: Caller
) -> None:
    """422 unless every file the tasks name is the caller's: a task may only use its
    owner's files. Another owner's file is reported as missing, like a deleted one.
    Each file is looked up once, however many tasks of a batch name it."""
    named = [
        hit for loc, item in submissions for hit in named_files(item.payload, (*loc, "payload"))
    ]
    usable: dict[str, bool] = {}
    for _, file_id in named:
        if file_id not in usable:
            usable[file_id] = _is_owned(found, file_id, caller.name)
    details = [
        {"loc": list(loc), "msg": f"no file {file_id}"}
        for loc, file_id in named
        if not usable[file_id]
    ]
    if details:
        first = details[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ApiError(422, f"{where}: {first['msg']}", details=details)


def _is_owned(found: Services, file_id: str, owner: str) -> bool:
    try:
        found.files.stat(file_id, owner=owner)
    except FileNotFound:
        return False
    return True


def _new_task(found: Services, request: Request, caller: Caller) -> NewTask:
    submission = request.submission
    now = utc_now()
    created_at = iso(now)
    run_at = requested_run_at(submission.run_at, submission.delay_seconds, now)
    status = TaskStatus.SCHEDULED if is_scheduled(run_at, now) else TaskStatus.QUEUED
    record = TaskRecord(
        id=str(uuid.uuid4()),
        type=submission.type,
        priority=submission.priority,
        queue=topology.queue_name(submission.type, submission.priority),
        owner=caller.name,
        status=status,
        max_retries=(
            found.settings.retry_max_retries
            if submission.max_retries is None
            else submission.max_retries
        ),
        timeout_seconds=(
            submission.timeout_seconds or found.settings.time_limit_seconds(submission.type)
        ),
        created_at=created_at,
        run_at=None if run_at is None else iso(run_at),
        history=[HistoryEntry(status=status, at=created_at)],
        callback=(
            None
            if submission.callback_url is None
            else CallbackState(url=str(submission.callback_url))
        ),
    )
    return NewTask(
        record,
        submission.model_dump(mode="json", include={"payload"})["payload"],
        idempotency_scope(caller.name, request.idempotency_key)
        if request.idempotency_key
        else None,
    )


def _create(found: Services, new_tasks: list[NewTask]) -> tuple[list[Accepted | None], list[int]]:
    """Write the records; answer held keys with their holders. Returns the answers so far
    (None for the tasks created now) and the indexes of the tasks created now."""
    answers: list[Accepted | None] = [None] * len(new_tasks)
    created: list[int] = []
    pending = list(range(len(new_tasks)))
    for _ in range(CLAIM_ATTEMPTS):
        holders = found.store.create_many([new_tasks[i] for i in pending])
        held = [(i, holder) for i, holder in zip(pending, holders, strict=True) if holder]
        created.extend(i for i, holder in zip(pending, holders, strict=True) if not holder)
        records = found.store.get_many([holder for _, holder in held])
        pending = []
        for (i, _), record in zip(held, records, strict=True):
            if record is None:
                pending.append(i)
            else:
                answers[i] = Accepted(record, created=False)
        if not pending:
            return answers, created
    raise BackendUnavailable("redis", "idempotency keys kept changing hands; try again")


def accept(found: Services, requests: Sequence[Request], caller: Caller) -> list[Accepted]:
    """Every request's task, owned by `caller`, in order, each queued and confirmed by
    RabbitMQ (or created earlier under the same key). Raises NotConfirmed after discarding
    what was not."""
    new_tasks = [_new_task(found, request, caller) for request in requests]
    answers, created = _create(found, new_tasks)
    to_publish = [new_tasks[i] for i in created]
    try:
        found.publisher.publish(to_publish)
    except PublishFailed as failure:
        unconfirmed = [i for i, ok in zip(created, failure.confirmed, strict=True) if not ok]
        found.store.discard_many([new_tasks[i] for i in unconfirmed])
        confirmed = [i for i, ok in zip(created, failure.confirmed, strict=True) if ok]
        _log_submitted([new_tasks[i] for i in confirmed])
        log.warning(
            "tasks_not_confirmed",
            task_ids=[new_tasks[i].record.id for i in unconfirmed],
            confirmed=len(confirmed),
            error=str(failure.cause),
        )
        raise NotConfirmed(unconfirmed, failure.cause) from failure
    _log_submitted(to_publish)
    for i in created:
        answers[i] = Accepted(new_tasks[i].record, created=True)
    return [answer for answer in answers if answer is not None]


def _log_submitted(submitted: list[NewTask]) -> None:
    for new in submitted:
        record = new.record
        http_metrics.count_submitted(record.type, record.priority)
        log.info(
            "task_submitted",
            task_id=record.id,
            type=record.type,
            priority=record.priority,
            attempt=0,
            queue=record.queue,
            **({"run_at": record.run_at} if record.status is TaskStatus.SCHEDULED else {}),
        )
