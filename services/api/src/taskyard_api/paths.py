"""The API's fixed paths beside its resources: the probes, the metrics and its own description.

The chart's probes and ServiceMonitor name the same paths; tests/chart/test_chart_facts.py
holds them equal to these.
"""

from __future__ import annotations

from typing import Final

LIVENESS_PATH: Final = "/healthz"
READINESS_PATH: Final = "/readyz"
METRICS_PATH: Final = "/metrics"
OPENAPI_PATH: Final = "/api/openapi.json"
DOCS_PREFIX: Final = "/api/docs"
# The web console signs in with its own session cookie (taskyard_api.console), not a header.
CONSOLE_PREFIX: Final = "/ui"


def is_docs_path(path: str) -> bool:
    """The Swagger page and its assets."""
    return path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/")


def is_console_path(path: str) -> bool:
    """The web console's pages, actions and assets."""
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")
