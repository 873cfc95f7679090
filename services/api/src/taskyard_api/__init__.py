"""The Taskyard HTTP API: `create_app()` builds it, gunicorn serves it."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import Info, OpenAPI

from taskyard_common.logs import configure_logging, get_logger
from taskyard_common.settings import Settings, get_settings
from taskyard_api import http_metrics, security_headers
from taskyard_api.auth import require_api_key
from taskyard_api.blueprints.files import files_bp
from taskyard_api.blueprints.health import health_bp
from taskyard_api.blueprints.monitoring import monitoring_bp
from taskyard_api.blueprints.tasks import tasks_bp
from taskyard_api.errors import openapi_validation_callback, register_error_handlers
from taskyard_api.models import ErrorResponse
from taskyard_api.services import EXTENSION_KEY, Services

API_VERSION = "1.0.0"
DOCS_PREFIX = "/api/docs"
log = get_logger("taskyard.api")


def create_app(settings: Settings | None = None) -> OpenAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = OpenAPI(
        __name__,
        info=Info(title="Taskyard API", version=API_VERSION,
                  description="Submit data, email and file tasks and follow them."),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        responses={401: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse,
                   503: ErrorResponse},
        validation_error_status=422,
        validation_error_model=ErrorResponse,
        validation_error_callback=openapi_validation_callback,
        doc_prefix=DOCS_PREFIX,
        doc_url="/openapi.json",
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = Services.from_settings(settings)
    if not app.extensions[EXTENSION_KEY].api_keys:
        log.warning("api_open", message="no API key configured: the API accepts every caller")

    app.before_request(require_api_key)
    http_metrics.install(app)
    security_headers.install(app)
    register_error_handlers(app)
    for blueprint in (health_bp, tasks_bp, files_bp, monitoring_bp):
        app.register_api(blueprint)

    @app.get("/api/openapi.json", doc_ui=False)
    def openapi_document() -> Response:
        return jsonify(app.api_doc)

    @app.get(DOCS_PREFIX, doc_ui=False)
    def docs_page() -> object:
        return app.view_functions["swagger.swagger"]()

    return app
