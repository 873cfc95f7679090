"""Prometheus metrics of the API: submits by type and priority, latency, requests by route."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

TASKS_SUBMITTED = Counter(
    "taskyard_api_tasks_submitted", "Tasks accepted (202)", ("type", "priority")
)
SUBMIT_LATENCY = Histogram(
    "taskyard_api_submit_latency_seconds",
    "Time to store and publish one task",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_REQUESTS = Counter(
    "taskyard_api_http_requests", "HTTP requests answered", ("method", "route", "status")
)
# Labels a client chooses must not grow without bound: any other method counts as "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        if request.endpoint == "tasks.submit_task" and response.status_code == 202:
            SUBMIT_LATENCY.observe(time.perf_counter() - g.get("request_started", 0.0))
        return response


def count_submitted(task_type: str, priority: str) -> None:
    """Called by the submit view once the task is queued: the labels come from the task."""
    TASKS_SUBMITTED.labels(task_type, priority).inc()
