"""The Taskyard HTTP API: `create_app()` builds it, gunicorn serves it."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template_string
from flask_openapi3 import Info, OpenAPI
from flask_openapi3_swagger.templates import swagger_html_string

from taskyard_api import http_metrics, rate_limit, security_headers
from taskyard_api.auth import is_open_path, require_api_key
from taskyard_api.blueprints.files import files_bp
from taskyard_api.blueprints.health import health_bp
from taskyard_api.blueprints.monitoring import monitoring_bp
from taskyard_api.blueprints.tasks import tasks_bp
from taskyard_api.console import console_bp
from taskyard_api.errors import openapi_validation_callback, register_error_handlers
from taskyard_api.models import ErrorResponse
from taskyard_api.openapi_examples import add_submit_examples
from taskyard_api.paths import DOCS_PREFIX, METRICS_PATH, OPENAPI_PATH
from taskyard_api.request_guards import StrictJSONProvider
from taskyard_api.services import EXTENSION_KEY, Services
from taskyard_common.callbacks import address_policy
from taskyard_common.logs import configure_logging, get_logger
from taskyard_common.settings import Settings, get_settings

API_VERSION = "1.0.0"
ERROR_SCHEMA_REF = "#/components/schemas/ErrorResponse"
log = get_logger("taskyard.api")


def create_app(settings: Settings | None = None) -> OpenAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = OpenAPI(
        __name__,
        info=Info(
            title="Taskyard API",
            version=API_VERSION,
            description="Submit data, email and file tasks and follow them.",
        ),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        responses={401: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse},
        validation_error_status=422,
        validation_error_model=ErrorResponse,
        validation_error_callback=openapi_validation_callback,
        doc_prefix=DOCS_PREFIX,
        doc_url="/openapi.json",
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json = StrictJSONProvider(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = Services.from_settings(settings)
    if not app.extensions[EXTENSION_KEY].api_keys:
        log.warning("api_open", message="no API key configured: the API accepts every caller")

    # The rate limit goes first: a caller guessing keys is limited by its address.
    rate_limit.install(app, settings)
    app.before_request(require_api_key)
    http_metrics.install(app)
    # callback_url is checked by resolving its host: a request may only wait so long for that.
    app.before_request(address_policy.start_lookup_budget)
    app.teardown_request(address_policy.end_lookup_budget)
    security_headers.install(app)
    register_error_handlers(app)
    for blueprint in (health_bp, tasks_bp, files_bp, monitoring_bp):
        app.register_api(blueprint)
    app.register_blueprint(console_bp)

    @app.get(OPENAPI_PATH, doc_ui=False)
    def openapi_document() -> Response:
        return jsonify(app.api_doc)

    @app.get(DOCS_PREFIX, doc_ui=False)
    def docs_page() -> str:
        # The Swagger page names its assets relative to its URL; a <base> anchors them.
        page = swagger_html_string.replace("<head>", f'<head><base href="{DOCS_PREFIX}/">', 1)
        return render_template_string(
            page, doc_url="openapi.json", swagger_config=None, oauth_config=None
        )

    _complete_openapi_document(app)
    return app


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def _error_response_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }


def _complete_openapi_document(app: OpenAPI) -> None:
    """Give every operation the error responses the app-level hooks can answer.

    flask-openapi3 applies `responses=` only to routes declared on the app itself, not to
    blueprints, and documents its validation error as a list of the model: the document
    then disagreed with what the API answers (found by schemathesis).
    """
    document = app.api_doc  # generated once and cached by flask-openapi3
    document["security"] = [{"bearer": []}]
    add_submit_examples(document)
    for path, operations in document.get("paths", {}).items():
        flask_path = path.replace("{", "<").replace("}", ">")
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses["422"] = _error_response_doc("Validation error")
            if is_open_path(flask_path):
                operation["security"] = []
            else:
                if flask_path == METRICS_PATH:
                    operation["security"] = [{"bearer": []}, {}]
                responses.setdefault("401", _error_response_doc("Missing or wrong API key"))
            if flask_path not in rate_limit.EXEMPT_PATHS:
                responses.setdefault("429", _error_response_doc("Rate limited"))
            if flask_path.startswith("/api/"):
                responses.setdefault(
                    "503", _error_response_doc("RabbitMQ, Redis or storage unavailable")
                )
            for status in ("429", "503"):
                if status in responses:
                    responses[status].setdefault("headers", {}).update(RETRY_AFTER_HEADER)
