"""Scheduled tasks outlive a restart of everything: the API, every worker and RabbitMQ
(on the fault suite's private node) go down while the tasks wait in the delay queues;
each task then runs exactly once, no earlier than its run_at and at most
START_TOLERANCE_SECONDS after it (the delay queues count whole seconds, the rest is the
worker picking it up on a loaded 2-core machine). DELAY_SECONDS leaves room for the whole
restart to finish before the tasks are due."""

from __future__ import annotations

import collections
import json
import time
from datetime import datetime, timedelta

from faults.conftest import report_lost
from support.client import ApiClient
from support.private_servers import PrivateRabbitMQ, PrivateRedis
from support.stack import Stack

DELAY_SECONDS = 45
START_TOLERANCE_SECONDS = 5.0
QUEUES = ["data.high", "data.normal"]
TASKS_PER_QUEUE = 5


def _started_per_task(stack: Stack, task_ids: set[str]) -> collections.Counter[str]:
    started: collections.Counter[str] = collections.Counter()
    for queue in QUEUES:
        for line in stack.workers[queue].log_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or event.get("event") != "task_started":
                continue
            if event.get("task_id") in task_ids:
                started[event["task_id"]] += 1
    return started


def test_scheduled_tasks_run_once_on_time_after_everything_restarted(
    fault_stack: Stack, fault_servers: tuple[PrivateRabbitMQ, PrivateRedis]
) -> None:
    rabbitmq, _ = fault_servers
    api = ApiClient(fault_stack.base_url)
    tasks = [
        api.submit(
            {
                "type": "data",
                "priority": queue.split(".")[1],
                "delay_seconds": DELAY_SECONDS,
                "payload": {"input": {"records": [{"n": n}]}},
            }
        )
        for queue in QUEUES
        for n in range(TASKS_PER_QUEUE)
    ]
    assert {task["status"] for task in tasks} == {"SCHEDULED"}
    assert fault_stack.api is not None

    restart_began = time.monotonic()
    for queue in QUEUES:
        fault_stack.stop_worker(queue)
    fault_stack.api.stop()
    rabbitmq.stop_app()
    time.sleep(3)
    rabbitmq.start_app()
    fault_stack.start_api()
    fault_stack.start_workers(QUEUES)
    restart_seconds = time.monotonic() - restart_began
    print(f"\nrestart of RabbitMQ, the API and the workers took {restart_seconds:.1f} s")
    assert restart_seconds < DELAY_SECONDS - 5, "restarted too slowly to check the timing"

    records = {task["id"]: api.wait_for(task["id"], timeout_seconds=120) for task in tasks}
    unfinished = [task_id for task_id, r in records.items() if r["status"] != "SUCCESS"]
    report_lost("scheduled tasks, everything restarted", len(unfinished), len(tasks))
    assert not unfinished
    lateness = []
    for record in records.values():
        assert [h["status"] for h in record["history"]] == [
            "SCHEDULED",
            "RECEIVED",
            "PROCESSING",
            "SUCCESS",
        ]
        assert record["attempts"] == 1
        late = datetime.fromisoformat(record["started_at"]) - datetime.fromisoformat(
            record["run_at"]
        )
        lateness.append(late.total_seconds())
        assert timedelta(0) <= late <= timedelta(seconds=START_TOLERANCE_SECONDS), late
    print(f"started after run_at: {min(lateness):.2f} s to {max(lateness):.2f} s")
    started = _started_per_task(fault_stack, set(records))
    assert started == collections.Counter(dict.fromkeys(records, 1))
