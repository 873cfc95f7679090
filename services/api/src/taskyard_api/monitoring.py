"""Queue depths from the RabbitMQ management API and workers from Celery's inspect, cached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote, urlsplit

import requests

from taskyard_common import topology
from taskyard_common.clock import now_iso
from taskyard_api.services import Services

MANAGEMENT_TIMEOUT_SECONDS = 3
INSPECT_TIMEOUT_SECONDS = 1.0
T = TypeVar("T")


class TtlCache(Generic[T]):
    """One value, recomputed at most every `ttl_seconds` however many requests ask."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._value: T | None = None
        self._expires_at = 0.0

    def get(self, compute: Callable[[], T]) -> T:
        with self._lock:
            if self._value is None or time.monotonic() >= self._expires_at:
                self._value = compute()
                self._expires_at = time.monotonic() + self._ttl_seconds
            return self._value


def _vhost(broker_url: str) -> str:
    path = urlsplit(broker_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def fetch_queues(found: Services) -> list[dict[str, Any]]:
    url = urlsplit(found.settings.rabbitmq_management_url.get_secret_value())
    vhost = quote(_vhost(found.settings.broker_url.get_secret_value()), safe="")
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


def fetch_workers(found: Services) -> list[dict[str, Any]]:
    inspect = found.celery.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS)
    stats = inspect.stats() or {}
    active = inspect.active() or {}
    queues = inspect.active_queues() or {}
    seen = now_iso()
    workers = []
    for name in sorted(set(stats) | set(active) | set(queues)):
        totals = (stats.get(name) or {}).get("total") or {}
        workers.append(
            {
                "name": name,
                "queues": sorted(q["name"] for q in queues.get(name) or []),
                "active": len(active.get(name) or []),
                "processed": int(sum(totals.values())),
                "last_seen": seen,
            }
        )
    return workers
