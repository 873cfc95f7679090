"""Polars' thread pool sized to the worker's share of the cores.

Polars runs a pipeline on as many threads as the machine has cores, in every pool process.
With several pool processes they already share the cores, and on a small task the hand-offs
between a process's threads cost more CPU than the task itself; so each process gets its
share. With one pool process (the chart's default) nothing changes; POLARS_MAX_THREADS, set
in the environment, wins.
"""

from __future__ import annotations

import os
from typing import Any

from celery import signals

from taskyard_common.settings import Settings

POLARS_THREADS_ENV = "POLARS_MAX_THREADS"


def threads_per_process(cores: int, pool_processes: int) -> int:
    return max(1, cores // max(1, pool_processes))


def _before_the_pool_forks(sender: Any = None, **_: Any) -> None:
    concurrency = getattr(sender, "concurrency", None)
    if isinstance(concurrency, int) and concurrency > 1:
        cores = len(os.sched_getaffinity(0))
        os.environ.setdefault(POLARS_THREADS_ENV, str(threads_per_process(cores, concurrency)))


def share_cores_with_the_pool(settings: Settings) -> None:
    """`on_start` of the data worker: read by Polars when a pool process first imports it."""
    signals.worker_init.connect(
        _before_the_pool_forks, weak=False, dispatch_uid="taskyard-polars-threads"
    )
