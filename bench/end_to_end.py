"""Benchmark 2, end to end: N minimal data tasks submitted over HTTP (threads) through one
data worker (concurrency 2) until SUCCESS, beside plain Celery (apply_async from as many
threads, a no-op task, the same broker, settings and worker flags), with the plain
worker's task events unconfirmed and confirmed. Also the worker CPU per task and the
data worker's idle memory (rows of benchmark 4)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import redis

from bench.load import SubmitResult, final_count, http_submitter, record_times, run_threads
from bench.report import Row, cpu_text, fmt, ratio_text, say, verdict
from bench.session import (
    E2E_CONCURRENCY,
    E2E_TASKS,
    IDLE_SETTLE_SECONDS,
    IDLE_WORKER_PROCESS_RSS_TARGET_MB,
    SUBMIT_THREADS,
    TASK_KWARGS,
    WAIT_TIMEOUT_SECONDS,
    CpuMeter,
    Run,
    command_line,
    server_pids,
)
from support.memory import Memory, tree_memory, with_children
from support.stack import BIN, ManagedProcess, wait_consuming


@dataclass
class E2EResult:
    tasks: int
    submit_rate: float
    submit_seconds: float
    drain_seconds: float
    total_seconds: float
    failed: int
    errors: int
    # CPU (user + system) per task, in ms: the submitting process, the API, the worker.
    cpu_ms_per_task: dict[str, float] = field(default_factory=dict)

    @classmethod
    def measured(
        cls, submitted: SubmitResult, last_done: float, failed: int, cpu: dict[str, float]
    ) -> E2EResult:
        """From the submit phase and the time the last task finished."""
        return cls(
            len(submitted.ids),
            submitted.rate,
            submitted.finished - submitted.started,
            last_done - submitted.finished,
            last_done - submitted.started,
            failed,
            len(submitted.errors),
            cpu,
        )

    @property
    def throughput(self) -> float:
        return self.tasks / self.total_seconds


def wait_taskyard_final(
    client: redis.Redis, priority: str, expected: int, worker: ManagedProcess
) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while final_count(client, priority) < expected:
        worker.require_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"tasks on data.{priority} not final in {WAIT_TIMEOUT_SECONDS}s")
        time.sleep(0.05)


def plain_worker_argv(concurrency: int | None) -> list[str]:
    argv = [str(BIN / "python"), "-m", "bench.plain_celery"]
    return [*argv, "--concurrency", str(concurrency)] if concurrency else argv


def plain_celery_submitter() -> Callable[[], Callable[[], str]]:
    """Callers of plain_celery.submit (apply_async), once the run's broker is in the env."""
    from bench import plain_celery

    def make() -> Callable[[], str]:
        def call() -> str:
            plain_celery.submit(TASK_KWARGS)
            return ""

        return call

    return make


def use_run_backends(run: Run) -> None:
    """bench.plain_celery reads the broker and Redis from the environment when imported."""
    os.environ.update(
        TASKYARD_BROKER_URL=run.backends.broker_url, TASKYARD_REDIS_URL=run.backends.redis_url
    )


def bench_e2e_taskyard(
    run: Run, api: ManagedProcess, api_url: str
) -> tuple[E2EResult, list[str], Memory, Memory]:
    worker = run.start_data_worker("normal", E2E_CONCURRENCY)
    time.sleep(IDLE_SETTLE_SECONDS)
    idle = tree_memory(with_children(worker.pid))
    say(f"Taskyard end to end: {E2E_TASKS} tasks over HTTP from {SUBMIT_THREADS} threads")
    run.profile("data-worker", worker.pid, 60)
    meter = CpuMeter(
        {"api": with_children(api.pid), "worker": with_children(worker.pid), **server_pids()}
    )
    submitted = run_threads(E2E_TASKS, SUBMIT_THREADS, http_submitter(api_url, "normal"))
    wait_taskyard_final(run.backends.redis, "normal", len(submitted.ids), worker)
    cpu = meter.per_task_ms(len(submitted.ids))
    times = record_times(run.backends.redis, submitted.ids)
    last = max(t[2] or 0.0 for t in times)
    failed = sum(1 for t in times if t[0] != "SUCCESS")
    time.sleep(IDLE_SETTLE_SECONDS)
    after = tree_memory(with_children(worker.pid))
    run.stop(worker)
    run.report.raw["e2e_worker_memory"] = {"idle": asdict(idle), "after": asdict(after)}
    result = E2EResult.measured(submitted, last, failed, cpu)
    if submitted.errors:
        run.report.notes.append(
            f"Taskyard submit errors ({len(submitted.errors)}): {submitted.errors[0]}"
        )
    return result, worker.argv, idle, after


def bench_e2e_plain(
    run: Run, *, confirm_events: bool = False
) -> tuple[E2EResult, list[str], Memory]:
    argv = plain_worker_argv(E2E_CONCURRENCY)
    env = run.env(**({"BENCH_PLAIN_CONFIRM_EVENTS": "1"} if confirm_events else {}))
    name = "plain-celery-worker-confirmed-events" if confirm_events else "plain-celery-worker"
    worker = run.start(name, argv, env)
    wait_consuming(run.backends, "bench.plain", worker)
    time.sleep(IDLE_SETTLE_SECONDS)
    idle = tree_memory(with_children(worker.pid))
    use_run_backends(run)
    from bench import plain_celery

    client = run.backends.redis
    client.delete(plain_celery.DONE_KEY, plain_celery.LAST_KEY)
    say(f"plain Celery end to end: {E2E_TASKS} tasks by apply_async from {SUBMIT_THREADS} threads")
    meter = CpuMeter({"worker": with_children(worker.pid), **server_pids()})
    submitted = run_threads(E2E_TASKS, SUBMIT_THREADS, plain_celery_submitter())
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while int(client.get(plain_celery.DONE_KEY) or 0) < len(submitted.ids):
        worker.require_running()
        if time.monotonic() > deadline:
            raise TimeoutError("plain Celery tasks not done in time")
        time.sleep(0.05)
    cpu = meter.per_task_ms(len(submitted.ids))
    last = float(client.get(plain_celery.LAST_KEY) or 0)
    run.stop(worker)
    result = E2EResult.measured(submitted, last, 0, cpu)
    if submitted.errors:
        run.report.notes.append(
            f"plain Celery submit errors ({len(submitted.errors)}): {submitted.errors[0]}"
        )
    return result, argv, idle


def _worker_ratio(ours: dict[str, float], other: dict[str, float]) -> float | None:
    return ours["worker"] / other["worker"] if other.get("worker") else None


def e2e_rows(
    ours: E2EResult, base: E2EResult, confirmed: E2EResult, refs: str, both_refs: str
) -> list[Row]:
    """The rows of benchmark 2 and their verdicts; `both_refs` names both plain runs."""
    ratio = ours.throughput / base.throughput
    cpu_ratios = (
        _worker_ratio(ours.cpu_ms_per_task, base.cpu_ms_per_task),
        _worker_ratio(ours.cpu_ms_per_task, confirmed.cpu_ms_per_task),
    )
    return [
        Row(
            f"2. end to end, {E2E_TASKS} tasks, first submit -> last SUCCESS, tasks/s",
            fmt(ours.throughput),
            fmt(base.throughput),
            ratio_text(ratio),
            ">= 0.8x",
            verdict(ratio >= 0.8 and not ours.failed and not ours.errors),
            refs,
        ),
        Row(
            "2. end to end, plain Celery baseline both ways, tasks/s "
            "(events unconfirmed as Taskyard; confirmed as Celery does)",
            fmt(ours.throughput),
            f"{fmt(base.throughput)}; {fmt(confirmed.throughput)}",
            f"{ratio_text(ratio)}; {ratio_text(ours.throughput / confirmed.throughput)}",
            cmd=both_refs,
        ),
        Row(
            "2. worker CPU per task, ms, against plain Celery both ways",
            fmt(ours.cpu_ms_per_task.get("worker"), 2),
            f"{fmt(base.cpu_ms_per_task.get('worker'), 2)}; "
            f"{fmt(confirmed.cpu_ms_per_task.get('worker'), 2)}",
            "; ".join(ratio_text(r) for r in cpu_ratios),
            "<= 1.5x",
            verdict(ours.cpu_ms_per_task["worker"] <= 1.5 * base.cpu_ms_per_task["worker"]),
            cmd=both_refs,
        ),
        Row(
            "2. submit phase, tasks/s (HTTP vs apply_async)",
            fmt(ours.submit_rate),
            fmt(base.submit_rate),
            ratio_text(ours.submit_rate / base.submit_rate),
            cmd=refs,
        ),
        Row(
            "2. drain after the last submit, s",
            fmt(ours.drain_seconds, 2),
            fmt(base.drain_seconds, 2),
            cmd=refs,
        ),
        Row(
            "2. CPU per task, ms (API, worker incl. pool, RabbitMQ, Redis, submitting client)",
            cpu_text(ours.cpu_ms_per_task),
            cpu_text(base.cpu_ms_per_task),
            cmd=refs,
        ),
    ]


def worker_idle_row(label: str, ours: Memory, base: Memory, cmd: str) -> Row:
    """Benchmark 4's target for a data worker: no single process over 80 MB RSS when idle."""
    return Row(
        f"4. idle RSS of a data worker, {label}, "
        f"{ours.processes} processes, MB: RSS summed (PSS), largest process",
        f"{fmt(ours.rss_mb)} ({fmt(ours.pss_mb)}), {fmt(ours.largest_rss_mb)}",
        f"{fmt(base.rss_mb)} ({fmt(base.pss_mb)}), {fmt(base.largest_rss_mb)}",
        target="one process <= 80 MB",
        met=verdict(ours.largest_rss_mb <= IDLE_WORKER_PROCESS_RSS_TARGET_MB),
        cmd=cmd,
    )


def bench_e2e(run: Run, api: ManagedProcess, api_url: str) -> None:
    ours, ours_worker, idle, after = bench_e2e_taskyard(run, api, api_url)
    base, base_worker, base_idle = bench_e2e_plain(run)
    confirmed, _, _ = bench_e2e_plain(run, confirm_events=True)
    run.report.raw["e2e"] = {
        "taskyard": asdict(ours),
        "plain": asdict(base),
        "plain_confirmed_events": asdict(confirmed),
    }
    report = run.report
    c_ours = report.command(
        f"{SUBMIT_THREADS} threads x POST /api/tasks ({E2E_TASKS} minimal data tasks, "
        f"http.client keep-alive) -> {command_line(ours_worker)}"
    )
    c_base = report.command(
        f"{SUBMIT_THREADS} threads x bench.plain_celery.submit() ({E2E_TASKS} no-op tasks, "
        f"apply_async) -> {command_line(base_worker)}"
    )
    c_confirmed = report.command(
        f"as {c_base}, the plain worker with BENCH_PLAIN_CONFIRM_EVENTS=1 (task events wait "
        "for publisher confirms, Celery's behaviour with confirm_publish)"
    )
    refs = f"{c_ours} vs {c_base}"
    report.add(*e2e_rows(ours, base, confirmed, refs, f"{refs}; {c_confirmed}"))
    if ours.failed or ours.errors:
        report.notes.append(
            f"end to end: {ours.failed} tasks not SUCCESS, {ours.errors} submits refused"
        )
    report.add(
        worker_idle_row(f"concurrency {E2E_CONCURRENCY}", idle, base_idle, refs),
        Row(
            f"4. same worker idle after {E2E_TASKS} tasks, MB (PSS)",
            f"{fmt(after.rss_mb)} ({fmt(after.pss_mb)})",
            cmd=c_ours,
        ),
    )
