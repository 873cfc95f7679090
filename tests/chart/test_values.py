"""values.yaml, values.schema.json and the `helm test` script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import chartlib
import jsonschema
import pytest
import yaml

from taskyard_common.topology import PRIORITIES, TASK_TYPES

SCHEMA = json.loads((chartlib.CHART_DIR / "values.schema.json").read_text())
VALUES = yaml.safe_load((chartlib.CHART_DIR / "values.yaml").read_text())


def test_schema_is_valid_and_accepts_the_defaults():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(VALUES, SCHEMA)


def merged(base, extra):
    """Helm's coalescing of values: maps merge, everything else is replaced."""
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@pytest.mark.parametrize("scenario", sorted(chartlib.SCENARIOS))
def test_schema_accepts_every_scenario(scenario):
    values = VALUES
    for path in chartlib.SCENARIOS[scenario].get("files", ()):
        values = merged(values, yaml.safe_load(path.read_text()))
    values = merged(values, chartlib.SCENARIOS[scenario].get("values") or {})
    jsonschema.validate(values, SCHEMA)


@pytest.mark.parametrize(
    ("set_args", "message"),
    [
        pytest.param("storage.type=nfs", "/storage/type", id="storage-type"),
        pytest.param(
            "workers.priorities.low.keda.minReplicaCount=-1",
            "minReplicaCount",
            id="negative-min-replicas",
        ),
        pytest.param("image.pullPolicy=Sometimes", "/image/pullPolicy", id="pull-policy"),
        pytest.param("config.logFormat=xml", "/config/logFormat", id="log-format"),
        pytest.param("api.containerPort=70000", "/api/containerPort", id="port"),
        pytest.param("workers.types.video.enabled=true", "video", id="unknown-type"),
        pytest.param(
            "workers.overrides.data\\.urgent.concurrency=2",
            "data.urgent",
            id="unknown-queue-override",
        ),
        pytest.param("apiKey=abc", "apiKey", id="unknown-top-level-key"),
        pytest.param(
            "rabbitmq.consumerTimeoutMs=1000", "consumerTimeoutMs", id="consumer-timeout-too-short"
        ),
        pytest.param("externalRedis.url=http://x", "/externalRedis/url", id="redis-url-scheme"),
        pytest.param(
            "workers.defaults.metrics.port=70000",
            "/workers/defaults/metrics/port",
            id="metrics-port",
        ),
        pytest.param(
            "monitoring.prometheusSelector.ipBlock.cidr=0.0.0.0/0",
            "ipBlock",
            id="prometheus-selector-field",
        ),
        pytest.param(
            "monitoring.serviceMonitor.interval=soon",
            "/monitoring/serviceMonitor/interval",
            id="monitor-interval",
        ),
    ],
)
def test_schema_rejects_bad_values(helm, set_args, message):
    result = chartlib.helm_template_raw(helm, extra=("--set", set_args))
    assert result.returncode != 0, f"{set_args} was accepted"
    assert "schema" in result.stderr and message in result.stderr, result.stderr


def test_values_know_exactly_the_topology():
    """values.yaml ranges over the same types and priorities as taskyard_common."""
    assert set(VALUES["workers"]["types"]) == set(TASK_TYPES)
    assert set(VALUES["workers"]["priorities"]) == set(PRIORITIES)


def test_every_value_has_a_doc_comment():
    """helm-docs style: each value has a `# --` comment, on itself or on a parent map."""
    lines = (chartlib.CHART_DIR / "values.yaml").read_text().splitlines()
    key_line = re.compile(r"^(\s*)([A-Za-z0-9_.\-\"]+):(.*)$")
    stack: list[tuple[int, bool]] = []  # (indent, documented) of open maps
    undocumented = []
    for number, line in enumerate(lines):
        match = key_line.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        # Is there a `# --` in the comment block right above?
        documented = False
        above = number - 1
        while above >= 0 and lines[above].strip().startswith("#"):
            if lines[above].strip().startswith("# --"):
                documented = True
            above -= 1
        inherited = any(doc for _, doc in stack)
        rest = match.group(3).strip()
        is_leaf = rest != "" and not rest.startswith("#")
        next_is_list = number + 1 < len(lines) and lines[number + 1].strip().startswith("- ")
        if (is_leaf or next_is_list) and not (documented or inherited):
            undocumented.append(f"line {number + 1}: {line.strip()}")
        stack.append((indent, documented or inherited))
    assert not undocumented, "values without a `# --` comment:\n" + "\n".join(undocumented)


class _FakeApi(BaseHTTPRequestHandler):
    """The two calls of files/smoke_test.py, answered like the real API."""

    records: dict[str, dict] = {}
    polls = 0
    headers_seen: list[str] = []

    def log_message(self, *args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/readyz":
            return self._send(200, {"status": "ok"})
        type(self).headers_seen.append(self.headers.get("Authorization", ""))
        task_id = self.path.rsplit("/", 1)[-1]
        type(self).polls += 1
        record = dict(self.records[task_id])
        if type(self).polls >= 2:
            record["status"] = "SUCCESS"
            record["result"] = {
                "row_count": 2,
                "columns": ["region", "amount_sum"],
                "rows": [{"region": "eu", "amount_sum": 15}, {"region": "us", "amount_sum": 7}],
            }
        return self._send(200, record)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).headers_seen.append(self.headers.get("Authorization", ""))
        assert body["type"] == "data"
        record = {
            "id": "t-1",
            "type": "data",
            "priority": body["priority"],
            "queue": f"data.{body['priority']}",
            "status": "QUEUED",
        }
        self.records["t-1"] = record
        return self._send(202, record)


def test_helm_test_script_against_a_fake_api(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    keys = tmp_path / "api-keys"
    keys.write_text("first-key\nsecond-key\n")
    try:
        result = subprocess.run(
            [sys.executable, str(chartlib.CHART_DIR / "files" / "smoke_test.py")],
            env={
                "TASKYARD_TEST_API_URL": f"http://127.0.0.1:{server.server_port}",
                "TASKYARD_TEST_API_KEYS_FILE": str(keys),
                "TASKYARD_TEST_TIMEOUT_SECONDS": "20",
                "PATH": "/usr/bin:/bin",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert set(_FakeApi.headers_seen) == {"Bearer first-key"}
