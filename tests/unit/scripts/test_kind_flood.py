"""The flood of `make e2e-kind` (scripts/kind_flood.py): when it waits, passes or fails."""

from __future__ import annotations

import pytest

from scripts.kind_flood import main, still_pending


@pytest.mark.parametrize(
    ("statuses", "pending"),
    [
        ({"a": "SUCCESS", "b": "SUCCESS"}, set()),
        ({"a": "SUCCESS", "b": "PROCESSING", "c": "QUEUED"}, {"b", "c"}),
        ({"a": "RETRYING"}, {"a"}),  # a retry may still end SUCCESS
        ({}, set()),
    ],
)
def test_still_pending(statuses: dict[str, str], pending: set[str]) -> None:
    assert still_pending({i: {"status": s} for i, s in statuses.items()}) == pending


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_a_task_that_ends_otherwise_fails_the_check(status: str) -> None:
    with pytest.raises(SystemExit, match=f"task b ended {status}: boom"):
        still_pending({"a": {"status": "QUEUED"}, "b": {"status": status, "error": "boom"}})


def test_usage() -> None:
    assert main(["flood"]) == 2
