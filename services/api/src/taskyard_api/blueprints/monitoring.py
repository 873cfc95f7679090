"""/api/queues, /api/workers and /metrics."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from taskyard_api.blueprints import api_blueprint
from taskyard_api.errors import BackendUnavailable
from taskyard_api.models import ErrorResponse, QueueList, WorkerList
from taskyard_api.monitoring import QueueCollector, TtlCache, fetch_queues, fetch_workers
from taskyard_api.paths import METRICS_PATH
from taskyard_api.services import Services, services

monitoring_bp = api_blueprint("monitoring", __name__)


def _cache(name: str) -> TtlCache[list[dict[str, Any]]]:
    caches = current_app.extensions.setdefault("taskyard_caches", {})
    if name not in caches:
        caches[name] = TtlCache(services().settings.cache_ttl_seconds)
    cache: TtlCache[list[dict[str, Any]]] = caches[name]
    return cache


def _queues(found: Services) -> list[dict[str, Any]]:
    return _cache("queues").get(lambda: fetch_queues(found))


def _cached_listing(
    name: str, fetch: Callable[[Services], list[dict[str, Any]]], backend: str
) -> Response:
    """`{name: [...]}` from the cache, or a 503 naming the `backend` that did not answer."""
    found = services()
    try:
        items = _cache(name).get(lambda: fetch(found))
    except Exception as error:
        raise BackendUnavailable(backend, error) from error
    return jsonify({name: items})


@monitoring_bp.get("/api/queues", responses={200: QueueList, 503: ErrorResponse})
def list_queues() -> Response:
    """Depth of every queue (cached for a few seconds)"""
    return _cached_listing("queues", fetch_queues, "rabbitmq-management")


@monitoring_bp.get("/api/workers", responses={200: WorkerList, 503: ErrorResponse})
def list_workers() -> Response:
    """Live workers (cached for a few seconds)"""
    return _cached_listing("workers", fetch_workers, "rabbitmq")


@monitoring_bp.get(METRICS_PATH, responses={200: None})
def get_metrics() -> Response:
    """Prometheus metrics"""
    found = services()
    queue_collector = QueueCollector(lambda: _queues(found))
    registry = CollectorRegistry()
    registry.register(queue_collector)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # gunicorn: every worker process writes its samples to files; add them all up.
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
