"""API-only models: errors, headers, path parameters and monitoring views."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from taskyard_common.contracts.submit import (
    IDEMPOTENCY_KEY_DESCRIPTION,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_IDEMPOTENCY_KEY_CHARS,
    PageQuery,
)
from taskyard_common.file_ids import FILE_ID_REGEX
from taskyard_common.records import TaskRecord

UUID_REGEX = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorInfo


class SubmitHeaders(BaseModel):
    idempotency_key: str | None = Field(
        default=None,
        alias="Idempotency-Key",  # the documented header name (not `idempotency_key`)
        max_length=MAX_IDEMPOTENCY_KEY_CHARS,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description=IDEMPOTENCY_KEY_DESCRIPTION,
    )

    _schemas: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Built once per set of arguments: flask-openapi3 asks for it on every submit (~1 ms)."""
        key = repr((cls, args, sorted(kwargs.items())))
        if key not in cls._schemas:
            cls._schemas[key] = super().model_json_schema(*args, **kwargs)
        return copy.deepcopy(cls._schemas[key])


class BatchAccepted(BaseModel):
    items: list[TaskRecord] = Field(description="one record per submitted task, in request order")


class TaskPath(BaseModel):
    task_id: str = Field(description="the task id (uuid4)")


class FilePath(BaseModel):
    file_id: str = Field(description="an id from POST /api/files")


class FileInfo(BaseModel):
    id: str = Field(pattern=FILE_ID_REGEX)
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: str
    expires_at: str = Field(
        description="when taskyard-admin purge-expired may delete it (empty: never)"
    )
    owner: str = Field(
        description="the API key name that uploaded it or whose task wrote it "
        "(anonymous: no keys configured)"
    )


class FileList(BaseModel):
    items: list[FileInfo]
    next_cursor: str | None = None


class FileListQuery(PageQuery):
    """GET /api/files: pages of the caller's files."""


class QueueInfo(BaseModel):
    name: str
    type: str
    priority: str
    ready: int
    unacked: int
    consumers: int


class QueueList(BaseModel):
    queues: list[QueueInfo]


class WorkerInfo(BaseModel):
    name: str
    queues: list[str]
    active: int
    processed: int
    last_seen: str


class WorkerList(BaseModel):
    workers: list[WorkerInfo]


class HealthStatus(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
