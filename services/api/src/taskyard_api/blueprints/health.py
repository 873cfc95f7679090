"""/healthz (the process answers) and /readyz (its broker and Redis answer too)."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag

from taskyard_api.models import HealthStatus
from taskyard_api.services import services

health_bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health")])
BROKER_CHECK_TIMEOUT_SECONDS = 2


@health_bp.get(
    "/healthz", responses={200: HealthStatus}, summary="Liveness", operation_id="getLiveness"
)
def healthz() -> Response:
    return jsonify(HealthStatus(status="ok").model_dump())


@health_bp.get(
    "/readyz",
    responses={200: HealthStatus, 503: HealthStatus},
    summary="Readiness",
    operation_id="getReadiness",
)
def readyz() -> Response:
    found = services()
    checks: dict[str, str] = {}
    try:
        found.store.redis.ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"error: {type(error).__name__}: {error}"[:300]
    try:
        with found.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_SECONDS)
        checks["rabbitmq"] = "ok"
    except Exception as error:
        checks["rabbitmq"] = f"error: {type(error).__name__}: {error}"[:300]
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(
        HealthStatus(status="ready" if ready else "unavailable", checks=checks).model_dump()
    )
    response.status_code = 200 if ready else 503
    if not ready:
        response.headers["Retry-After"] = "5"
    return response
