"""POST /api/tasks/batch against real RabbitMQ, Redis and workers, including a broker that
refuses part of a batch (a queue length limit with reject-publish: RabbitMQ nacks what does
not fit) and the client's repeat of the same batch with the same keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from support.client import ApiClient
from support.polling import eventually
from support.stack import Stack, management

FULL_QUEUE = "data.low"
OTHER_QUEUE = "data.high"
QUEUE_ROOM = 3


def _data_task(priority: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "data",
        "priority": priority,
        "payload": {"input": {"records": [{"n": n}]}},
        **extra,
    }


def _batch(stack: Stack, tasks: list[dict[str, Any]]) -> Any:
    return ApiClient(stack.base_url).post("/api/tasks/batch", json={"tasks": tasks})


def test_a_batch_is_queued_in_request_order_and_runs(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    tasks = [_data_task(("high", "normal", "low")[n % 3], n) for n in range(12)]

    response = _batch(stack, tasks)

    assert response.status_code == 202, response.text
    items = response.json()["items"]
    assert [(i["type"], i["priority"], i["status"]) for i in items] == [
        ("data", t["priority"], "QUEUED") for t in tasks
    ]
    assert len({i["id"] for i in items}) == len(tasks)
    for n, item in enumerate(items):
        record = api.wait_for(item["id"])
        assert record["status"] == "SUCCESS", record
        assert record["result"]["rows"] == [{"n": n}]


def test_repeating_a_batch_with_the_same_keys_returns_the_same_tasks(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    prefix = uuid.uuid4().hex
    tasks = [_data_task("normal", n, idempotency_key=f"{prefix}-{n}") for n in range(5)]

    first = _batch(stack, tasks)
    again = _batch(stack, tasks)

    assert (first.status_code, again.status_code) == (202, 202), again.text
    ids = [i["id"] for i in first.json()["items"]]
    assert [i["id"] for i in again.json()["items"]] == ids
    assert all(api.wait_for(task_id)["status"] == "SUCCESS" for task_id in ids)
    # A single submit with one of the keys is not the same scope: the header and the
    # item field share it, so it answers the batch's task.
    single = api.post(
        "/api/tasks", json=_data_task("normal", 0), headers={"Idempotency-Key": f"{prefix}-0"}
    )
    assert (single.status_code, single.json()["id"]) == (200, ids[0])


POLICY = "batch-test-max-length"
ROOMY = 100_000


def _limit_queue(stack: Stack, room: int) -> None:
    management(
        "PUT",
        f"/policies/{stack.vhost}/{POLICY}",
        stack.endpoints,
        json={
            "pattern": f"^{FULL_QUEUE.replace('.', '[.]')}$",
            "apply-to": "queues",
            "priority": 100,
            "definition": {"max-length": room, "overflow": "reject-publish"},
        },
    )


@pytest.fixture
def full_queue(stack: Stack) -> Iterator[None]:
    """FULL_QUEUE without its worker and with room for QUEUE_ROOM messages; then restored."""
    policy = f"/policies/{stack.vhost}/{POLICY}"
    stack.stop_worker(FULL_QUEUE)
    try:
        _limit_queue(stack, QUEUE_ROOM)
        eventually(lambda: _assert_policy(stack, FULL_QUEUE, POLICY), timeout_seconds=30)
        yield
    finally:
        _limit_queue(stack, ROOMY)
        stack.start_worker(FULL_QUEUE)
        # The queue lifts its limit a moment after the policy goes: later tests need it lifted.
        api = ApiClient(stack.base_url)
        probe = eventually(lambda: api.submit(_data_task("low", -2)), timeout_seconds=60)
        api.wait_for(probe["id"])
        management("DELETE", policy, stack.endpoints)


def _fill_until_refused(api: ApiClient) -> int:
    """Single submits to FULL_QUEUE until RabbitMQ refuses one (a quorum queue applies its
    length limit a moment late, so it may take more than QUEUE_ROOM); how many it took."""
    for accepted in range(QUEUE_ROOM * 10):
        response = api.post("/api/tasks", json=_data_task("low", -1))
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) > 0
            return accepted
        assert response.status_code == 202, response.text
    raise AssertionError(f"{FULL_QUEUE} took {QUEUE_ROOM * 10} messages despite its limit")


def _low_records(api: ApiClient) -> list[dict[str, Any]]:
    page = api.get("/api/tasks", params={"type": "data", "priority": "low", "limit": 200})
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def _accepted_items(stack: Stack, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = _batch(stack, tasks)
    assert response.status_code == 202, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _assert_policy(stack: Stack, queue: str, name: str | None) -> None:
    info = management("GET", f"/queues/{stack.vhost}/{queue}", stack.endpoints).json()
    assert info.get("policy") == name, info.get("policy")


def test_a_batch_the_broker_refuses_part_way_is_503_and_its_repeat_queues_the_rest(
    stack: Stack, full_queue: None
) -> None:
    api = ApiClient(stack.base_url)
    earlier = len(_low_records(api))  # other tests' tasks on the same queue
    filled = _fill_until_refused(api)
    prefix = uuid.uuid4().hex
    # The full queue's messages between others': what is confirmed is not the first n.
    priorities = ["high", "low", "high", "low", "low", "high"]
    refused = [n for n, priority in enumerate(priorities) if priority == "low"]
    tasks = [
        _data_task(priority, n, idempotency_key=f"{prefix}-{n}")
        for n, priority in enumerate(priorities)
    ]

    response = _batch(stack, tasks)

    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    details = response.json()["error"]["details"]
    assert [d["loc"] for d in details if d["loc"][0] == "tasks"] == [["tasks", n] for n in refused]
    high = api.get("/api/tasks", params={"type": "data", "priority": "high"}).json()["items"]
    assert len(_low_records(api)) == earlier + filled, "refused tasks leave no record behind"

    # The broker recovers: room in the queue. A quorum queue lifts its refusal once messages
    # leave it below the new limit (a policy removed outright may leave it refusing), so the
    # worker takes them, and the client repeats the batch until it is 202.
    _limit_queue(stack, ROOMY)
    stack.start_worker(FULL_QUEUE)
    try:
        items = eventually(lambda: _accepted_items(stack, tasks), timeout_seconds=60)
        records = [api.wait_for(item["id"]) for item in items]
    finally:
        stack.stop_worker(FULL_QUEUE)
    kept = {items[n]["id"] for n, priority in enumerate(priorities) if priority == "high"}
    assert kept <= {record["id"] for record in high}
    assert [r["status"] for r in records] == ["SUCCESS"] * len(tasks)
    assert [r["attempts"] for r in records] == [1] * len(tasks)
    every_low = _low_records(api)
    assert len(every_low) == earlier + filled + len(refused), "a repeat must not duplicate a task"
