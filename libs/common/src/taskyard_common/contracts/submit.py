"""The submit request: a task type, its payload, a priority, an optional retry budget and
time limit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel, TypeAdapter, ValidationError

from taskyard_common.contracts.common import StrictModel
from taskyard_common.contracts.data import DataPayload
from taskyard_common.contracts.email import EmailPayload
from taskyard_common.contracts.file import FilePayload
from taskyard_common.records import TaskStatus
from taskyard_common.settings import Settings
from taskyard_common.topology import DEFAULT_PRIORITY, Priority, TaskType

MAX_RETRIES_LIMIT = 100
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200
MAX_CURSOR_CHARS = 200


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
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description="seconds one attempt may run, at most the type's time limit (the default)",
    )


class DataSubmission(_Submission):
    type: Literal["data"]
    payload: DataPayload


class EmailSubmission(_Submission):
    type: Literal["email"]
    payload: EmailPayload


class FileSubmission(_Submission):
    type: Literal["file"]
    payload: FilePayload


Submission = Annotated[
    DataSubmission | EmailSubmission | FileSubmission, Field(discriminator="type")
]


class SubmitRequest(RootModel[Submission]):
    """POST /api/tasks: `{"type", "priority"?, "payload", "max_retries"?}`."""


PAYLOAD_MODELS: dict[TaskType, TypeAdapter[Any]] = {
    "data": TypeAdapter(DataPayload),
    "email": TypeAdapter(EmailPayload),
    "file": TypeAdapter(FilePayload),
}


def resolve_timeout_seconds(
    submission: DataSubmission | EmailSubmission | FileSubmission, settings: Settings
) -> int:
    """The time limit of the submission's attempts; a ValidationError when it asks for more
    than its type's limit (which only the settings know, so the model cannot check it)."""
    limit = settings.time_limit_seconds(submission.type)
    requested = submission.timeout_seconds
    if requested is None:
        return limit
    if requested > limit:
        raise ValidationError.from_exception_data(
            "timeout_seconds",
            [
                {
                    "type": "less_than_equal",
                    "loc": ("timeout_seconds",),
                    "input": requested,
                    "ctx": {"le": limit},
                }
            ],
        )
    return requested


def parse_submission(body: Any) -> DataSubmission | EmailSubmission | FileSubmission:
    return SubmitRequest.model_validate(body).root


class TaskListQuery(BaseModel):
    status: TaskStatus | None = None
    type: TaskType | None = None
    priority: Priority | None = None
    limit: int = Field(default=LIST_LIMIT_DEFAULT, ge=1, le=LIST_LIMIT_MAX)
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_CHARS)
