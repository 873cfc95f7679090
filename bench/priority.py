"""Benchmark 3, latency under backlog: with a backlog in data.low, high-priority tasks
submitted one at a time; created_at -> finished_at from the task record, first with no
low worker running, then with one busy on the backlog. Also the idle memory of the high
worker beside an idle plain Celery worker (rows of benchmark 4)."""

from __future__ import annotations

import statistics
import time

import redis

from bench.end_to_end import plain_worker_argv, worker_idle_row
from bench.load import http_submitter, record_times, run_threads
from bench.report import Row, fmt, percentile, say, verdict
from bench.session import IDLE_SETTLE_SECONDS, SCALE, SUBMIT_THREADS, Run, command_line
from support.memory import Memory, tree_memory, with_children
from support.stack import wait_consuming
from taskyard_common.redis_keys import REDIS_KEYS

BACKLOG_TASKS = max(20, round(10_000 * SCALE))
HIGH_TASKS = max(5, round(100 * SCALE))
HIGH_P95_TARGET_MS = 250


def plain_idle_memory(run: Run, concurrency: int | None) -> tuple[Memory, list[str]]:
    """Idle memory of a plain Celery worker (same app settings and flags), for comparison."""
    argv = plain_worker_argv(concurrency)
    worker = run.start("plain-celery-worker-idle", argv, run.env())
    wait_consuming(run.backends, "bench.plain", worker)
    time.sleep(IDLE_SETTLE_SECONDS)
    memory = tree_memory(with_children(worker.pid))
    run.stop(worker)
    return memory, argv


def one_at_a_time(api_url: str, client: redis.Redis, count: int) -> tuple[list[float], list[float]]:
    """Submit high tasks one after the other, each once the last finished.

    Returns (record latencies: created_at -> finished_at, client latencies: submit ->
    SUCCESS seen in Redis, polled every 2 ms), in milliseconds.
    """
    call = http_submitter(api_url, "high")()
    record_ms: list[float] = []
    client_ms: list[float] = []
    for _ in range(count):
        started = time.time()
        task_id = call()
        deadline = time.monotonic() + 60
        while client.hget(REDIS_KEYS.task(task_id), "status") not in ("SUCCESS", "FAILED"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"high task {task_id} not final in 60s")
            time.sleep(0.002)
        client_ms.append((time.time() - started) * 1000)
        status, created, finished = record_times(client, [task_id])[0]
        if status != "SUCCESS" or finished is None:
            raise RuntimeError(f"high task {task_id} ended {status}")
        record_ms.append((finished - created) * 1000)
    return record_ms, client_ms


def latency_row(
    backlog: int, label: str, record_ms: list[float], client_ms: list[float], cmd: str
) -> Row:
    """One series of high tasks: its record p95 must stay under 250 ms."""
    p95 = percentile(record_ms, 95)
    return Row(
        f"3. high priority, {backlog} waiting in data.low, {label}: p50 / p95 ms "
        f"(client-seen p50 / p95)",
        f"{fmt(percentile(record_ms, 50))} / {fmt(p95)} "
        f"({fmt(percentile(client_ms, 50))} / {fmt(percentile(client_ms, 95))})",
        target=f"p95 < {HIGH_P95_TARGET_MS} ms",
        met=verdict(p95 is not None and p95 < HIGH_P95_TARGET_MS),
        cmd=cmd,
    )


def bench_priority(run: Run, api_url: str) -> None:
    report = run.report
    say(f"seeding {BACKLOG_TASKS} tasks into data.low over HTTP ({SUBMIT_THREADS} threads)")
    seeded = run_threads(BACKLOG_TASKS, SUBMIT_THREADS, http_submitter(api_url, "low"))
    ready = run.backends.queue_stats("data.low")["ready"]
    say(f"data.low holds {ready} ready messages ({len(seeded.errors)} submit errors)")

    base_idle, base_argv = plain_idle_memory(run, None)
    high = run.start_data_worker("high")
    time.sleep(IDLE_SETTLE_SECONDS)
    idle = tree_memory(with_children(high.pid))
    c_high = report.command(
        f"{command_line(high.argv)}; {HIGH_TASKS} x POST /api/tasks priority=high, one at a "
        f"time (the next once the last is SUCCESS); latency = record created_at -> finished_at"
    )
    c_plain = report.command(f"{command_line(base_argv)} (idle)")
    refs = f"{c_high} vs {c_plain}"
    report.add(worker_idle_row("default concurrency (1)", idle, base_idle, refs))

    say(f"{HIGH_TASKS} high tasks, {ready} waiting in data.low, no low worker")
    quiet_record, quiet_client = one_at_a_time(api_url, run.backends.redis, HIGH_TASKS)
    low = run.start_data_worker("low")
    c_low = report.command(
        f"{command_line(low.argv)} (started after the first series; "
        f"busy on the backlog during the second)"
    )
    time.sleep(1)
    say(f"{HIGH_TASKS} high tasks, data.low backlog with a busy low worker")
    run.profile("priority", high.pid, 30)
    busy_record, busy_client = one_at_a_time(api_url, run.backends.redis, HIGH_TASKS)
    left = run.backends.queue_stats("data.low")["ready"]
    after = tree_memory(with_children(high.pid))
    run.stop(low)
    run.stop(high)
    run.report.raw["priority"] = {
        "backlog": ready,
        "left_in_low_after": left,
        "quiet_record_ms": quiet_record,
        "quiet_client_ms": quiet_client,
        "busy_record_ms": busy_record,
        "busy_client_ms": busy_client,
    }
    report.add(
        latency_row(ready, "no low worker", quiet_record, quiet_client, c_high),
        latency_row(ready, "low worker busy", busy_record, busy_client, f"{c_high} + {c_low}"),
    )
    report.notes.append(
        f"priority: data.low still held {left} messages after the busy series; record "
        f"timestamps have millisecond precision; mean {fmt(statistics.mean(busy_record))} ms "
        f"with the busy low worker"
    )
    report.add(
        Row(
            f"4. high worker idle after {2 * HIGH_TASKS} tasks, MB (PSS)",
            f"{fmt(after.rss_mb)} ({fmt(after.pss_mb)})",
            cmd=c_high,
        )
    )
