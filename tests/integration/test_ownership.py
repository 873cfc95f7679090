"""Per-key ownership on the real stack: two keys never see each other's tasks and files,
an admin key sees both, and a task may only use its owner's files."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from support.client import ApiClient
from support.stack import Stack, running_stack

NAMED = {name: f"{name}-{secrets.token_urlsafe(18)}" for name in ("alice", "bob", "root")}
DATA = {"input": {"records": [{"region": "eu", "amount": 1}]}, "operations": []}
LATER = 3600


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    env = {
        "TASKYARD_API_KEYS": ",".join(f"{name}:{key}" for name, key in NAMED.items()),
        "TASKYARD_ADMIN_API_KEYS": "root",
    }
    with running_stack("ownership", env, queues=["data.normal", "file.normal"]) as running:
        yield running


@pytest.fixture(scope="module")
def alice(stack: Stack) -> ApiClient:
    return ApiClient(stack.base_url, api_key=NAMED["alice"])


@pytest.fixture(scope="module")
def bob(stack: Stack) -> ApiClient:
    return ApiClient(stack.base_url, api_key=NAMED["bob"])


@pytest.fixture(scope="module")
def root(stack: Stack) -> ApiClient:
    return ApiClient(stack.base_url, api_key=NAMED["root"])


def _status(response: Any, expected: int) -> Any:
    assert response.status_code == expected, (response.status_code, response.text[:500])
    return response.json() if response.content else None


def _listed(client: ApiClient, path: str) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = _status(client.get(path, params=params), 200)
        ids.update(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def test_a_key_sees_and_acts_only_on_its_own_tasks(
    alice: ApiClient, bob: ApiClient, root: ApiClient
) -> None:
    scheduled = alice.submit({"type": "data", "payload": DATA, "delay_seconds": LATER})
    assert scheduled["owner"] == "alice"
    path = f"/api/tasks/{scheduled['id']}"
    for response in (
        bob.get(path),
        bob.delete(path),
        bob.post(f"{path}/retry"),
    ):
        assert _status(response, 404)["error"]["message"] == f"no task {scheduled['id']}"
    assert scheduled["id"] not in _listed(bob, "/api/tasks")
    assert scheduled["id"] not in _listed(bob, "/api/tasks?status=SCHEDULED")
    assert scheduled["id"] in _listed(alice, "/api/tasks?status=SCHEDULED&type=data")
    # The admin sees it and may act on it; the task stays alice's.
    assert _status(root.get(path), 200)["owner"] == "alice"
    assert scheduled["id"] in _listed(root, "/api/tasks?status=SCHEDULED")
    assert _status(alice.delete(path), 202)["status"] == "CANCELLED"
    assert scheduled["id"] in _listed(alice, "/api/tasks?status=CANCELLED")
    assert scheduled["id"] not in _listed(bob, "/api/tasks?status=CANCELLED")
    rerun = _status(root.post(f"{path}/retry"), 202)
    assert rerun["owner"] == "alice"
    assert alice.wait_for(scheduled["id"])["status"] == "SUCCESS"


def test_bobs_tasks_are_his_and_the_admin_lists_both(
    alice: ApiClient, bob: ApiClient, root: ApiClient
) -> None:
    mine = alice.submit({"type": "data", "payload": DATA})
    his = bob.submit({"type": "data", "payload": DATA})
    assert his["owner"] == "bob"
    assert his["id"] in _listed(bob, "/api/tasks") and mine["id"] not in _listed(bob, "/api/tasks")
    assert {mine["id"], his["id"]} <= _listed(root, "/api/tasks?type=data")


def test_a_cursor_pages_only_its_own_callers_list(
    alice: ApiClient, bob: ApiClient, root: ApiClient
) -> None:
    for _ in range(3):
        alice.submit({"type": "data", "payload": DATA, "priority": "low", "delay_seconds": LATER})
    page = _status(alice.get("/api/tasks", params={"priority": "low", "limit": 1}), 200)
    cursor = page["next_cursor"]
    assert cursor
    assert len(_status(alice.get("/api/tasks", params={"cursor": cursor}), 200)["items"]) == 2
    for other in (bob, root):
        error = _status(other.get("/api/tasks", params={"cursor": cursor}), 422)["error"]
        assert "another caller's list" in error["message"]


def test_idempotency_keys_are_per_owner(alice: ApiClient, bob: ApiClient) -> None:
    headers = {"Idempotency-Key": f"same-{uuid.uuid4()}"}
    body = {"type": "data", "payload": DATA}
    first = alice.submit(body, headers=headers)
    again = _status(alice.post("/api/tasks", json=body, headers=headers), 200)
    his = bob.submit(body, headers=headers)
    assert again["id"] == first["id"] and his["id"] != first["id"]
    assert his["owner"] == "bob"


def test_a_key_sees_and_deletes_only_its_own_files(
    alice: ApiClient, bob: ApiClient, root: ApiClient
) -> None:
    uploaded = alice.upload("alice.txt", b"alice's", "text/plain")
    assert uploaded["owner"] == "alice"
    path = f"/api/files/{uploaded['id']}"
    for response in (bob.get(path), bob.get(f"{path}/metadata"), bob.delete(path)):
        assert _status(response, 404)["error"]["message"] == f"no file {uploaded['id']}"
    assert uploaded["id"] not in _listed(bob, "/api/files")
    assert uploaded["id"] in _listed(alice, "/api/files")
    assert uploaded["id"] in _listed(root, "/api/files")
    assert _status(root.get(f"{path}/metadata"), 200)["owner"] == "alice"
    assert alice.get(path).content == b"alice's"
    assert root.get(path).content == b"alice's"
    assert alice.delete(path).status_code == 204
    assert uploaded["id"] not in _listed(alice, "/api/files")


def test_a_task_may_only_name_its_owners_files(
    alice: ApiClient, bob: ApiClient, root: ApiClient
) -> None:
    theirs = alice.upload("alice.txt", b"alice's", "text/plain")["id"]
    checksum = {"file_id": theirs, "operation": "checksum"}
    for caller in (bob, root):
        error = caller.submit({"type": "file", "payload": checksum}, expect=422)["error"]
        assert error["details"] == [{"loc": ["payload", "file_id"], "msg": f"no file {theirs}"}]
    batch = {
        "tasks": [
            {"type": "data", "payload": DATA},
            {"type": "file", "payload": checksum},
            {
                "type": "data",
                "payload": {"input": {"file_id": theirs, "format": "csv"}, "operations": []},
            },
        ]
    }
    error = _status(bob.post("/api/tasks/batch", json=batch), 422)["error"]
    assert [d["loc"] for d in error["details"]] == [
        ["tasks", 1, "payload", "file_id"],
        ["tasks", 2, "payload", "input", "file_id"],
    ]
    accepted = _status(alice.post("/api/tasks/batch", json=batch), 202)["items"]
    assert [item["owner"] for item in accepted] == ["alice"] * 3


def test_the_files_a_task_writes_belong_to_its_owner(
    alice: ApiClient, bob: ApiClient, root: ApiClient
) -> None:
    source = alice.upload("plain.txt", b"x" * 1000, "text/plain")["id"]
    submitted = alice.submit(
        {"type": "file", "payload": {"file_id": source, "operation": "compress"}}
    )
    record = alice.wait_for(submitted["id"], timeout_seconds=120)
    assert record["status"] == "SUCCESS", record
    output = record["result"]["output_file_id"]
    assert _status(alice.get(f"/api/files/{output}/metadata"), 200)["owner"] == "alice"
    assert output in _listed(alice, "/api/files")
    assert bob.get(f"/api/files/{output}").status_code == 404
    assert output not in _listed(bob, "/api/files")
    assert root.get(f"/api/files/{output}").status_code == 200
    # The output can feed the owner's next task, and nobody else's.
    follow_up = {"type": "file", "payload": {"file_id": output, "operation": "checksum"}}
    assert alice.submit(follow_up)["owner"] == "alice"
    bob.submit(follow_up, expect=422)


def test_queues_and_workers_answer_any_key(bob: ApiClient) -> None:
    assert _status(bob.get("/api/queues"), 200)["queues"]
    assert "workers" in _status(bob.get("/api/workers"), 200)
