"""What a worker shows the outside: Prometheus metrics, a one-broadcast status, a log line.

Metrics. A worker is one Celery main process and its prefork pool children, and the
tasks (so the counters in `taskyard_common.metrics`) run in the children. With
TASKYARD_WORKER_METRICS_PORT set, the main process switches prometheus_client to its
multiprocess mode before the pool forks: every child writes its samples into one
folder (TASKYARD_WORKER_METRICS_DIR, or a fresh temporary one) and the main process
serves their sum on http://TASKYARD_WORKER_METRICS_ADDRESS:PORT/metrics. In
Kubernetes every worker pod uses the same port; on one machine each worker process
needs its own. 0 (the default) serves nothing.

Status. STATUS_COMMAND is a read-only remote-control command: one broadcast
answers the API's /api/workers with each worker's queues, active and processed
counts, where Celery's own inspect needs three round trips.

Logs. `task_received`: the lifecycle line for a message the worker has taken off
its queue (the others come from `task_runtime` and the API).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from datetime import datetime
from typing import Any

from celery import signals
from celery.worker import state as worker_state
from celery.worker.control import inspect_command
from prometheus_client import CollectorRegistry, multiprocess, start_http_server, values

from taskyard_common import metrics
from taskyard_common.celery_app import STATUS_COMMAND
from taskyard_common.clock import utc_now
from taskyard_common.logs import get_logger
from taskyard_common.settings import Settings
from taskyard_common.topology import TASK_NAMES, parse_queue_name, queue_from_routing_key

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_TYPES_BY_TASK_NAME = {name: task_type for task_type, name in TASK_NAMES.items()}

log = get_logger("taskyard.worker")
_lock = threading.Lock()
_settings: Settings | None = None
_server: Any = None
_owned_dir: str | None = None


def install(settings: Settings) -> None:
    """Connect the worker signals (idempotent); the endpoint starts with the worker."""
    global _settings
    _settings = settings
    signals.worker_init.connect(_on_worker_init, weak=False, dispatch_uid="taskyard-metrics")
    signals.worker_shutdown.connect(
        _on_worker_shutdown, weak=False, dispatch_uid="taskyard-metrics"
    )
    signals.task_received.connect(_on_task_received, weak=False, dispatch_uid="taskyard-received")


# -- metrics endpoint ------------------------------------------------------------------


def enable_multiprocess(directory: str, *, wipe: bool) -> None:
    """From now on, values made by this process and its forks live in files in `directory`.

    prometheus_client picks its value class when first imported; the metrics here all
    have labels, so their values are made on first `.labels()`, in the pool children,
    after this switch.
    """
    os.makedirs(directory, exist_ok=True)
    if wipe:
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))
    os.environ[MULTIPROC_ENV] = directory
    values.ValueClass = values.get_value_class()


def multiprocess_registry(directory: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return registry


def start_metrics_endpoint(settings: Settings) -> tuple[str, int] | None:
    """Switch to multiprocess mode and serve /metrics; None when the port setting is 0."""
    global _server, _owned_dir
    if not settings.worker_metrics_port:
        return None
    with _lock:
        if _server is not None:
            address: tuple[str, int] = _server.server_address[:2]
            return address
        directory = settings.worker_metrics_dir
        if not directory:
            directory = _owned_dir = tempfile.mkdtemp(prefix="taskyard-worker-metrics-")
        enable_multiprocess(directory, wipe=True)
        _server, _ = start_http_server(
            settings.worker_metrics_port,
            settings.worker_metrics_address,
            registry=multiprocess_registry(directory),
        )
        address = _server.server_address[:2]
    log.info("worker_metrics_serving", address=address[0], port=address[1], directory=directory)
    return address


def stop_metrics_endpoint() -> None:
    global _server, _owned_dir
    with _lock:
        if _server is not None:
            _server.shutdown()
            _server.server_close()
            _server = None
        if _owned_dir is not None:
            shutil.rmtree(_owned_dir, ignore_errors=True)
            _owned_dir = None


def _on_worker_init(sender: Any = None, **_: Any) -> None:
    if _settings is None:
        return
    try:
        start_metrics_endpoint(_settings)
    except OSError as error:
        log.error(
            "worker_metrics_unavailable", port=_settings.worker_metrics_port, error=str(error)
        )


def _on_worker_shutdown(sender: Any = None, **_: Any) -> None:
    stop_metrics_endpoint()


# -- what task_runtime records ---------------------------------------------------------


def seconds_since(created_at: str | None) -> float | None:
    if not created_at:
        return None
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return None
    return max(0.0, (utc_now() - created).total_seconds())


def observe_end_to_end(due_at: str | None, task_type: str, priority: str, status: str) -> None:
    """Time from when the task was due: its submit, or a later run_at (returned by the final
    transition), so a scheduled task's wait does not count."""
    elapsed = seconds_since(due_at)
    if elapsed is not None:
        metrics.TASK_END_TO_END.labels(task_type, priority, status).observe(elapsed)


# -- the task_received log line --------------------------------------------------------


def describe_delivery(task_name: str, routing_key: str | None) -> tuple[str, str]:
    """(type, priority) of a message, "unknown" for what is not Taskyard's."""
    task_type = _TYPES_BY_TASK_NAME.get(task_name, "unknown")
    queue = queue_from_routing_key(routing_key)
    return task_type, parse_queue_name(queue)[1] if queue else "unknown"


def _on_task_received(sender: Any = None, request: Any = None, **_: Any) -> None:
    if request is None or request.name not in _TYPES_BY_TASK_NAME:
        return
    task_type, priority = describe_delivery(
        request.name, (request.delivery_info or {}).get("routing_key")
    )
    retries = int(request.request_dict.get("retries") or 0)
    log.info(
        "task_received",
        task_id=request.id,
        type=task_type,
        priority=priority,
        attempt=retries + 1,
        redelivered=bool(request.delivery_info.get("redelivered")),
        worker=request.hostname,
    )


# -- the status command ----------------------------------------------------------------


def status_reply(queues: list[str], active: int, processed: int) -> dict[str, Any]:
    return {"queues": sorted(queues), "active": active, "processed": processed}


@inspect_command(name=STATUS_COMMAND)
def worker_status(state: Any, **_: Any) -> dict[str, Any]:
    """Queues consumed, tasks running now and tasks started since the worker came up."""
    consumer = state.consumer.task_consumer
    queues = [queue.name for queue in consumer.queues] if consumer else []
    return status_reply(
        queues, len(worker_state.active_requests), int(worker_state.all_total_count[0])
    )
