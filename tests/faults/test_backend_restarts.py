"""RabbitMQ and Redis restarts: every accepted task finishes, refusals are 503s."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import requests

from faults.conftest import report_lost
from support.client import ApiClient
from support.private_servers import PrivateRabbitMQ, PrivateRedis
from support.stack import Stack

TASKS = 500
BODY = {
    "type": "data",
    "priority": "normal",
    "payload": {
        "input": {"records": [{"x": 1}, {"x": 2}]},
        "operations": [{"op": "aggregate", "metrics": {"x": ["sum"]}}],
    },
}


def test_rabbitmq_restart_while_submitting_and_processing(
    fault_stack: Stack, fault_servers: tuple[PrivateRabbitMQ, PrivateRedis]
) -> None:
    rabbitmq, _ = fault_servers
    accepted: list[str] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_submitting = threading.Event()

    def submitter() -> None:
        client = ApiClient(fault_stack.base_url)
        while not stop_submitting.is_set():
            with lock:
                if len(accepted) >= TASKS:
                    return
            try:
                response = client.post("/api/tasks", json=BODY, timeout=30)
            except requests.RequestException:
                statuses[-1] = statuses.get(-1, 0) + 1
                continue
            with lock:
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
                elif response.status_code == 503:
                    assert response.headers.get("Retry-After")
                    assert response.json()["error"]["code"] == "backend_unavailable"
                    time.sleep(0.05)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(submitter) for _ in range(3)]
        while len(accepted) < TASKS // 3:
            time.sleep(0.05)
        rabbitmq.stop_app()
        time.sleep(3)
        rabbitmq.start_app()
        for future in futures:
            future.result(timeout=600)

    api = ApiClient(fault_stack.base_url)
    api.wait_ready()
    deadline = time.monotonic() + 300
    unfinished = set(accepted)
    while unfinished and time.monotonic() < deadline:
        unfinished = {t for t in unfinished if api.task(t)["status"] != "SUCCESS"}
        if unfinished:
            time.sleep(1)
    report_lost("RabbitMQ restart", len(unfinished), len(accepted))
    print(f"answers during the run: {statuses}")
    assert len(accepted) >= TASKS
    assert not unfinished, sorted(unfinished)[:5]
    assert 500 not in statuses
    assert -1 not in statuses
    assert statuses.get(503, 0) > 0, "the outage should have been seen as 503s"


def test_redis_restart_keeps_records_written_before(
    fault_stack: Stack, fault_servers: tuple[PrivateRabbitMQ, PrivateRedis]
) -> None:
    _, redis_server = fault_servers
    api = ApiClient(fault_stack.base_url)
    ids = [api.submit({**BODY, "priority": "high"})["id"] for _ in range(20)]
    before = {task_id: api.wait_for(task_id) for task_id in ids}

    redis_server.restart()

    api.wait_ready()
    after = {task_id: api.task(task_id) for task_id in ids}
    lost = sum(after[t] != before[t] for t in ids)
    report_lost("Redis restart", lost, len(ids))
    assert lost == 0
    fresh = api.wait_for(api.submit(BODY)["id"])
    assert fresh["status"] == "SUCCESS"
