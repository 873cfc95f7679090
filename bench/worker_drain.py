"""7. Worker CPU per task with its queue full: minimal data tasks queued first, then one
data worker drains them, against plain Celery draining as many no-op tasks. Unlike the
end-to-end row it does not depend on how fast the tasks arrive (a worker fed slowly wakes
up for every task)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.end_to_end import plain_celery_submitter, plain_worker_argv, use_run_backends
from bench.load import final_count, http_batch_submitter, run_chunked, run_threads
from bench.report import Row, say, verdict
from bench.session import (
    E2E_CONCURRENCY,
    SCALE,
    SUBMIT_THREADS,
    WAIT_TIMEOUT_SECONDS,
    Run,
    command_line,
    cpu_seconds,
)
from support.memory import with_children
from support.stack import ManagedProcess, wait_consuming

DRAIN_TASKS = max(200, round(3000 * SCALE))
WORKER_CPU_TARGET_RATIO = 1.5


def drain_cpu_ms(
    worker: ManagedProcess, done: Callable[[], int], tasks: int
) -> tuple[float, float]:
    """(main process, pool) CPU ms per task while `worker` works through `tasks` queued
    tasks; `done` counts those finished. Measured from the moment the worker consumes."""
    pids = with_children(worker.pid)
    before = cpu_seconds(pids)
    start = done()
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while done() < tasks:
        worker.require_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{worker.name}: {tasks - done()} tasks not done in time")
        time.sleep(0.05)
    used = [after - first for after, first in zip(cpu_seconds(pids), before, strict=True)]
    counted = max(1, tasks - start)
    return 1000 * used[0] / counted, 1000 * sum(used[1:]) / counted


def drain_row(
    ours: tuple[float, float], base: tuple[float, float], tasks: int, command: str
) -> Row:
    ratio = sum(ours) / sum(base)
    return Row(
        f"7. worker CPU per task draining {tasks} queued tasks, ms (main process + pool)",
        f"{sum(ours):.2f} ({ours[0]:.2f} + {ours[1]:.2f})",
        f"{sum(base):.2f} ({base[0]:.2f} + {base[1]:.2f})",
        f"{ratio:.2f}x",
        f"<= {WORKER_CPU_TARGET_RATIO}x",
        verdict(ratio <= WORKER_CPU_TARGET_RATIO),
        command,
    )


def bench_worker_drain(run: Run, api: ManagedProcess, api_url: str) -> None:
    client = run.backends.redis
    say(f"worker CPU: {DRAIN_TASKS} minimal data tasks queued, then one worker drains them")
    already = final_count(client, "normal")
    queued = run_chunked(DRAIN_TASKS, SUBMIT_THREADS, http_batch_submitter(api_url, "normal"))
    if queued.errors:
        raise RuntimeError(f"submit errors while queueing: {queued.errors[0]}")
    worker = run.start_data_worker("normal", E2E_CONCURRENCY)
    ours = drain_cpu_ms(worker, lambda: final_count(client, "normal") - already, DRAIN_TASKS)
    run.stop(worker)

    use_run_backends(run)
    from bench import plain_celery

    declare = run.start("plain-celery-declare", plain_worker_argv(1), run.env())
    wait_consuming(run.backends, "bench.plain", declare)
    run.stop(declare)
    client.delete(plain_celery.DONE_KEY, plain_celery.LAST_KEY)
    run_threads(DRAIN_TASKS, SUBMIT_THREADS, plain_celery_submitter())
    argv = plain_worker_argv(E2E_CONCURRENCY)
    plain = run.start("plain-celery-drain", argv, run.env())
    wait_consuming(run.backends, "bench.plain", plain)
    base = drain_cpu_ms(plain, lambda: int(client.get(plain_celery.DONE_KEY) or 0), DRAIN_TASKS)
    run.stop(plain)

    run.report.raw["worker_drain"] = {"taskyard": ours, "plain": base}
    command = run.report.command(
        f"{DRAIN_TASKS} x POST /api/tasks/batch (no consumer), then "
        f"{command_line(worker.argv)} vs {DRAIN_TASKS} x bench.plain_celery.submit(), "
        f"then {command_line(argv)}"
    )
    run.report.add(drain_row(ours, base, DRAIN_TASKS, command))
