"""Request and payload models shared by the API (to validate) and the workers (to parse)."""

from taskyard_common.contracts.data import DataPayload
from taskyard_common.contracts.email import EmailPayload
from taskyard_common.contracts.file import FilePayload
from taskyard_common.contracts.submit import (
    PAYLOAD_MODELS,
    BatchSubmitRequest,
    SubmitRequest,
    TaskListQuery,
)

__all__ = [
    "PAYLOAD_MODELS",
    "BatchSubmitRequest",
    "DataPayload",
    "EmailPayload",
    "FilePayload",
    "SubmitRequest",
    "TaskListQuery",
]
