"""Queue depths from the RabbitMQ management API and workers from one broadcast, cached.

A dashboard polling /api/queues or /api/workers, or Prometheus scraping /metrics,
costs the broker at most one call per TASKYARD_CACHE_TTL_SECONDS per API process;
a failure is remembered for as long, so an outage is not hammered either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote, urlsplit

import requests
from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from taskyard_api.errors import BackendUnavailable
from taskyard_api.services import Services
from taskyard_common import topology
from taskyard_common.celery_app import STATUS_COMMAND
from taskyard_common.clock import now_iso
from taskyard_common.logs import get_logger

MANAGEMENT_TIMEOUT_SECONDS = 3
# Every worker answers a broadcast within this; it is also how long a cache miss waits.
BROADCAST_TIMEOUT_SECONDS = 1.0
BROKER_CONNECT_TIMEOUT_SECONDS = 2
T = TypeVar("T")
log = get_logger("taskyard.api")


class TtlCache(Generic[T]):
    """One value (or the error computing it), recomputed at most every `ttl_seconds`."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._error: Exception | None = None
        self._expires_at = float("-inf")

    def get(self, compute: Callable[[], T]) -> T:
        with self._lock:
            if self._clock() >= self._expires_at:
                try:
                    self._value, self._error = compute(), None
                except Exception as error:
                    self._value, self._error = None, error
                self._expires_at = self._clock() + self._ttl_seconds
            if self._error is not None:
                raise self._error
            assert self._value is not None
            return self._value


def _vhost(broker_url: str) -> str:
    path = urlsplit(broker_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def fetch_queues(found: Services) -> list[dict[str, Any]]:
    """The nine queues in topology order; a queue RabbitMQ does not know yet counts zero.

    With several management URLs (one per cluster member) the first that answers wins."""
    vhost = quote(_vhost(found.settings.broker_urls()[0]), safe="")
    error: Exception | None = None
    for management_url in found.settings.management_urls():
        try:
            return _queues_from(management_url, vhost)
        except requests.RequestException as failed:
            error = failed
    assert error is not None
    raise error


def _queues_from(management_url: str, vhost: str) -> list[dict[str, Any]]:
    url = urlsplit(management_url)
    base = f"{url.scheme}://{url.hostname}:{url.port or 15672}{url.path.rstrip('/')}"
    response = requests.get(
        f"{base}/api/queues/{vhost}",
        params={"columns": "name,messages_ready,messages_unacknowledged,consumers"},
        auth=(unquote(url.username or "guest"), unquote(url.password or "guest")),
        timeout=MANAGEMENT_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    by_name = {queue["name"]: queue for queue in response.json()}
    queues = []
    for name in topology.QUEUE_NAMES:
        task_type, priority = topology.parse_queue_name(name)
        stats = by_name.get(name, {})
        queues.append(
            {
                "name": name,
                "type": task_type,
                "priority": priority,
                "ready": int(stats.get("messages_ready") or 0),
                "unacked": int(stats.get("messages_unacknowledged") or 0),
                "consumers": int(stats.get("consumers") or 0),
            }
        )
    return queues


def workers_from_replies(replies: list[dict[str, Any]], seen: str) -> list[dict[str, Any]]:
    """One entry per worker that answered; a worker without the command still shows up."""
    workers = []
    for reply in replies:
        for name, status in reply.items():
            known = isinstance(status, dict) and "error" not in status
            if not known:
                log.warning("worker_status_unknown", worker=name, reply=str(status)[:200])
            workers.append(
                {
                    "name": name,
                    "queues": sorted(status.get("queues") or []) if known else [],
                    "active": int(status.get("active") or 0) if known else 0,
                    "processed": int(status.get("processed") or 0) if known else 0,
                    "last_seen": seen,
                }
            )
    return sorted(workers, key=lambda worker: worker["name"])


def fetch_workers(found: Services) -> list[dict[str, Any]]:
    """Every live worker answers one STATUS_COMMAND broadcast (see worker_monitoring)."""
    with found.celery.connection_for_write() as connection:
        # Fail in a moment when the broker is down, rather than after Celery's retries.
        connection.ensure_connection(
            max_retries=1,
            interval_start=0,
            interval_step=0.2,
            timeout=BROKER_CONNECT_TIMEOUT_SECONDS,
        )
        replies = found.celery.control.broadcast(
            STATUS_COMMAND, reply=True, timeout=BROADCAST_TIMEOUT_SECONDS, connection=connection
        )
    return workers_from_replies(replies or [], now_iso())


def _cache(name: str, ttl_seconds: float) -> TtlCache[list[dict[str, Any]]]:
    caches = current_app.extensions.setdefault("taskyard_caches", {})
    if name not in caches:
        caches[name] = TtlCache(ttl_seconds)
    cache: TtlCache[list[dict[str, Any]]] = caches[name]
    return cache


def cached_queues(found: Services) -> list[dict[str, Any]]:
    return _cache("queues", found.settings.cache_ttl_seconds).get(lambda: fetch_queues(found))


def queue_depths(found: Services) -> list[dict[str, Any]]:
    """What /api/queues and the console show; 503 while the management API is unreachable."""
    try:
        return cached_queues(found)
    except Exception as error:
        raise BackendUnavailable("rabbitmq-management", error) from error


def live_workers(found: Services) -> list[dict[str, Any]]:
    """What /api/workers and the console show; 503 while RabbitMQ is unreachable."""
    try:
        return _cache("workers", found.settings.cache_ttl_seconds).get(lambda: fetch_workers(found))
    except Exception as error:
        raise BackendUnavailable("rabbitmq", error) from error


class QueueCollector(Collector):
    """taskyard_queue_* gauges for /metrics, from the same cached management API call."""

    def __init__(self, queues: Callable[[], list[dict[str, Any]]]) -> None:
        self._queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["queue", "type", "priority"]
        ready = GaugeMetricFamily(
            "taskyard_queue_messages_ready", "Messages waiting in the queue", labels=labels
        )
        unacked = GaugeMetricFamily(
            "taskyard_queue_messages_unacked",
            "Messages delivered, not yet acknowledged",
            labels=labels,
        )
        consumers = GaugeMetricFamily(
            "taskyard_queue_consumers", "Consumers (workers) on the queue", labels=labels
        )
        up = GaugeMetricFamily(
            "taskyard_queue_stats_up", "1 when the RabbitMQ management API answered"
        )
        try:
            queues = self._queues()
        except Exception as error:
            log.warning("queue_stats_unavailable", error=str(error)[:500])
            up.add_metric([], 0)
            yield up
            return
        for queue in queues:
            values = [queue["name"], queue["type"], queue["priority"]]
            ready.add_metric(values, queue["ready"])
            unacked.add_metric(values, queue["unacked"])
            consumers.add_metric(values, queue["consumers"])
        up.add_metric([], 1)
        yield from (ready, unacked, consumers, up)
