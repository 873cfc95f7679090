"""Health, readiness, documentation, queues, workers and metrics of a running stack."""

from __future__ import annotations

from support.client import ApiClient
from support.polling import eventually
from taskyard_common.topology import QUEUE_NAMES

CONSUMER_STATS_WAIT_SECONDS = 15


def test_health_and_readiness(api: ApiClient) -> None:
    assert api.get("/healthz").status_code == 200
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "ok", "rabbitmq": "ok", "storage": "ok"}


def test_openapi_document_and_docs_page(api: ApiClient) -> None:
    document = api.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/api/tasks", "/api/tasks/{task_id}", "/api/files"} <= set(document["paths"])
    page = api.get("/api/docs")
    assert page.status_code == 200
    assert "swagger" in page.text.lower()


def test_queues_lists_all_nine(api: ApiClient) -> None:
    def listed() -> None:
        response = api.get("/api/queues")
        assert response.status_code == 200
        queues = response.json()["queues"]
        assert [q["name"] for q in queues] == list(QUEUE_NAMES)
        data_high = next(q for q in queues if q["name"] == "data.high")
        assert data_high["consumers"] >= 1

    # RabbitMQ's management API refreshes consumer counts every few seconds: a worker that
    # has just started may not be counted yet.
    eventually(listed, CONSUMER_STATS_WAIT_SECONDS)


def test_workers_lists_the_data_workers(api: ApiClient) -> None:
    workers = api.get("/api/workers").json()["workers"]
    queues = {queue for worker in workers for queue in worker["queues"]}
    assert {"data.high", "data.normal", "data.low"} <= queues


def test_metrics_count_submitted_tasks(api: ApiClient) -> None:
    api.submit({"type": "data", "priority": "low", "payload": {"input": {"records": [{"x": 1}]}}})
    text = api.get("/metrics").text
    assert 'taskyard_api_tasks_submitted_total{priority="low",type="data"}' in text
