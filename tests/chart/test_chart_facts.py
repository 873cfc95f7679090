"""Facts the chart spells again because it cannot import Python: each held equal to its owner."""

from __future__ import annotations

import json
import re

import chartlib

from taskyard_api.paths import LIVENESS_PATH, METRICS_PATH, READINESS_PATH
from taskyard_common.limits import MAX_RETRIES_LIMIT

SCHEMA = json.loads((chartlib.CHART_DIR / "values.schema.json").read_text())


def _api_container(objects):
    deployment = chartlib.named(objects, "Deployment", f"{chartlib.RELEASE}-api")
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "api"
    ]
    return container


def test_the_api_probes_ask_the_paths_the_api_serves(default_objects):
    container = _api_container(default_objects)
    paths = {
        probe: container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths == {
        "startupProbe": LIVENESS_PATH,
        "livenessProbe": LIVENESS_PATH,
        "readinessProbe": READINESS_PATH,
    }


def test_the_api_service_monitor_scrapes_the_metrics_path(render):
    monitor = chartlib.named(render("monitoring"), "ServiceMonitor", f"{chartlib.RELEASE}-api")
    assert [endpoint["path"] for endpoint in monitor["spec"]["endpoints"]] == [METRICS_PATH]


def test_the_helm_test_waits_for_the_readiness_path():
    script = (chartlib.CHART_DIR / "files" / "smoke_test.py").read_text()
    assert re.findall(r'"(/[a-z]+z)"', script) == [READINESS_PATH]


def test_the_retry_budget_has_the_contract_ceiling():
    max_retries = SCHEMA["properties"]["config"]["properties"]["retry"]["properties"]["maxRetries"]
    assert max_retries["maximum"] == MAX_RETRIES_LIMIT
