"""Completion callbacks end to end: the API, a data worker, taskyard-callback-worker and a
real HTTP receiver on loopback that checks every signature with the documented code."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from support.callback_receiver import CallbackReceiver, running_receiver
from support.client import ApiClient
from support.polling import eventually
from support.stack import Stack
from taskyard_common.topology import CALLBACK_QUEUE_NAME

MAX_ATTEMPTS = 3
RECORDS = {"input": {"records": [{"region": "eu", "amount": 10}]}}


@pytest.fixture(scope="module")
def receiver(stack: Stack) -> Iterator[CallbackReceiver]:
    stack.start_callback_worker({"TASKYARD_CALLBACK_MAX_ATTEMPTS": str(MAX_ATTEMPTS)})
    try:
        with running_receiver() as started:
            yield started
    finally:
        stack.stop_worker(CALLBACK_QUEUE_NAME)


@pytest.fixture
def api(stack: Stack) -> ApiClient:
    return ApiClient(stack.base_url)


def unique(path: str) -> str:
    return f"{path}/{uuid.uuid4().hex}"


def settled_callback(api: ApiClient, task_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        callback: dict[str, Any] = api.task(task_id)["callback"]
        assert callback["status"] != "PENDING", callback
        return callback

    return eventually(check, timeout_seconds=60)


def test_delivered_on_the_third_attempt_after_two_500s(
    api: ApiClient, receiver: CallbackReceiver
) -> None:
    path = unique("/fail-2")
    task = api.submit({"type": "data", "payload": RECORDS, "callback_url": receiver.url(path)})
    assert task["callback"] == {
        "url": receiver.url(path),
        "status": "PENDING",
        "attempts": 0,
        "last_status_code": None,
        "last_error": None,
        "delivered_at": None,
    }
    assert api.wait_for(task["id"])["status"] == "SUCCESS"

    callback = settled_callback(api, task["id"])
    assert callback["status"] == "DELIVERED"
    assert callback["attempts"] == 3
    assert callback["last_status_code"] == 204
    assert callback["delivered_at"] is not None

    posts = receiver.posts(path)
    assert len(posts) == 3
    assert all(post.signature_valid for post in posts)
    assert {post.headers["Taskyard-Event"] for post in posts} == {"task.succeeded"}
    assert len({post.headers["Taskyard-Delivery"] for post in posts}) == 1
    uuid.UUID(posts[0].headers["Taskyard-Delivery"], version=4)
    body = json.loads(posts[-1].body)
    assert body["id"] == task["id"]
    assert body["status"] == "SUCCESS"
    assert body["result"]["row_count"] == 1
    assert "callback" not in body


def test_a_receiver_that_always_fails_ends_failed_after_the_last_attempt(
    api: ApiClient, receiver: CallbackReceiver
) -> None:
    path = unique("/down")
    task = api.submit({"type": "data", "payload": RECORDS, "callback_url": receiver.url(path)})
    callback = settled_callback(api, task["id"])
    assert callback["status"] == "FAILED"
    assert callback["attempts"] == MAX_ATTEMPTS
    assert callback["last_status_code"] == 500
    assert callback["last_error"] == "answered 500"
    assert callback["delivered_at"] is None
    assert len(receiver.posts(path)) == MAX_ATTEMPTS


def test_a_failed_task_is_told_as_task_failed(api: ApiClient, receiver: CallbackReceiver) -> None:
    path = unique("/ok")
    payload = {**RECORDS, "operations": [{"op": "select", "columns": ["no_such_column"]}]}
    task = api.submit(
        {"type": "data", "payload": payload, "max_retries": 0, "callback_url": receiver.url(path)}
    )
    assert api.wait_for(task["id"])["status"] == "FAILED"
    assert settled_callback(api, task["id"])["status"] == "DELIVERED"
    (post,) = receiver.posts(path)
    assert post.signature_valid
    assert post.headers["Taskyard-Event"] == "task.failed"
    assert json.loads(post.body)["status"] == "FAILED"


def test_cancelling_a_scheduled_task_is_told_as_task_cancelled(
    api: ApiClient, receiver: CallbackReceiver
) -> None:
    path = unique("/ok")
    task = api.submit(
        {
            "type": "data",
            "payload": RECORDS,
            "delay_seconds": 3600,
            "callback_url": receiver.url(path),
        }
    )
    assert task["status"] == "SCHEDULED"
    assert api.delete(f"/api/tasks/{task['id']}").status_code == 202
    callback = settled_callback(api, task["id"])
    assert (callback["status"], callback["attempts"]) == ("DELIVERED", 1)
    (post,) = receiver.posts(path)
    assert post.signature_valid
    assert post.headers["Taskyard-Event"] == "task.cancelled"
    assert json.loads(post.body)["status"] == "CANCELLED"


def test_a_task_without_callback_url_has_a_null_callback(api: ApiClient) -> None:
    task = api.submit({"type": "data", "payload": RECORDS})
    assert api.wait_for(task["id"])["callback"] is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://[::1]:9/hook"]
)
def test_a_private_callback_url_is_refused_at_submit(api: ApiClient, url: str) -> None:
    response = api.post(
        "/api/tasks", json={"type": "data", "payload": RECORDS, "callback_url": url}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == ["callback_url"]


def test_the_address_is_checked_again_at_delivery(
    stack: Stack, api: ApiClient, receiver: CallbackReceiver
) -> None:
    """A callback worker that does not allow the host refuses what the API accepted: the
    delivery fails at once, nothing is sent."""
    stack.stop_worker(CALLBACK_QUEUE_NAME)
    try:
        stack.start_callback_worker({"TASKYARD_CALLBACK_ALLOWED_HOSTS": ""})
        path = unique("/ok")
        task = api.submit({"type": "data", "payload": RECORDS, "callback_url": receiver.url(path)})
        callback = settled_callback(api, task["id"])
        assert (callback["status"], callback["attempts"]) == ("FAILED", 1)
        assert "loopback" in callback["last_error"]
        assert receiver.posts(path) == []
    finally:
        stack.stop_worker(CALLBACK_QUEUE_NAME)
        stack.start_callback_worker({"TASKYARD_CALLBACK_MAX_ATTEMPTS": str(MAX_ATTEMPTS)})
