"""A worker's metrics port, the lifecycle log lines, Flower, and the dashboard's metric names.

One data worker of the shared stack is swapped for one with TASKYARD_WORKER_METRICS_PORT
set, and a Flower of our own runs against the stack; both are put back as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kombu
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from support.client import ApiClient
from support.polling import eventually
from support.servers import free_port
from support.stack import BIN, ManagedProcess, Stack, available_task_types
from taskyard_common import topology

QUEUE = "data.low"
LABELS = (("priority", "low"), ("type", "data"))
FLOWER_USER, FLOWER_PASSWORD = "monitor", "flower-test-password"
FLOWER_PURGE_SECONDS = 3
DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/taskyard-dashboard.json"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def body(payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "data", "priority": "low", "payload": payload, **extra}


@pytest.fixture(scope="module")
def api(stack: Stack) -> ApiClient:
    if "data" not in available_task_types():
        pytest.skip("needs the data worker")
    return ApiClient(stack.base_url)


def declare_all_queues(stack: Stack) -> None:
    """Queues exist once something publishes to or consumes them; make all nine exist.

    A worker binds every queue to Celery's delayed-delivery exchanges when it starts;
    while one is missing, delayed delivery is off and a retry cannot be scheduled.
    """
    with kombu.Connection(stack.env["TASKYARD_BROKER_URL"], connect_timeout=5) as connection:
        for queue in topology.kombu_queues():
            queue(connection.default_channel).declare()


@pytest.fixture(scope="module")
def worker_metrics_url(stack: Stack, api: ApiClient) -> Iterator[str]:
    declare_all_queues(stack)
    port = free_port()
    stack.stop_worker(QUEUE)
    try:
        stack.start_worker(
            QUEUE,
            extra_env={
                "TASKYARD_WORKER_METRICS_PORT": str(port),
                "TASKYARD_WORKER_METRICS_DIR": str(stack.workdir / "worker-metrics"),
            },
        )
        url = f"http://127.0.0.1:{port}/metrics"
        eventually(lambda: requests.get(url, timeout=5).raise_for_status())
        yield url
    finally:
        if QUEUE in stack.workers:
            stack.stop_worker(QUEUE)
        stack.start_worker(QUEUE)


@pytest.fixture(scope="module")
def flower(stack: Stack) -> Iterator[str]:
    declare_all_queues(stack)
    port = free_port()
    process = ManagedProcess(
        "flower",
        [
            str(BIN / "taskyard-flower"),
            "--address=127.0.0.1",
            f"--port={port}",
            f"--purge_offline_workers={FLOWER_PURGE_SECONDS}",
        ],
        {
            **stack.env,
            "TASKYARD_FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{FLOWER_PASSWORD}",
            "TASKYARD_FLOWER_COOKIE_SECRET": "test-cookie-secret-0123456789abcdef",
        },
        stack.workdir / "flower.log",
    )
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> None:
            assert process.running(), process.log_text()[-3000:]
            assert requests.get(f"{base}/healthcheck", timeout=5).status_code == 200

        eventually(healthy, 60)
        yield base
    finally:
        process.stop()


def flower_get(base: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{base}{path}", auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=10, **kwargs)


def flower_workers(base: str) -> set[str]:
    response = flower_get(base, "/workers", params={"json": 1})
    assert response.status_code == 200
    return {worker["hostname"] for worker in response.json()["data"]}


def log_events(path: Path, task_id: str) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        if task_id in line and line.startswith("{"):
            event = json.loads(line)
            if event.get("task_id") == task_id:
                events.append(event)
    return events


def scrape_until_moved(url: str, before: Samples, keys: list[tuple[str, tuple[Any, ...]]]) -> None:
    def moved() -> None:
        after = samples(requests.get(url, timeout=5).text)
        for key in keys:
            assert after.get(key, 0) >= before.get(key, 0) + 1, key

    eventually(moved, 15)


def assert_lifecycle(stack: Stack, task_id: str, expected: list[tuple[str, int]]) -> None:
    """(event, attempt) pairs, the API's lines first, then the worker's."""
    assert stack.api is not None
    events = log_events(stack.api.log_path, task_id) + log_events(
        stack.workers[QUEUE].log_path, task_id
    )
    assert [(e["event"], e["attempt"]) for e in events] == expected
    for event in events:
        assert event["type"] == "data" and event["priority"] == "low", event


def end_to_end(status: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (
        "taskyard_task_end_to_end_seconds_count",
        (("priority", "low"), ("status", status), ("type", "data")),
    )


def test_worker_metrics_move_and_each_lifecycle_event_is_one_json_line(
    stack: Stack, api: ApiClient, worker_metrics_url: str
) -> None:
    before = samples(requests.get(worker_metrics_url, timeout=5).text)
    ok = api.submit(body({"input": {"records": [{"x": 1}]}, "operations": []}))
    bad = api.submit(
        body(
            {
                "input": {"records": [{"x": 1}]},
                "operations": [{"op": "select", "columns": ["missing"]}],
            }
        )
    )
    assert api.wait_for(ok["id"])["status"] == "SUCCESS"
    assert api.wait_for(bad["id"])["status"] == "FAILED"

    scrape_until_moved(
        worker_metrics_url,
        before,
        [
            ("taskyard_task_runtime_seconds_count", LABELS),
            ("taskyard_task_failures_total", LABELS),
            end_to_end("SUCCESS"),
            end_to_end("FAILED"),
        ],
    )
    assert_lifecycle(
        stack,
        ok["id"],
        [("task_submitted", 0), ("task_received", 1), ("task_started", 1), ("task_succeeded", 1)],
    )
    assert_lifecycle(
        stack,
        bad["id"],
        [("task_submitted", 0), ("task_received", 1), ("task_started", 1), ("task_failed", 1)],
    )


def test_a_retry_is_counted_and_logged_with_its_delay(
    stack: Stack, api: ApiClient, worker_metrics_url: str
) -> None:
    before = samples(requests.get(worker_metrics_url, timeout=5).text)
    # A stored file whose blob cannot be read: a transient storage error, retried once.
    if not stack.env["TASKYARD_STORAGE_URL"].startswith("file://"):
        pytest.skip("breaks a blob in the storage folder")
    stored = api.upload("table.csv", b"x\n1\n", "text/csv")
    blob = Path(urlsplit(stack.env["TASKYARD_STORAGE_URL"]).path) / stored["id"][:2] / stored["id"]
    blob.unlink()
    blob.mkdir()
    try:
        flaky = api.submit(
            body({"input": {"file_id": stored["id"], "format": "csv"}}, max_retries=1)
        )
        scrape_until_moved(worker_metrics_url, before, [("taskyard_task_retries_total", LABELS)])
        failed = api.wait_for(flaky["id"], timeout_seconds=30)
    finally:
        blob.rmdir()
    assert failed["status"] == "FAILED" and failed["attempts"] == 2, failed
    assert_lifecycle(
        stack,
        flaky["id"],
        [
            ("task_submitted", 0),
            ("task_received", 1),
            ("task_started", 1),
            ("task_retry_scheduled", 1),
            ("task_received", 2),
            ("task_started", 2),
            ("task_failed", 2),
        ],
    )
    retry = next(
        e
        for e in log_events(stack.workers[QUEUE].log_path, flaky["id"])
        if e["event"] == "task_retry_scheduled"
    )
    assert retry["delay_seconds"] >= 0 and retry["error_type"] == "StorageUnavailable"


def test_flower_asks_for_credentials(flower: str) -> None:
    for path in ("/", "/workers", "/broker", "/api/workers"):
        response = requests.get(f"{flower}{path}", timeout=10)
        assert response.status_code == 401, path
        if not path.startswith("/api/"):  # Flower's REST API answers a bare 401
            assert response.headers["WWW-Authenticate"].startswith("Basic"), path
    wrong = requests.get(f"{flower}/workers", auth=(FLOWER_USER, "wrong"), timeout=10)
    assert wrong.status_code == 401


def test_flower_lists_the_workers_and_the_nine_queues(flower: str) -> None:
    expected = {f"{t}-{p}" for t in available_task_types() for p in topology.PRIORITIES}

    def listed() -> None:
        names = {name.split("@")[0] for name in flower_workers(flower)}
        assert expected <= names, sorted(expected - names)

    eventually(listed)
    broker = flower_get(flower, "/broker")
    assert broker.status_code == 200
    for queue in topology.QUEUE_NAMES:
        assert f">{queue}<" in broker.text, queue


def test_flower_purges_a_worker_that_went_away(stack: Stack, flower: str) -> None:
    queue = "data.normal"
    eventually(lambda: assert_has_worker(flower, queue))
    stack.stop_worker(queue)
    try:

        def purged() -> None:
            assert not any(n.startswith("data-normal@") for n in flower_workers(flower))
            online = requests.get(f"{flower}/metrics", timeout=10).text
            assert 'flower_worker_online{worker="data-normal@' not in online

        eventually(purged, FLOWER_PURGE_SECONDS + 20)
    finally:
        stack.start_worker(queue)


def assert_has_worker(flower: str, queue: str) -> None:
    prefix = queue.replace(".", "-") + "@"
    assert any(name.startswith(prefix) for name in flower_workers(flower))


def dashboard_metrics() -> set[str]:
    import re

    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    return {
        name
        for expr in exprs
        for name in re.findall(r"\b(?:taskyard|flower|rabbitmq)_[a-z0-9_]+", expr)
    }


def test_every_dashboard_metric_is_served_by_a_live_endpoint(
    api: ApiClient, worker_metrics_url: str, flower: str
) -> None:
    assert api.wait_for(api.submit(body({"input": {"records": [{"x": 2}]}}))["id"])
    wanted = dashboard_metrics()

    def served() -> None:
        names = set()
        for text in (
            api.get("/metrics").text,
            requests.get(worker_metrics_url, timeout=5).text,
            requests.get(f"{flower}/metrics", timeout=10).text,
        ):  # open: for Prometheus
            names |= {name for name, _ in samples(text)}
        assert wanted <= names, sorted(wanted - names)

    eventually(served)
