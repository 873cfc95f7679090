"""The task record as the API returns it and the status store keeps it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from taskyard_common.settings import ANONYMOUS
from taskyard_common.topology import Priority, TaskType


class TaskStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    RECEIVED = "RECEIVED"
    PROCESSING = "PROCESSING"
    RETRYING = "RETRYING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINAL_STATUSES = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.CANCELLED})
RERUNNABLE_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})


class HistoryEntry(BaseModel):
    status: TaskStatus
    at: str


class TaskErrorInfo(BaseModel):
    type: str
    message: str
    retryable: bool


class CallbackStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class CallbackState(BaseModel):
    """Where delivery of the task's completion callback stands."""

    url: str
    status: CallbackStatus = CallbackStatus.PENDING
    attempts: int = Field(default=0, description="POSTs tried for the latest final status")
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: str | None = None


class TaskRecord(BaseModel):
    id: str = Field(description="uuid4, also the Celery task id")
    type: TaskType
    priority: Priority
    queue: str
    owner: str = Field(
        default=ANONYMOUS,
        description="the name of the API key that submitted it (anonymous: no keys configured)",
    )
    status: TaskStatus
    attempts: int = 0
    max_retries: int
    timeout_seconds: int | None = Field(
        default=None, description="seconds one attempt may run before it is stopped"
    )
    created_at: str
    run_at: str | None = Field(
        default=None, description="when a scheduled task was asked to run (run_at or delay_seconds)"
    )
    started_at: str | None = None
    finished_at: str | None = None
    next_retry_at: str | None = None
    progress: float | None = None
    result: dict[str, Any] | None = None
    error: TaskErrorInfo | None = None
    worker: str | None = Field(default=None, description="the worker that ran the last attempt")
    history: list[HistoryEntry] = Field(default_factory=list)
    callback: CallbackState | None = Field(
        default=None, description="the completion callback asked for with callback_url, if any"
    )


class TaskList(BaseModel):
    items: list[TaskRecord]
    next_cursor: str | None = None
