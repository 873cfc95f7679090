"""The baseline for the end-to-end benchmark: plain Celery with Taskyard's settings.

The app comes from the same `create_celery_app` (JSON, acks_late, prefetch 1,
publisher confirms, quorum queues, no result backend, task events on), the worker
runs with the same command-line flags as `taskyard-<type>-worker`, and the task
takes the same keyword arguments as a Taskyard data task. What it leaves out is
exactly Taskyard's own work: the HTTP API, payload validation, the status record
(three Redis calls per task), structured log lines and the data pipeline.

Completion: the task does one Redis round trip (a script that counts it and keeps
the latest completion time), so the benchmark knows when the last one finished
without a result backend. That is a third of what a Taskyard task spends on Redis.

    python -m bench.plain_celery --concurrency 2      # the worker
"""

from __future__ import annotations

import os

# As in taskyard_common.worker_main: read by billiard and Celery when first imported.
os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")

import argparse
import time
from functools import cache
from typing import Any

import redis
from kombu import Queue

from taskyard_common import topology
from taskyard_common.celery_app import create_celery_app
from taskyard_common.settings import Settings

QUEUE = "bench.plain"
TASK_NAME = "bench.plain.noop"
DONE_KEY = "bench:plain:done"
LAST_KEY = "bench:plain:last"
# Count one completion and keep the latest completion time, in one round trip.
_MARK_DONE = """
redis.call('INCR', KEYS[1])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > last then redis.call('SET', KEYS[2], ARGV[1]) end
return 1
"""

settings = Settings()
# Celery's own behaviour sends task events with publisher confirms; Taskyard does not.
CONFIRM_EVENTS_ENV = "BENCH_PLAIN_CONFIRM_EVENTS"
app = create_celery_app(
    "bench-plain-celery", settings, confirm_events=os.environ.get(CONFIRM_EVENTS_ENV) == "1"
)
app.conf.task_queues = [
    Queue(
        QUEUE,
        topology.exchange(),
        routing_key=QUEUE,
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )
]


@cache
def _mark_done() -> Any:
    # Made on first use, so every forked pool child has its own connection.
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    return client.register_script(_MARK_DONE)


@app.task(name=TASK_NAME, typing=False)
def noop(payload: Any = None, max_retries: int | None = None, **_: Any) -> None:
    _mark_done()(keys=[DONE_KEY, LAST_KEY], args=[repr(time.time())])


def submit(kwargs: dict[str, Any]) -> None:
    """What the benchmark calls per task: apply_async onto the quorum queue, confirmed."""
    noop.apply_async(
        kwargs=kwargs,
        queue=QUEUE,
        routing_key=QUEUE,
        exchange=topology.EXCHANGE_NAME,
        ignore_result=True,
    )


def main() -> None:
    """The worker, with the flags `taskyard_common.worker_main.start_worker` uses."""
    parser = argparse.ArgumentParser(prog="python -m bench.plain_celery")
    parser.add_argument("--concurrency", type=int, default=None)
    args = parser.parse_args()
    worker_args = [
        "worker",
        "--queues",
        QUEUE,
        "--hostname",
        "bench-plain@%h",
        "--loglevel",
        os.environ.get("TASKYARD_LOG_LEVEL", "INFO").upper(),
        "--without-mingle",
        "--without-gossip",
        "--task-events",
    ]
    if args.concurrency:
        worker_args += ["--concurrency", str(args.concurrency)]
    app.worker_main(worker_args)


if __name__ == "__main__":
    main()
