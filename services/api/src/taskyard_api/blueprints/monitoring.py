"""/api/queues, /api/workers and /metrics."""

from __future__ import annotations

import os

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess

from taskyard_api.errors import BackendUnavailable
from taskyard_api.models import ErrorResponse, QueueList, WorkerList
from taskyard_api.monitoring import TtlCache, fetch_queues, fetch_workers
from taskyard_api.services import services

monitoring_bp = APIBlueprint("monitoring", __name__, abp_tags=[Tag(name="monitoring")])


def _cache(name: str) -> TtlCache[list[dict[str, object]]]:
    caches = current_app.extensions.setdefault("taskyard_caches", {})
    if name not in caches:
        caches[name] = TtlCache(services().settings.cache_ttl_seconds)
    cache: TtlCache[list[dict[str, object]]] = caches[name]
    return cache


@monitoring_bp.get("/api/queues", responses={200: QueueList, 503: ErrorResponse},
                   summary="Depth of every queue")
def list_queues() -> Response:
    found = services()
    try:
        queues = _cache("queues").get(lambda: fetch_queues(found))
    except Exception as error:
        raise BackendUnavailable("rabbitmq-management", error) from error
    return jsonify({"queues": queues})


@monitoring_bp.get("/api/workers", responses={200: WorkerList, 503: ErrorResponse},
                   summary="Live workers")
def list_workers() -> Response:
    found = services()
    try:
        workers = _cache("workers").get(lambda: fetch_workers(found))
    except Exception as error:
        raise BackendUnavailable("rabbitmq", error) from error
    return jsonify({"workers": workers})


@monitoring_bp.get("/metrics", summary="Prometheus metrics", responses={200: None})
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry  # noqa: N811
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
