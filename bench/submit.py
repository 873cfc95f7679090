"""Benchmark 1, API submit: wrk on POST /api/tasks against the Taskyard API and against
bench/minimal_flask.py under the same gunicorn configuration, at 16 connections and at 1.
Also the idle memory of one gunicorn worker of each (a row of benchmark 4)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import asdict, dataclass

from bench.report import Row, fmt, ratio_text, say, verdict
from bench.session import (
    API_KEY,
    IDLE_SETTLE_SECONDS,
    SCALE,
    CpuMeter,
    Run,
    command_line,
    cpu_seconds,
    gunicorn_worker_pids,
    load_average,
    server_pids,
)
from support.memory import Memory, tree_memory
from support.stack import REPO_ROOT, ManagedProcess, wait_http_ready

WRK_CONNECTIONS = 16
WRK_THREADS = 2
WRK_SECONDS = max(2, round(20 * SCALE))
WRK_WARMUP_SECONDS = 3 if SCALE >= 1 else 1
WRK_ONE_SECONDS = max(2, round(10 * SCALE))
WRK_SCRIPT = "bench/wrk_submit.lua"


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{output}")
        return match.group(1)

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_second=float(find(r"^Requests/sec:\s+([\d.]+)")),
        p50_ms=_duration_ms(find(r"^\s+50%\s+(\S+)")),
        p99_ms=_duration_ms(find(r"^\s+99%\s+(\S+)")),
        requests=int(find(r"^\s+(\d+) requests in")),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(x) for x in errors.groups()) if errors else 0,
    )


def wrk_argv(url: str, seconds: int, connections: int, threads: int) -> list[str]:
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        WRK_SCRIPT,
        f"{url}/api/tasks",
    ]


@dataclass
class WrkRun:
    result: WrkResult
    command: str
    worker_cpu_seconds: list[float]
    # CPU ms per request: the gunicorn workers, and RabbitMQ and Redis (shared servers).
    cpu_ms_per_request: dict[str, float]


def run_wrk(
    run: Run,
    name: str,
    url: str,
    server: ManagedProcess,
    *,
    seconds: int = WRK_SECONDS,
    connections: int = WRK_CONNECTIONS,
    threads: int = WRK_THREADS,
    warmup: bool = True,
) -> WrkRun:
    env = {**os.environ, "BENCH_API_KEY": API_KEY}
    if warmup:
        say(f"wrk warm-up against {name} ({WRK_WARMUP_SECONDS}s)")
        subprocess.run(
            wrk_argv(url, WRK_WARMUP_SECONDS, connections, threads),
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
    argv = wrk_argv(url, seconds, connections, threads)
    say(f"wrk -c{connections} against {name} ({seconds}s), load average {load_average()}")
    workers = gunicorn_worker_pids(server)
    before = cpu_seconds(workers)
    meter = CpuMeter({"api": workers, **server_pids()})
    done = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    used = [round(b - a, 1) for a, b in zip(before, cpu_seconds(workers), strict=True)]
    (run.workdir / f"wrk-{name}-c{connections}.txt").write_text(done.stdout)
    result = parse_wrk(done.stdout)
    per_request = meter.per_task_ms(result.requests)
    per_request.pop("submitter")
    return WrkRun(result, f"BENCH_API_KEY=<key> {shlex.join(argv)}", used, per_request)


def submit_rows(
    ours_run: WrkRun, base_run: WrkRun, ours_one: WrkRun, base_one: WrkRun, refs: str, one_refs: str
) -> list[Row]:
    """The rows of benchmark 1 and their verdicts (issue 10's targets, then issue 15's)."""
    ours, base = ours_run.result, base_run.result
    ratio = ours.requests_per_second / base.requests_per_second
    api_cpu = ours_run.cpu_ms_per_request.get("api")
    base_cpu = base_run.cpu_ms_per_request.get("api")
    cpu_ratio = api_cpu / base_cpu if api_cpu is not None and base_cpu else None
    return [
        Row(
            f"1. submit throughput, req/s ({WRK_CONNECTIONS} connections)",
            fmt(ours.requests_per_second),
            fmt(base.requests_per_second),
            ratio_text(ratio),
            ">= 0.5x",
            verdict(ratio >= 0.5),
            refs,
        ),
        Row(
            f"1. submit latency p50, ms ({WRK_CONNECTIONS} connections)",
            fmt(ours.p50_ms, 2),
            fmt(base.p50_ms, 2),
            cmd=refs,
        ),
        Row(
            f"1. submit latency p99, ms ({WRK_CONNECTIONS} connections)",
            fmt(ours.p99_ms, 2),
            fmt(base.p99_ms, 2),
            target="<= 20 ms",
            met=verdict(ours.p99_ms <= 20),
            cmd=refs,
        ),
        Row(
            "1. submit at 1 connection: req/s, p50 / p99 ms",
            f"{fmt(ours_one.result.requests_per_second)}, {fmt(ours_one.result.p50_ms, 2)}"
            f" / {fmt(ours_one.result.p99_ms, 2)}",
            f"{fmt(base_one.result.requests_per_second)}, {fmt(base_one.result.p50_ms, 2)}"
            f" / {fmt(base_one.result.p99_ms, 2)}",
            cmd=one_refs,
        ),
        Row(
            f"1. issue 15: submit at {WRK_CONNECTIONS} connections against the minimal endpoint",
            fmt(ours.requests_per_second),
            fmt(base.requests_per_second),
            ratio_text(ratio),
            ">= 0.25x",
            verdict(ratio >= 0.25),
            refs,
        ),
        Row(
            "1. issue 15: submit p99 at 1 connection, ms",
            fmt(ours_one.result.p99_ms, 2),
            fmt(base_one.result.p99_ms, 2),
            target="<= 5 ms",
            met=verdict(ours_one.result.p99_ms <= 5),
            cmd=one_refs,
        ),
        Row(
            f"1. issue 15: API CPU per submit, ms ({WRK_CONNECTIONS} connections)",
            fmt(api_cpu, 2),
            fmt(base_cpu, 2),
            ratio_text(cpu_ratio),
            "<= 4x",
            verdict(None if cpu_ratio is None else cpu_ratio <= 4),
            refs,
        ),
    ]


def api_memory_row(api: Memory, minimal: Memory, cmd: str) -> Row:
    return Row(
        "4. idle RSS of one API gunicorn worker, MB (PSS)",
        f"{fmt(api.rss_mb)} ({fmt(api.pss_mb)})",
        f"{fmt(minimal.rss_mb)} ({fmt(minimal.pss_mb)})",
        cmd=cmd,
    )


def bench_submit(run: Run, taskyard: ManagedProcess, taskyard_url: str) -> None:
    minimal, minimal_url = run.start_gunicorn("minimal-flask", "bench.minimal_flask:app")
    wait_http_ready(f"{minimal_url}/readyz", minimal)
    time.sleep(IDLE_SETTLE_SECONDS)
    api_memory = tree_memory(gunicorn_worker_pids(taskyard)[:1])
    minimal_memory = tree_memory(gunicorn_worker_pids(minimal)[:1])

    base_run = run_wrk(run, "minimal-flask", minimal_url, minimal)
    run.profile("api", taskyard.pid, WRK_SECONDS + WRK_WARMUP_SECONDS)
    ours_run = run_wrk(run, "taskyard-api", taskyard_url, taskyard)
    # One connection: the service time, without queueing behind other requests.
    base_one = run_wrk(
        run,
        "minimal-flask",
        minimal_url,
        minimal,
        seconds=WRK_ONE_SECONDS,
        connections=1,
        threads=1,
        warmup=False,
    )
    ours_one = run_wrk(
        run,
        "taskyard-api",
        taskyard_url,
        taskyard,
        seconds=WRK_ONE_SECONDS,
        connections=1,
        threads=1,
        warmup=False,
    )
    run.stop(minimal)
    run.backends.purge("data.normal")
    run.backends.redis.flushdb()
    ours, base = ours_run.result, base_run.result
    run.report.raw["submit"] = {
        "taskyard": asdict(ours_run),
        "minimal": asdict(base_run),
        "taskyard_one_connection": asdict(ours_one),
        "minimal_one_connection": asdict(base_one),
    }

    report = run.report
    serve_ours = report.command(command_line(taskyard.argv))
    serve_base = report.command(command_line(minimal.argv))
    refs = f"{report.command(ours_run.command)} vs {report.command(base_run.command)}"
    one_refs = f"{report.command(ours_one.command)} vs {report.command(base_one.command)}"
    report.add(*submit_rows(ours_run, base_run, ours_one, base_one, refs, one_refs))
    errors = sum(
        r.result.non_2xx + r.result.socket_errors for r in (ours_run, base_run, ours_one, base_one)
    )
    if errors:
        report.notes.append(
            f"wrk saw errors: Taskyard {ours.non_2xx} non-2xx / {ours.socket_errors} socket, "
            f"minimal {base.non_2xx} non-2xx / {base.socket_errors} socket (16 connections)"
        )
    report.notes.append(
        f"servers: Taskyard API {serve_ours}, minimal Flask {serve_base}: the same gunicorn "
        f"config (gthread, TASKYARD_API_WORKERS=2 x TASKYARD_API_THREADS=4 by default); wrk "
        f"shares the machine's cores, and its latency includes queueing behind "
        f"{WRK_CONNECTIONS} connections. CPU seconds per gunicorn worker during the "
        f"{WRK_CONNECTIONS}-connection run: Taskyard {ours_run.worker_cpu_seconds}, minimal "
        f"{base_run.worker_cpu_seconds} (gthread workers keep the connections they accept); "
        f"CPU ms per request: Taskyard {ours_run.cpu_ms_per_request}, minimal "
        f"{base_run.cpu_ms_per_request} (RabbitMQ and Redis are shared with anything else "
        f"running on this machine)"
    )
    report.add(api_memory_row(api_memory, minimal_memory, f"{serve_ours} vs {serve_base}"))
