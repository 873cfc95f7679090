"""A completion callback through the installed chart: the API pod queues it, the
callback worker pod POSTs it, signed with the chart's generated secret, to a receiver at
the pod network's gateway (allowed by callbacks.allowedHosts), retrying after a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from kubesim.stack import Stack

from support.polling import eventually

pytestmark = pytest.mark.cluster


def test_a_callback_is_delivered_by_the_callback_worker_pod(stack: Stack):
    headers = {"Authorization": f"Bearer {stack.api_key()}"}
    path = f"/fail-1/{uuid.uuid4().hex}"
    body = {
        "type": "data",
        "priority": "high",
        "payload": {"input": {"records": [{"x": 1}]}},
        "callback_url": stack.callbacks.url(path),
    }
    response = requests.post(
        f"{stack.url('api')}/api/tasks", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 202, response.text
    task_id = response.json()["id"]

    def delivered() -> dict[str, Any]:
        record = requests.get(
            f"{stack.url('api')}/api/tasks/{task_id}", headers=headers, timeout=10
        ).json()
        assert record["callback"]["status"] == "DELIVERED", record["callback"]
        return record

    record = eventually(delivered, timeout_seconds=180)
    assert record["status"] == "SUCCESS"
    assert record["callback"]["attempts"] == 2
    posts = stack.callbacks.posts(path)
    assert len(posts) == 2
    assert all(post.signature_valid for post in posts)
    assert {post.headers["Taskyard-Event"] for post in posts} == {"task.succeeded"}
    assert json.loads(posts[-1].body)["id"] == task_id
