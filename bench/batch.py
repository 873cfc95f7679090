"""Benchmarks 5 and 6, batch submit.

5. Tasks accepted per second: POST /api/tasks/batch (100 tasks a request) from the same
   threads, against plain Celery apply_async (confirms, quorum queue), no consumer running.
6. End to end as benchmark 2, the tasks submitted in batches, against 2's plain Celery run.
"""

from __future__ import annotations

import time
from typing import Any

from bench.end_to_end import plain_celery_submitter, plain_worker_argv, use_run_backends
from bench.load import BATCH_SIZE, final_count, http_batch_submitter, run_chunked, run_threads
from bench.report import Row, cpu_text, fmt, ratio_text, say, verdict
from bench.session import (
    E2E_CONCURRENCY,
    E2E_TASKS,
    SCALE,
    SUBMIT_THREADS,
    WAIT_TIMEOUT_SECONDS,
    CpuMeter,
    Run,
    command_line,
    server_pids,
)
from support.memory import with_children
from support.stack import ManagedProcess, wait_consuming

BATCH_ACCEPT_TASKS = max(BATCH_SIZE * SUBMIT_THREADS, round(20_000 * SCALE))
# No worker consumes this queue while benchmark 5 runs; it is purged afterwards.
BATCH_ACCEPT_PRIORITY = "high"


def batch_accept_rows(
    ours_rate: float,
    base_rate: float | None,
    ours_failed: bool,
    ours_cpu: dict[str, float],
    base_cpu: dict[str, float],
    cmd: str,
) -> list[Row]:
    """Benchmark 5's rows: batches must accept at least as many tasks/s as apply_async."""
    ratio = ours_rate / base_rate if base_rate else None
    return [
        Row(
            f"5. batch submit, {BATCH_SIZE} tasks per request, {SUBMIT_THREADS} threads, "
            "tasks accepted/s",
            fmt(ours_rate),
            fmt(base_rate),
            ratio_text(ratio),
            ">= 1.0x",
            verdict(ratio is not None and ratio >= 1.0 and not ours_failed),
            cmd,
        ),
        Row(
            "5. CPU per task accepted, ms (API; RabbitMQ, Redis; submitting client)",
            cpu_text(ours_cpu),
            cpu_text(base_cpu),
            cmd=cmd,
        ),
    ]


def bench_batch_accept(run: Run, api: ManagedProcess, api_url: str) -> None:
    queue = f"data.{BATCH_ACCEPT_PRIORITY}"
    say(
        f"batch submit: {BATCH_ACCEPT_TASKS} tasks in batches of {BATCH_SIZE} "
        f"from {SUBMIT_THREADS} threads"
    )
    meter = CpuMeter({"api": with_children(api.pid), **server_pids()})
    ours = run_chunked(
        BATCH_ACCEPT_TASKS, SUBMIT_THREADS, http_batch_submitter(api_url, BATCH_ACCEPT_PRIORITY)
    )
    ours_cpu = meter.per_task_ms(len(ours.ids))
    run.backends.purge(queue)
    use_run_backends(run)
    # The plain queue must exist (a worker declares it) before messages to it are kept.
    worker = run.start("plain-celery-declare", plain_worker_argv(1), run.env())
    wait_consuming(run.backends, "bench.plain", worker)
    run.stop(worker)
    say(f"plain Celery: {BATCH_ACCEPT_TASKS} tasks by apply_async from {SUBMIT_THREADS} threads")
    meter = CpuMeter(server_pids())
    base = run_threads(BATCH_ACCEPT_TASKS, SUBMIT_THREADS, plain_celery_submitter())
    base_cpu = meter.per_task_ms(len(base.ids))
    run.backends.purge("bench.plain")
    run.report.raw["batch_accept"] = {
        "taskyard": {"tasks": len(ours.ids), "rate": ours.rate, "cpu": ours_cpu},
        "plain": {"tasks": len(base.ids), "rate": base.rate, "cpu": base_cpu},
    }
    c_ours = run.report.command(
        f"{SUBMIT_THREADS} threads x POST /api/tasks/batch ({BATCH_ACCEPT_TASKS} minimal data "
        f"tasks, {BATCH_SIZE} per request, http.client keep-alive), no consumer on {queue}"
    )
    c_base = run.report.command(
        f"{SUBMIT_THREADS} threads x bench.plain_celery.submit() ({BATCH_ACCEPT_TASKS} tasks, "
        "apply_async with publisher confirms onto a quorum queue), no consumer"
    )
    if base.errors:
        run.report.notes.append(f"plain Celery errors ({len(base.errors)}): {base.errors[0]}")
    run.report.add(
        *batch_accept_rows(
            ours.rate,
            base.rate if base.ids else None,
            bool(ours.errors),
            ours_cpu,
            base_cpu,
            f"{c_ours} vs {c_base}",
        )
    )
    if ours.errors:
        run.report.notes.append(f"batch submit errors ({len(ours.errors)}): {ours.errors[0]}")


def e2e_batches_rows(
    throughput: float,
    plain: dict[str, Any] | None,
    failed: bool,
    submit_rate: float,
    cpu: dict[str, float],
    cmd: str,
) -> list[Row]:
    """Benchmark 6's rows; `plain` is benchmark 2's raw plain Celery result, if it ran."""
    base_throughput = plain["tasks"] / plain["total_seconds"] if plain else None
    ratio = throughput / base_throughput if base_throughput else None
    return [
        Row(
            f"6. end to end in batches, {E2E_TASKS} tasks, first submit -> last final, tasks/s "
            "(baseline: plain Celery of row 2)",
            fmt(throughput),
            fmt(base_throughput),
            ratio_text(ratio),
            ">= 1.0x",
            verdict(None if ratio is None else ratio >= 1.0 and not failed),
            cmd,
        ),
        Row(
            "6. submit phase in batches, tasks/s; CPU per task, ms",
            f"{fmt(submit_rate)}; {cpu_text(cpu)}",
            cmd=cmd,
        ),
    ]


def bench_e2e_batches(run: Run, api: ManagedProcess, api_url: str) -> None:
    worker = run.start_data_worker("normal", E2E_CONCURRENCY)
    before = final_count(run.backends.redis, "normal")
    say(f"Taskyard end to end in batches: {E2E_TASKS} tasks, {BATCH_SIZE} per request")
    meter = CpuMeter(
        {"api": with_children(api.pid), "worker": with_children(worker.pid), **server_pids()}
    )
    submitted = run_chunked(E2E_TASKS, SUBMIT_THREADS, http_batch_submitter(api_url, "normal"))
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while final_count(run.backends.redis, "normal") - before < len(submitted.ids):
        worker.require_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"batched tasks not final in {WAIT_TIMEOUT_SECONDS}s")
        time.sleep(0.05)
    finished = time.time()
    cpu = meter.per_task_ms(len(submitted.ids))
    run.stop(worker)
    total = finished - submitted.started
    throughput = len(submitted.ids) / total
    run.report.raw["e2e_batches"] = {
        "tasks": len(submitted.ids),
        "submit_rate": submitted.rate,
        "total_seconds": total,
        "cpu": cpu,
    }
    c_ours = run.report.command(
        f"{SUBMIT_THREADS} threads x POST /api/tasks/batch ({E2E_TASKS} minimal data tasks, "
        f"{BATCH_SIZE} per request) -> {command_line(worker.argv)}"
    )
    run.report.add(
        *e2e_batches_rows(
            throughput,
            run.report.raw.get("e2e", {}).get("plain"),
            bool(submitted.errors),
            submitted.rate,
            cpu,
            c_ours,
        )
    )
    if submitted.errors:
        run.report.notes.append(
            f"batched end to end errors ({len(submitted.errors)}): {submitted.errors[0]}"
        )
