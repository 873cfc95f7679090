"""The submit request: a task type, its payload, a priority, an optional retry budget, time
limit and schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    HttpUrl,
    RootModel,
    TypeAdapter,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from taskyard_common.callbacks.address_policy import (
    CALLBACKS_TURNED_OFF,
    CallbackRefused,
    check_url,
)
from taskyard_common.clock import utc_now
from taskyard_common.contracts.common import StrictModel
from taskyard_common.contracts.data import DataPayload
from taskyard_common.contracts.email import EmailPayload
from taskyard_common.contracts.file import FilePayload
from taskyard_common.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, MAX_RETRIES_LIMIT
from taskyard_common.records import TaskStatus
from taskyard_common.settings import get_settings
from taskyard_common.topology import DEFAULT_PRIORITY, Priority, TaskType

MAX_CURSOR_CHARS = 200
MAX_IDEMPOTENCY_KEY_CHARS = 255
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"
IDEMPOTENCY_KEY_DESCRIPTION = "the same key within 24 h returns the first task instead of a new one"


def _within_the_type_limit(value: int, info: ValidationInfo) -> int:
    limit = get_settings().time_limit_seconds(info.data["type"])
    if value > limit:
        raise PydanticCustomError(
            "less_than_equal",
            "Input should be less than or equal to {le}, the {task_type} time limit",
            {"le": limit, "task_type": info.data["type"]},
        )
    return value


def _in_utc_within_the_schedule_limit(value: datetime) -> datetime:
    try:
        # In UTC, as every time the API shows; 0001-01-01T00:00:00+01:00 has no UTC form.
        in_utc = value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "Input is outside the datetime range") from None
    _check_schedule_limit((in_utc - utc_now()).total_seconds())
    return in_utc


def _alone_and_within_the_schedule_limit(value: int, info: ValidationInfo) -> int:
    if info.data.get("run_at") is not None:
        raise PydanticCustomError("schedule_conflict", "Give run_at or delay_seconds, not both")
    _check_schedule_limit(value)
    return value


def _check_schedule_limit(seconds_ahead: float) -> None:
    limit = get_settings().max_schedule_seconds
    if seconds_ahead > limit:
        raise PydanticCustomError(
            "schedule_too_far",
            "At most {limit} seconds ahead (TASKYARD_MAX_SCHEDULE_SECONDS)",
            {"limit": limit},
        )


def _callback_host_allowed(value: HttpUrl) -> HttpUrl:
    settings = get_settings()
    if not settings.callbacks_enabled:
        raise PydanticCustomError("callbacks_disabled", CALLBACKS_TURNED_OFF)
    try:
        check_url(str(value), settings.callback_allowed_host_set())
    except CallbackRefused as error:
        raise PydanticCustomError("callback_refused", "{reason}", {"reason": str(error)}) from None
    return value


RunAt = Annotated[AwareDatetime, AfterValidator(_in_utc_within_the_schedule_limit)]
# Declared after run_at, which it may not come with.
DelaySeconds = Annotated[
    int, Field(strict=True, ge=0), AfterValidator(_alone_and_within_the_schedule_limit)
]
CallbackUrl = Annotated[HttpUrl, AfterValidator(_callback_host_allowed)]
# Declared by each submission after its `type`, which says the limit it is checked against.
TimeoutSeconds = Annotated[
    Annotated[int, Field(strict=True, ge=1), AfterValidator(_within_the_type_limit)] | None,
    Field(
        description="seconds one attempt may run: at most, and by default, the type's time limit",
    ),
]


class _Submission(StrictModel):
    priority: Priority = DEFAULT_PRIORITY
    # Strict: `true` or "3" is a client mistake, not a retry budget of 1 or 3.
    max_retries: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETRIES_LIMIT,
        strict=True,
        description="defaults to the server setting",
    )
    run_at: RunAt | None = Field(
        default=None,
        description=(
            "RFC 3339 with an offset: the task is SCHEDULED until then (a past moment runs now);"
            " at most TASKYARD_MAX_SCHEDULE_SECONDS ahead; not with delay_seconds"
        ),
    )
    delay_seconds: DelaySeconds | None = Field(
        default=None,
        description=(
            "run this many seconds after the submit (SCHEDULED until then);"
            " at most TASKYARD_MAX_SCHEDULE_SECONDS; not with run_at"
        ),
    )

    callback_url: CallbackUrl | None = Field(
        default=None,
        description=(
            "http(s) URL POSTed the signed task record when the task ends SUCCESS, FAILED or"
            " CANCELLED; refused if its host resolves to a loopback, private, link-local,"
            " multicast or metadata address (unless in TASKYARD_CALLBACK_ALLOWED_HOSTS);"
            " refused while TASKYARD_CALLBACKS_ENABLED is false"
        ),
    )


class DataSubmission(_Submission):
    type: Literal["data"]
    timeout_seconds: TimeoutSeconds = None
    payload: DataPayload


class EmailSubmission(_Submission):
    type: Literal["email"]
    timeout_seconds: TimeoutSeconds = None
    payload: EmailPayload


class FileSubmission(_Submission):
    type: Literal["file"]
    timeout_seconds: TimeoutSeconds = None
    payload: FilePayload


Submission = Annotated[
    DataSubmission | EmailSubmission | FileSubmission, Field(discriminator="type")
]


class SubmitRequest(RootModel[Submission]):
    """POST /api/tasks: `{"type", "priority"?, "payload", "max_retries"?, "timeout_seconds"?,
    "run_at"? | "delay_seconds"?, "callback_url"?}`."""


class _BatchItem(StrictModel):
    idempotency_key: str | None = Field(
        default=None,
        max_length=MAX_IDEMPOTENCY_KEY_CHARS,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description=IDEMPOTENCY_KEY_DESCRIPTION,
    )


class DataBatchItem(DataSubmission, _BatchItem):
    pass


class EmailBatchItem(EmailSubmission, _BatchItem):
    pass


class FileBatchItem(FileSubmission, _BatchItem):
    pass


BatchItem = Annotated[DataBatchItem | EmailBatchItem | FileBatchItem, Field(discriminator="type")]


class BatchSubmitRequest(StrictModel):
    """POST /api/tasks/batch: `{"tasks": [submit bodies, each with an optional idempotency_key]}`.

    At most TASKYARD_MAX_BATCH_TASKS items; the API checks that bound (a setting) itself.
    """

    tasks: list[BatchItem] = Field(min_length=1)


PAYLOAD_MODELS: dict[TaskType, TypeAdapter[Any]] = {
    "data": TypeAdapter(DataPayload),
    "email": TypeAdapter(EmailPayload),
    "file": TypeAdapter(FilePayload),
}


class PageQuery(BaseModel):
    """One page of a listing: how many items and where the previous page left off."""

    limit: int = Field(default=LIST_LIMIT_DEFAULT, ge=1, le=LIST_LIMIT_MAX)
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_CHARS)


class TaskListQuery(PageQuery):
    status: TaskStatus | None = None
    type: TaskType | None = None
    priority: Priority | None = None
