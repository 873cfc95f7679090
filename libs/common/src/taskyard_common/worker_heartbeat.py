"""The worker's liveness heartbeat: a file its main process touches while it consumes.

With TASKYARD_WORKER_HEARTBEAT_PATH set, a consumer bootstep touches that file every
TASKYARD_WORKER_HEARTBEAT_INTERVAL_SECONDS; the chart's liveness probe passes while the
file is fresh, so a probe costs no broker round trip. The touch is a timer of the
consumer's event loop (the loop that takes messages off the queue and hands them to the
pool), not a thread of its own: when that loop hangs the heartbeat stops, while long tasks,
which run in the pool processes, do not stop it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, bootsteps

from taskyard_common.logs import get_logger
from taskyard_common.settings import Settings

log = get_logger("taskyard.worker")


def beat(path: str) -> None:
    Path(path).touch()


class Heartbeat(bootsteps.StartStopStep):
    """Touches `path` every `interval` seconds from the consumer's timer, while it consumes."""

    # Started once the task consumer exists, so a worker still connecting does not beat.
    requires = ("celery.worker.consumer.tasks:Tasks",)
    path = ""
    interval = 10.0

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._entry: Any = None
        # /tmp outlives a container restart in the pod: an old beat must not pass the probe.
        Path(self.path).unlink(missing_ok=True)

    def start(self, parent: Any) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        beat(self.path)
        self._entry = parent.timer.call_repeatedly(self.interval, beat, (self.path,))
        log.info("worker_heartbeat_started", path=self.path, interval_seconds=self.interval)

    def stop(self, parent: Any) -> None:
        if self._entry is not None:
            self._entry.cancel()
            self._entry = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)


def install(app: Celery, settings: Settings) -> None:
    """Add the heartbeat to the worker's consumer when the path setting is set."""
    if not settings.worker_heartbeat_path:
        return
    step = type(
        "Heartbeat",
        (Heartbeat,),
        {
            "path": settings.worker_heartbeat_path,
            "interval": settings.worker_heartbeat_interval_seconds,
        },
    )
    app.steps["consumer"].add(step)
