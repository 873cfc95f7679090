"""Prometheus metrics the workers record (Flower's own metrics lack these)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LABELS = ("type", "priority")

TASK_RETRIES = Counter("taskyard_task_retries", "Retries scheduled", LABELS)
TASK_FAILURES = Counter("taskyard_task_failures", "Tasks that ended FAILED", LABELS)
TASK_RUNTIME = Histogram(
    "taskyard_task_runtime_seconds",
    "Handler runtime of successful tasks",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TASK_END_TO_END = Histogram(
    "taskyard_task_end_to_end_seconds",
    "From submit (the record's created_at) to the final SUCCESS or FAILED, retries included",
    (*LABELS, "status"),
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
