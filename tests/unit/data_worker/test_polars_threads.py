"""Polars' threads per pool process: the worker's share of the cores, the environment first."""

from __future__ import annotations

import os

import pytest
from celery import signals

from taskyard_common.settings import Settings
from taskyard_data_worker import polars_threads


class _Worker:
    """What Celery sends worker_init from: the worker, with its pool size."""

    def __init__(self, concurrency: object) -> None:
        self.concurrency = concurrency


@pytest.mark.parametrize(
    ("cores", "processes", "threads"),
    [(2, 1, 2), (2, 2, 1), (2, 4, 1), (8, 2, 4), (8, 3, 2), (1, 1, 1)],
)
def test_threads_per_process(cores: int, processes: int, threads: int) -> None:
    assert polars_threads.threads_per_process(cores, processes) == threads


@pytest.mark.parametrize(
    ("preset", "concurrency", "expected"),
    [(None, 1, None), (None, "auto", None), ("3", 4, "3")],
)
def test_set_before_the_pool_forks_unless_set_already(
    monkeypatch: pytest.MonkeyPatch, preset: str | None, concurrency: object, expected: str | None
) -> None:
    monkeypatch.delenv(polars_threads.POLARS_THREADS_ENV, raising=False)
    if preset is not None:
        monkeypatch.setenv(polars_threads.POLARS_THREADS_ENV, preset)
    polars_threads.share_cores_with_the_pool(Settings(_env_file=None))  # type: ignore[call-arg]
    signals.worker_init.send(sender=_Worker(concurrency))

    assert os.environ.get(polars_threads.POLARS_THREADS_ENV) == expected


def test_a_pool_of_many_processes_gets_a_share(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.delenv(polars_threads.POLARS_THREADS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    polars_threads.share_cores_with_the_pool(Settings(_env_file=None))  # type: ignore[call-arg]
    signals.worker_init.send(sender=_Worker(2))
    assert os.environ[polars_threads.POLARS_THREADS_ENV] == "4"
