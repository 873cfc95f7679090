"""The client's copy of the contract's names stays equal to taskyard_common's."""

from __future__ import annotations

from taskyard_client import contract
from taskyard_common import limits, records, topology


def test_task_types_and_priorities() -> None:
    assert tuple(topology.TASK_TYPES) == contract.TASK_TYPES
    assert set(contract.PRIORITIES) == set(topology.PRIORITIES)


def test_statuses() -> None:
    assert tuple(status.value for status in records.TaskStatus) == contract.STATUSES
    assert {status.value for status in records.FINAL_STATUSES} == contract.FINAL_STATUSES


def test_list_limits() -> None:
    assert (contract.LIST_LIMIT_DEFAULT, contract.LIST_LIMIT_MAX) == (
        limits.LIST_LIMIT_DEFAULT,
        limits.LIST_LIMIT_MAX,
    )
