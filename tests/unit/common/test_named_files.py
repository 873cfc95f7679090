"""Which files a payload names, and where: what the API checks against the caller's files."""

from __future__ import annotations

from typing import Any

import pytest

from taskyard_common.contracts import SubmitRequest
from taskyard_common.contracts.common import named_files

A, B = "a" * 32, "b" * 32
NO_OPS: dict[str, Any] = {"operations": []}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "data", "payload": {"input": {"records": [{"file_id": A}]}, **NO_OPS}}, []),
        (
            {"type": "data", "payload": {"input": {"file_id": A, "format": "csv"}, **NO_OPS}},
            [(("payload", "input", "file_id"), A)],
        ),
        (
            {"type": "file", "payload": {"file_id": B, "operation": "checksum"}},
            [(("payload", "file_id"), B)],
        ),
        (
            {
                "type": "email",
                "payload": {
                    "to": ["ada@example.com"],
                    "subject": "s",
                    "text": "t",
                    "context": {"file_id": A},
                    "attachments": [{"file_id": A}, {"file_id": B}],
                },
            },
            [
                (("payload", "attachments", 0, "file_id"), A),
                (("payload", "attachments", 1, "file_id"), B),
            ],
        ),
    ],
)
def test_named_files(body: dict[str, Any], expected: list[tuple[tuple[Any, ...], str]]) -> None:
    submission = SubmitRequest.model_validate(body).root
    assert named_files(submission.payload, ("payload",)) == expected
