"""Nothing accepted is lost when a worker pod is killed mid-task or RabbitMQ's pod restarts."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from kubesim.stack import NAMESPACE, Stack

from support.client import ApiClient

pytestmark = pytest.mark.cluster


def email(subject: str) -> dict:
    return {
        "type": "email",
        "priority": "high",
        "payload": {"to": ["ops@example.com"], "subject": subject, "text": "body"},
    }


def test_a_worker_killed_mid_task_completes_the_task(stack: Stack):
    api = ApiClient(stack.url("api"), api_key=stack.api_key())
    stack.smtp.delay_seconds = 8
    try:
        task = api.submit(email("killed mid-task"))
        api.wait_for(task["id"], {"PROCESSING"}, timeout_seconds=60)
        pods = stack.worker_pods("email.high")
        assert pods
        for pod in pods:
            for container in pod.containers:
                subprocess.run(
                    ["docker", "kill", "--signal", "KILL", container.docker_name],
                    check=True,
                    capture_output=True,
                )
    finally:
        stack.smtp.delay_seconds = 0
    record = api.wait_for(task["id"], timeout_seconds=180)
    assert record["status"] == "SUCCESS", record
    assert record["attempts"] >= 2, record
    assert sum(p.restarts for p in stack.worker_pods("email.high")) >= 1


def test_rabbitmq_restarted_under_load_loses_nothing_accepted(stack: Stack):
    api = ApiClient(stack.url("api"), api_key=stack.api_key())
    rabbitmq = next(
        w
        for w in stack.cluster.workloads.values()
        if w.kind == "StatefulSet"
        and w.namespace == NAMESPACE
        and (w.obj["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "rabbitmq"
    )
    accepted: list[str] = []
    refused = 0
    stop = threading.Event()

    def submit() -> None:
        nonlocal refused
        index = 0
        while not stop.is_set():
            index += 1
            body = {
                "type": "data",
                "priority": "normal",
                "payload": {
                    "input": {"records": [{"n": index}]},
                    "operations": [],
                    "output": {"format": "json"},
                },
            }
            try:
                response = api.post("/api/tasks", json=body, timeout=10)
            except Exception:
                refused += 1
                continue
            if response.status_code == 202:
                accepted.append(response.json()["id"])
            else:
                refused += 1
            time.sleep(0.1)

    submitter = threading.Thread(target=submit, daemon=True)
    submitter.start()
    time.sleep(5)
    before = len(accepted)
    old = rabbitmq.live()[0]
    old.delete()
    stack.cluster.wait(lambda: old.phase == "Terminated", 180, "the RabbitMQ pod to stop")
    failed = [c.spec["name"] for c in old.containers if c.stop_exit_code == 137 or c.pre_stop_error]
    assert not failed, f"preStop failed or SIGTERM did not stop {failed} in the grace period"
    stack.cluster.wait(lambda: rabbitmq.ready() == rabbitmq.replicas, 300, "RabbitMQ Ready again")
    time.sleep(10)
    stop.set()
    submitter.join(timeout=30)
    assert before > 0 and len(accepted) > before, (before, len(accepted), refused)

    deadline = time.monotonic() + 300
    pending = set(accepted)
    while pending and time.monotonic() < deadline:
        for task_id in list(pending)[:50]:
            if api.task(task_id)["status"] == "SUCCESS":
                pending.discard(task_id)
        time.sleep(1)
    assert not pending, (
        f"{len(pending)} of {len(accepted)} accepted tasks lost or unfinished\n"
        + stack.cluster.status()
    )
    print(f"{len(accepted)} accepted, {refused} refused during the restart, all SUCCESS")
