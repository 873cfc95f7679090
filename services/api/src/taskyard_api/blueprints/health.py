"""/healthz (the process answers) and /readyz (its broker, Redis and file storage answer too)."""

from __future__ import annotations

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag

from taskyard_api.models import HealthStatus
from taskyard_api.monitoring import TtlCache
from taskyard_api.paths import LIVENESS_PATH, READINESS_PATH
from taskyard_api.services import Services, services

health_bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health")])
BROKER_CHECK_TIMEOUT_SECONDS = 2
STORAGE_CHECK_CACHE_KEY = "taskyard_storage_check"


def _check_storage(found: Services) -> None:
    """One HEAD on the bucket (or a look at the folder) per cache period, not per probe.

    An anonymous caller can hit /readyz as often as it likes; S3 bills requests.
    """
    cache: TtlCache[bool] = current_app.extensions.setdefault(
        STORAGE_CHECK_CACHE_KEY, TtlCache(found.settings.cache_ttl_seconds)
    )

    def usable() -> bool:
        found.files.check()
        return True

    cache.get(usable)


@health_bp.get(
    LIVENESS_PATH, responses={200: HealthStatus}, summary="Liveness", operation_id="getLiveness"
)
def healthz() -> Response:
    return jsonify(HealthStatus(status="ok").model_dump())


@health_bp.get(
    READINESS_PATH,
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
    try:
        _check_storage(found)
        checks["storage"] = "ok"
    except Exception as error:
        checks["storage"] = f"error: {type(error).__name__}: {error}"[:300]
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(
        HealthStatus(status="ready" if ready else "unavailable", checks=checks).model_dump()
    )
    response.status_code = 200 if ready else 503
    if not ready:
        response.headers["Retry-After"] = "5"
    return response
