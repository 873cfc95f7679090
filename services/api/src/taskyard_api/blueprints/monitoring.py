"""/api/queues, /api/workers and /metrics."""

from __future__ import annotations

import os
from typing import Any

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from taskyard_api.errors import BackendUnavailable
from taskyard_api.models import ErrorResponse, QueueList, WorkerList
from taskyard_api.monitoring import QueueCollector, TtlCache, fetch_queues, fetch_workers
from taskyard_api.paths import METRICS_PATH
from taskyard_api.services import Services, services

monitoring_bp = APIBlueprint("monitoring", __name__, abp_tags=[Tag(name="monitoring")])


def _cache(name: str) -> TtlCache[list[dict[str, Any]]]:
    caches = current_app.extensions.setdefault("taskyard_caches", {})
    if name not in caches:
        caches[name] = TtlCache(services().settings.cache_ttl_seconds)
    cache: TtlCache[list[dict[str, Any]]] = caches[name]
    return cache


def _queues(found: Services) -> list[dict[str, Any]]:
    return _cache("queues").get(lambda: fetch_queues(found))


@monitoring_bp.get(
    "/api/queues",
    responses={200: QueueList, 503: ErrorResponse},
    summary="Depth of every queue (cached for a few seconds)",
    operation_id="listQueues",
)
def list_queues() -> Response:
    try:
        queues = _queues(services())
    except Exception as error:
        raise BackendUnavailable("rabbitmq-management", error) from error
    return jsonify({"queues": queues})


@monitoring_bp.get(
    "/api/workers",
    responses={200: WorkerList, 503: ErrorResponse},
    summary="Live workers (cached for a few seconds)",
    operation_id="listWorkers",
)
def list_workers() -> Response:
    found = services()
    try:
        workers = _cache("workers").get(lambda: fetch_workers(found))
    except Exception as error:
        raise BackendUnavailable("rabbitmq", error) from error
    return jsonify({"workers": workers})


@monitoring_bp.get(
    METRICS_PATH, summary="Prometheus metrics", responses={200: None}, operation_id="getMetrics"
)
def metrics() -> Response:
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
