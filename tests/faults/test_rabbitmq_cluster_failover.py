"""A three-node RabbitMQ cluster loses a member to SIGKILL under a steady load of submits.

The killed node holds the queue's leader and the clients' connections. Every task answered
202 must end SUCCESS (lost = 0); duplicate runs are counted, the refusals (503) and the
longest stretch without an accepted task are measured, and the cluster heals once the node
is back. Runs on Debian's RabbitMQ 3.10 nodes: docs/rabbitmq-cluster.md says what that
does and does not prove for the chart's 4.x.
"""

from __future__ import annotations

import collections
import itertools
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from faults.conftest import report_lost
from support.client import ApiClient
from support.polling import eventually
from support.private_servers import PrivateRabbitMQ, PrivateRedis, RabbitCluster
from support.stack import Stack, cleanup_workdir, management, running_stack

QUEUE = "data.normal"
SUBMITTERS = 3
# Each submitter pauses between submits: a steady load the two workers keep up with,
# so the accepted tasks drain in seconds once the run is over.
SUBMIT_PAUSE_SECONDS = 0.05
LOAD_BEFORE_KILL_SECONDS = 6
DOWN_SECONDS = 10
LOAD_AFTER_RETURN_SECONDS = 4
BODY = {
    "type": "data",
    "priority": "normal",
    "payload": {
        "input": {"records": [{"x": 1}, {"x": 2}]},
        "operations": [{"op": "aggregate", "metrics": {"x": ["sum"]}}],
    },
}


@pytest.fixture(scope="module")
def cluster_servers() -> Iterator[tuple[RabbitCluster, PrivateRedis]]:
    workdir = Path(tempfile.mkdtemp(prefix="taskyard-cluster-"))
    workdir.chmod(0o755)
    rabbitmq = RabbitCluster.start(workdir / "rabbitmq")
    redis_server = PrivateRedis.start(workdir / "redis")
    try:
        yield rabbitmq, redis_server
    finally:
        rabbitmq.stop()
        redis_server.stop()
        cleanup_workdir(workdir)


@pytest.fixture(scope="module")
def cluster_stack(cluster_servers: tuple[RabbitCluster, PrivateRedis]) -> Iterator[Stack]:
    """The API and the workers of one queue, given every member's URL."""
    rabbitmq, redis_server = cluster_servers
    with running_stack(
        "cluster-stack",
        {"TASKYARD_WORKER_CONCURRENCY": "2"},
        queues=[QUEUE],
        endpoints=rabbitmq.endpoints(redis_server),
    ) as stack:
        yield stack


@dataclass
class Load:
    """Submitters that keep POSTing until told to stop, recording every answer's time."""

    base_url: str
    accepted: list[str] = field(default_factory=list)
    accepted_at: dict[str, float] = field(default_factory=dict)
    answers: list[tuple[float, int]] = field(default_factory=list)
    refusals_without_retry_after: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit_until_stopped(self) -> None:
        client = ApiClient(self.base_url)
        while not self.stop.is_set():
            try:
                response = client.post("/api/tasks", json=BODY, timeout=30)
                status = response.status_code
            except requests.RequestException:
                status = -1
            with self.lock:
                self.answers.append((time.monotonic(), status))
                if status == 202:
                    self.accepted.append(response.json()["id"])
                    self.accepted_at[self.accepted[-1]] = time.monotonic()
                elif status == 503 and not response.headers.get("Retry-After"):
                    self.refusals_without_retry_after += 1
            time.sleep(SUBMIT_PAUSE_SECONDS)

    def accepted_between(self, start: float, end: float) -> list[str]:
        with self.lock:
            return [task for task, at in self.accepted_at.items() if start <= at < end]

    def statuses(self) -> dict[int, int]:
        return dict(collections.Counter(status for _, status in self.answers))

    def refusal_window(self, killed_at: float) -> tuple[int, float, float]:
        """503s after the kill, the seconds from the kill to the last of them, and the
        longest gap between two accepted submits."""
        refused = [at for at, status in self.answers if status == 503 and at >= killed_at]
        accepted_at = [at for at, status in self.answers if status == 202]
        gaps = [later - earlier for earlier, later in itertools.pairwise(accepted_at)]
        last_refusal = (max(refused) - killed_at) if refused else 0.0
        return len(refused), last_refusal, max(gaps, default=0.0)


def queue_info(stack: Stack) -> dict[str, Any]:
    path = f"/queues/{quote(stack.vhost, safe='')}/{QUEUE}"
    info: dict[str, Any] = management("GET", path, stack.endpoints).json()
    return info


def node_of(rabbitmq: RabbitCluster, name: str) -> PrivateRabbitMQ:
    return next(node for node in rabbitmq.nodes if node.node == name)


def connections_on(stack: Stack, node: str) -> int:
    connections = management("GET", "/connections", stack.endpoints).json()
    return sum(1 for connection in connections if connection["node"] == node)


def deliveries_per_task(stack: Stack, task_ids: set[str]) -> collections.Counter[str]:
    """How often a worker took each task: task_started, or task_skipped for a duplicate
    that arrived after the task had finished."""
    seen: collections.Counter[str] = collections.Counter()
    for worker in stack.workers.values():
        for line in worker.log_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            delivered = event.get("event") in {"task_started", "task_skipped"}
            if delivered and event.get("task_id") in task_ids:
                seen[event["task_id"]] += 1
    return seen


def test_member_killed_under_load_loses_no_accepted_task(
    cluster_stack: Stack, cluster_servers: tuple[RabbitCluster, PrivateRedis]
) -> None:
    stack, (rabbitmq, _) = cluster_stack, cluster_servers
    api = ApiClient(stack.base_url)
    members = len(rabbitmq.nodes)
    before = queue_info(stack)
    assert len(before["members"]) == members, before["members"]
    victim = node_of(rabbitmq, before["leader"])

    def clients_on_victim() -> None:
        # The management API lists connections a few seconds after they open.
        assert connections_on(stack, victim.node) > 0, "clients should be on the leader's node"

    eventually(clients_on_victim, 20)

    load = Load(stack.base_url)
    threads = [threading.Thread(target=load.submit_until_stopped) for _ in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(LOAD_BEFORE_KILL_SECONDS)
        killed_at = time.monotonic()
        victim.kill()
        # The management API of a surviving member answers for the queue depths.
        assert eventually(lambda: api.get("/api/queues").status_code, 10) == 200
        time.sleep(DOWN_SECONDS)
        # Failover, not waiting: the API accepted tasks while the member was down, and the
        # workers, reconnected to a survivor, already ran some of them.
        while_down = load.accepted_between(killed_at, time.monotonic())
        done_while_down = sum(api.task(t)["status"] == "SUCCESS" for t in while_down)
        returned_at = time.monotonic()
        victim.launch()
        rabbitmq.wait_members_running(members)
        healed_after = time.monotonic() - returned_at
        time.sleep(LOAD_AFTER_RETURN_SECONDS)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=60)

    accepted = set(load.accepted)
    deadline = time.monotonic() + 120
    unfinished = set(accepted)
    while unfinished and time.monotonic() < deadline:
        unfinished = {t for t in unfinished if api.task(t)["status"] != "SUCCESS"}
        if unfinished:
            time.sleep(1)
    deliveries = deliveries_per_task(stack, accepted)
    duplicates = sum(count - 1 for count in deliveries.values() if count > 1)
    refused, last_refusal, longest_gap = load.refusal_window(killed_at)

    report_lost("RabbitMQ member SIGKILL", len(unfinished), len(accepted))
    print(
        f"answers: {load.statuses()}; killed {victim.node} (queue leader)\n"
        f"503s after the kill: {refused}, the last {last_refusal:.2f}s after it; "
        f"longest gap between accepted submits: {longest_gap:.2f}s\n"
        f"accepted while the member was down: {len(while_down)}, of them done before it "
        f"returned: {done_while_down}\n"
        f"duplicate runs: {duplicates}; node back in the cluster {healed_after:.1f}s "
        "after its restart"
    )
    assert not unfinished, sorted(unfinished)[:5]
    assert len(while_down) > 0
    assert done_while_down > 0
    assert load.statuses().keys() <= {202, 503}, load.statuses()
    assert load.refusals_without_retry_after == 0

    def healed() -> dict[str, Any]:
        info = queue_info(stack)
        assert len(info["members"]) == members, info["members"]
        assert sorted(info["online"]) == sorted(info["members"]), info
        return info

    eventually(healed, 60)
    fresh = api.wait_for(api.submit(BODY)["id"])
    assert fresh["status"] == "SUCCESS"
