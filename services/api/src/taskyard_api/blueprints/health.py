"""/healthz (the process answers) and /readyz (its broker, Redis and file storage answer too)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, jsonify

from taskyard_api.blueprints import api_blueprint
from taskyard_api.errors import BACKEND_RETRY_AFTER_SECONDS
from taskyard_api.models import HealthStatus
from taskyard_api.monitoring import TtlCache
from taskyard_api.paths import LIVENESS_PATH, READINESS_PATH
from taskyard_api.services import Services, services

health_bp = api_blueprint("health", __name__)
BROKER_CHECK_TIMEOUT_SECONDS = 2
STORAGE_CHECK_CACHE_KEY = "taskyard_storage_check"
MAX_CHECK_ERROR_CHARS = 300


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


def _check_redis(found: Services) -> None:
    found.store.redis.ping()


def _check_rabbitmq(found: Services) -> None:
    with found.celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_SECONDS)


_CHECKS: dict[str, Callable[[Services], None]] = {
    "redis": _check_redis,
    "rabbitmq": _check_rabbitmq,
    "storage": _check_storage,
}


def _outcome(check: Callable[[Services], None], found: Services) -> str:
    try:
        check(found)
    except Exception as error:
        return f"error: {type(error).__name__}: {error}"[:MAX_CHECK_ERROR_CHARS]
    return "ok"


@health_bp.get(LIVENESS_PATH, responses={200: HealthStatus})
def get_liveness() -> Response:
    """Liveness"""
    return jsonify(HealthStatus(status="ok").model_dump())


@health_bp.get(READINESS_PATH, responses={200: HealthStatus, 503: HealthStatus})
def get_readiness() -> Response:
    """Readiness"""
    found = services()
    checks = {name: _outcome(check, found) for name, check in _CHECKS.items()}
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(
        HealthStatus(status="ready" if ready else "unavailable", checks=checks).model_dump()
    )
    response.status_code = 200 if ready else 503
    if not ready:
        response.headers["Retry-After"] = str(BACKEND_RETRY_AFTER_SECONDS)
    return response
