"""API monitoring without servers: the cache, the worker replies, 503s and /metrics."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from support.api_app import MakeClient
from taskyard_api.monitoring import QueueCollector, TtlCache, workers_from_replies
from taskyard_common import worker_monitoring
from taskyard_common.celery_app import STATUS_COMMAND


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_computes_once_per_ttl_and_remembers_failures() -> None:
    clock = FakeClock()
    cache: TtlCache[int] = TtlCache(3, clock)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("broker down")
        return len(calls)

    assert cache.get(compute) == 1
    clock.now = 2.9
    assert cache.get(compute) == 1
    clock.now = 3.0
    for _ in range(3):  # the failure is cached too: an outage is not hammered
        with pytest.raises(ConnectionError):
            cache.get(compute)
    clock.now = 6.0
    assert cache.get(compute) == 3
    assert len(calls) == 3


def test_cache_with_zero_ttl_always_recomputes() -> None:
    cache: TtlCache[int] = TtlCache(0)
    counter = iter(range(10))
    assert [cache.get(lambda: next(counter)) for _ in range(3)] == [0, 1, 2]


def test_worker_entries_come_from_one_broadcast_reply_each() -> None:
    replies = [
        {"email-high@h": {"queues": ["email.high"], "active": 1, "processed": 7}},
        {"data-low@h": {"queues": ["data.low"], "active": 0, "processed": 0}},
        {"old@h": {"error": f"No such command: {STATUS_COMMAND!r}"}},
    ]
    workers = workers_from_replies(replies, "2026-01-01T00:00:00.000Z")
    assert [w["name"] for w in workers] == ["data-low@h", "email-high@h", "old@h"]
    assert workers[1] == {
        "name": "email-high@h",
        "queues": ["email.high"],
        "active": 1,
        "processed": 7,
        "last_seen": "2026-01-01T00:00:00.000Z",
    }
    assert workers[2]["queues"] == [] and workers[2]["processed"] == 0


def test_the_api_asks_for_the_command_the_workers_register() -> None:
    from celery.worker.control import Panel

    assert Panel.data[STATUS_COMMAND] is worker_monitoring.worker_status


def _families(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = generate_latest(registry).decode()
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
    }


def test_queue_collector_exports_depths_and_says_when_it_cannot() -> None:
    queues = [
        {
            "name": "data.high",
            "type": "data",
            "priority": "high",
            "ready": 4,
            "unacked": 1,
            "consumers": 2,
        }
    ]
    registry = CollectorRegistry()
    registry.register(QueueCollector(lambda: queues))
    families = _families(registry)
    labels = {"queue": "data.high", "type": "data", "priority": "high"}
    assert families["taskyard_queue_messages_ready"] == [(labels, 4.0)]
    assert families["taskyard_queue_messages_unacked"] == [(labels, 1.0)]
    assert families["taskyard_queue_consumers"] == [(labels, 2.0)]
    assert families["taskyard_queue_stats_up"] == [({}, 1.0)]

    def down() -> list[dict[str, object]]:
        raise ConnectionError("management API down")

    broken = CollectorRegistry()
    broken.register(QueueCollector(down))
    assert _families(broken) == {"taskyard_queue_stats_up": [({}, 0.0)]}


@pytest.fixture
def client_without_backends(make_client: MakeClient) -> FlaskClient:
    return make_client(cache_ttl_seconds=5)


@pytest.mark.parametrize(
    ("path", "backend"), [("/api/queues", "rabbitmq-management"), ("/api/workers", "rabbitmq")]
)
def test_monitoring_endpoints_answer_503_with_the_error_shape(
    client_without_backends: FlaskClient, path: str, backend: str
) -> None:
    for _ in range(2):  # the second answer comes from the cached failure
        response = client_without_backends.get(path)
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        error = response.get_json()["error"]
        assert error["code"] == "backend_unavailable"
        assert error["details"][0]["loc"] == [backend]


def test_metrics_still_answer_when_rabbitmq_is_down(client_without_backends: FlaskClient) -> None:
    response = client_without_backends.get("/metrics")
    assert response.status_code == 200
    assert "taskyard_queue_stats_up 0.0" in response.get_data(as_text=True)
