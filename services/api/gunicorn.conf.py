"""gunicorn settings for the Taskyard API; every value comes from the TASKYARD_* settings."""

import os
import shutil
import tempfile

from taskyard_common.settings import get_settings

_settings = get_settings()

wsgi_app = "taskyard_api.wsgi:app"
bind = [_settings.api_bind]
workers = _settings.api_workers
worker_class = "gthread"
threads = _settings.api_threads
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
# prometheus_client's multiprocess mode: each worker writes its samples to this folder.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="taskyard-api-metrics-")
)


def on_starting(server: object) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
