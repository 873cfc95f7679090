"""/api/queues, /api/workers and /metrics."""

from __future__ import annotations

import os

from flask import Response, jsonify
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from taskyard_api.blueprints import api_blueprint
from taskyard_api.models import ErrorResponse, QueueList, WorkerList
from taskyard_api.monitoring import QueueCollector, cached_queues, live_workers, queue_depths
from taskyard_api.paths import METRICS_PATH
from taskyard_api.services import services

monitoring_bp = api_blueprint("monitoring", __name__)


@monitoring_bp.get("/api/queues", responses={200: QueueList, 503: ErrorResponse})
def list_queues() -> Response:
    """Depth of every queue (cached for a few seconds)"""
    return jsonify({"queues": queue_depths(services())})


@monitoring_bp.get("/api/workers", responses={200: WorkerList, 503: ErrorResponse})
def list_workers() -> Response:
    """Live workers (cached for a few seconds)"""
    return jsonify({"workers": live_workers(services())})


@monitoring_bp.get(METRICS_PATH, responses={200: None})
def get_metrics() -> Response:
    """Prometheus metrics"""
    found = services()
    queue_collector = QueueCollector(lambda: cached_queues(found))
    registry = CollectorRegistry()
    registry.register(queue_collector)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # gunicorn: every worker process writes its samples to files; add them all up.
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
