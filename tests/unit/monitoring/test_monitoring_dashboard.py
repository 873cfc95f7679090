"""The Grafana dashboard parses and every query names a metric some part of Taskyard exports.

The exported names come from the collectors themselves (the API's, the workers', the
API's queue gauges and Flower's); tests/integration/test_monitoring_exporters.py
checks the same names against live /metrics endpoints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.registry import Collector

REPO_ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = REPO_ROOT / "deploy/grafana/taskyard-dashboard.json"
_NOT_METRICS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries: list[str] = []
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        queries.extend(target["expr"] for target in panel.get("targets", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def metric_names(expression: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names (not functions or labels)."""
    text = re.sub(r'"[^"]*"', "", expression)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        if match.group() in _NOT_METRICS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(match.group())
    return names


def sample_names(collector: Collector) -> set[str]:
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
        "summary": ("_count", "_sum", ""),
    }
    describe = getattr(collector, "describe", None)
    families = describe() if describe is not None else []
    families = families or list(collector.collect())
    return {family.name + suffix for family in families for suffix in suffixes[family.type]}


def declared_metrics() -> set[str]:
    from flower.events import get_prometheus_metrics

    from taskyard_api import http_metrics
    from taskyard_api.monitoring import QueueCollector
    from taskyard_common import metrics

    flower = get_prometheus_metrics()
    queues = QueueCollector(
        lambda: [
            {
                "name": "data.high",
                "type": "data",
                "priority": "high",
                "ready": 0,
                "unacked": 0,
                "consumers": 0,
            }
        ]
    )
    collectors: list[Collector] = [
        http_metrics.TASKS_SUBMITTED,
        http_metrics.SUBMIT_LATENCY,
        http_metrics.HTTP_REQUESTS,
        metrics.TASK_RETRIES,
        metrics.TASK_FAILURES,
        metrics.TASK_RUNTIME,
        metrics.TASK_END_TO_END,
        queues,
        *vars(flower).values(),
    ]
    return set().union(*(sample_names(collector) for collector in collectors))


def test_metric_names_skip_functions_labels_and_ranges() -> None:
    expression = (
        "histogram_quantile(0.95, sum by (le, type) "
        '(rate(taskyard_task_runtime_seconds_bucket{type="data"}[$__rate_interval])))'
        " / on (type) group_left max without (queue) (flower_worker_online)"
    )
    assert metric_names(expression) == {
        "taskyard_task_runtime_seconds_bucket",
        "flower_worker_online",
    }


def test_dashboard_parses_and_every_query_names_an_exported_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 10
    exported = declared_metrics()
    for query in queries:
        named = metric_names(query)
        assert named, f"names no metric: {query}"
        assert named <= exported, f"{sorted(named - exported)} not exported: {query}"


def test_dashboard_covers_what_issue_8_asks_for() -> None:
    named = set().union(*map(metric_names, dashboard_queries(json.loads(DASHBOARD.read_text()))))
    for metric in (
        "taskyard_queue_messages_ready",
        "taskyard_api_tasks_submitted_total",
        "taskyard_task_failures_total",
        "taskyard_task_retries_total",
        "taskyard_task_runtime_seconds_bucket",
        "flower_worker_online",
        "taskyard_task_end_to_end_seconds_bucket",
    ):
        assert metric in named
