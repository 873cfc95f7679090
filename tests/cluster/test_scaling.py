"""KEDA's scaling of a worker Deployment, from zero and back, through the emulation."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubesim.stack import NAMESPACE, Stack

from support.client import ApiClient

pytestmark = pytest.mark.cluster
QUEUE = "data.low"
BURST = 200


def data_task(index: int) -> dict:
    return {
        "type": "data",
        "priority": "low",
        "payload": {
            "input": {
                "records": [{"region": "eu", "amount": index}, {"region": "us", "amount": 1}]
            },
            "operations": [
                {"op": "aggregate", "group_by": ["region"], "metrics": {"amount": ["sum"]}}
            ],
            "output": {"format": "json"},
        },
    }


def test_a_burst_scales_the_low_worker_from_zero_and_back(stack: Stack):
    api = ApiClient(stack.url("api"), api_key=stack.api_key())
    name = stack.worker(QUEUE)["metadata"]["name"]
    workload = stack.cluster.workloads[("Deployment", NAMESPACE, name)]
    stack.cluster.wait(lambda: workload.replicas == 0 and not workload.pods, 120, f"{name} at zero")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        pending = {record["id"] for record in pool.map(api.submit, map(data_task, range(BURST)))}
    highest = 0
    failed = {}
    while pending and time.monotonic() - started < 300:
        highest = max(highest, workload.replicas)
        for task_id in list(pending)[:50]:
            record = api.task(task_id)
            if record["status"] in ("SUCCESS", "FAILED", "CANCELLED"):
                pending.discard(task_id)
                if record["status"] != "SUCCESS":
                    failed[task_id] = record
        time.sleep(1)
    assert not pending, f"{len(pending)} tasks not finished after 300 s\n{stack.cluster.status()}"
    assert not failed, failed
    finished = time.monotonic() - started
    assert highest >= 2, f"{name} peaked at {highest} replicas: {stack.keda.state(name).history}"

    stack.cluster.wait(
        lambda: workload.replicas == 0 and not workload.pods, 180, f"{name} back at zero"
    )
    assert not stack.cluster.termination_problems(f"Deployment/{name}")
    print(
        f"{BURST} tasks SUCCESS in {finished:.0f}s, peak {highest} replicas, "
        f"back to zero after {time.monotonic() - started:.0f}s; "
        f"KEDA history {stack.keda.state(name).history}"
    )
