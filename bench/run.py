"""`make bench`: every Taskyard figure beside its baseline, measured in one run.

1. API submit: wrk, 16 connections, POST /api/tasks, against the Taskyard API and
   against bench/minimal_flask.py under the same gunicorn configuration.
2. End to end: N minimal data tasks submitted over HTTP (threads) through one data
   worker (concurrency 2) until SUCCESS, beside plain Celery (apply_async from as
   many threads, a no-op task, the same broker, settings and worker flags).
3. Priority: with a backlog in data.low, high-priority tasks submitted one at a
   time; created_at -> finished_at from the task record, first with no low
   worker running, then with one busy on the backlog.
4. Idle memory (RSS and PSS, main process plus pool children) of a data worker and
   of one API gunicorn worker.
5. Batch submit: tasks accepted per second, POST /api/tasks/batch (100 tasks a request)
   from the same threads, against plain Celery apply_async (confirms, quorum queue), with
   no consumer running.
6. End to end as 2, the tasks submitted in batches, against 2's plain Celery run.
7. Worker CPU per task with its queue full: minimal data tasks queued first, then one
   data worker drains them, against plain Celery draining as many no-op tasks.

`python -m bench.run e2e worker-drain` runs only those (names in BENCHMARKS).

Environment: BENCH_SCALE (default 1) scales the counts and wrk's duration, for a
quick trial (e.g. 0.05); BENCH_SUBMIT_THREADS (8); BENCH_PROFILE=1 also records
py-spy profiles (which slow what they sample: figures from such a run are not
comparable). Everything it starts runs in its own RabbitMQ vhost and Redis db and
is stopped at the end; logs stay in .run/bench/<time>/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kombu
import psutil
import redis
import requests

from bench.stack import (
    BIN,
    REPO_ROOT,
    Backends,
    Memory,
    Proc,
    free_port,
    management,
    tree_memory,
    wait_consuming,
    wait_http_ready,
    with_children,
)

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
SUBMIT_THREADS = int(os.environ.get("BENCH_SUBMIT_THREADS", "8"))
WRK_CONNECTIONS = 16
WRK_THREADS = 2
WRK_SECONDS = max(2, round(20 * SCALE))
WRK_WARMUP_SECONDS = 3 if SCALE >= 1 else 1
WRK_ONE_SECONDS = max(2, round(10 * SCALE))
E2E_TASKS = max(20, round(5000 * SCALE))
E2E_CONCURRENCY = 2
BACKLOG_TASKS = max(20, round(10_000 * SCALE))
HIGH_TASKS = max(5, round(100 * SCALE))
IDLE_SETTLE_SECONDS = 3
IDLE_WORKER_PROCESS_RSS_TARGET_MB = 80
WAIT_TIMEOUT_SECONDS = 600
API_KEY = f"bench-{uuid.uuid4().hex}"
GUNICORN_CONF = "services/api/gunicorn.conf.py"
WRK_SCRIPT = "bench/wrk_submit.lua"

PAYLOAD: dict[str, Any] = {"input": {"records": [{"region": "eu", "amount": 10}]}}
TASK_KWARGS: dict[str, Any] = {"payload": PAYLOAD, "max_retries": 5}


def body(priority: str) -> bytes:
    return json.dumps({"type": "data", "priority": priority, "payload": PAYLOAD}).encode()


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the table ------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    taskyard: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""
    cmd: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def command(self, text: str) -> str:
        """A reference such as "[3]" to the command, listed under the table."""
        if text not in self.commands:
            self.commands.append(text)
        return f"[{self.commands.index(text) + 1}]"

    def add(self, row: Row) -> None:
        self.rows.append(row)
        say(f"{row.figure}: {row.taskyard} (baseline {row.baseline or '-'}) {row.met}")

    def markdown(self) -> str:
        # Grouped by benchmark number (1-4), in the order each was measured.
        rows = sorted(self.rows, key=lambda r: r.figure.split(".", 1)[0])
        lines = [
            "| figure | Taskyard | baseline | ratio | target | met | cmd |",
            "| --- | ---: | ---: | ---: | --- | --- | --- |",
        ]
        for r in rows:
            lines.append(
                f"| {r.figure} | {r.taskyard} | {r.baseline} | {r.ratio} | {r.target} "
                f"| {r.met} | {r.cmd} |"
            )
        lines.append("")
        lines.append("Commands:")
        lines.extend(f"[{i}] `{c}`" for i, c in enumerate(self.commands, 1))
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "yes" if ok else "**no**"


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


# -- machine --------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 2**20:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    try:
        info["rabbitmq"] = management("GET", "/overview").json().get("rabbitmq_version", "?")
    except requests.RequestException:
        info["rabbitmq"] = "?"
    info["redis"] = str(
        redis.Redis(port=int(os.environ.get("TASKYARD_TEST_REDIS_PORT", "6379")))
        .info("server")
        .get("redis_version", "?")
    )
    try:
        info["wrk"] = (
            subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
            .stdout.split(" [")[0]
            .strip()
        )
    except OSError:
        info["wrk"] = "?"
    return info


# -- processes ------------------------------------------------------------------------


@dataclass
class Run:
    workdir: Path
    backends: Backends
    report: Report
    procs: list[Proc] = field(default_factory=list)
    profiles: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TASKYARD_")}
        base.update(
            TASKYARD_BROKER_URL=self.backends.broker_url,
            TASKYARD_REDIS_URL=self.backends.redis_url,
            TASKYARD_STORAGE_URL=f"file://{self.workdir / 'files'}",
            TASKYARD_API_KEYS=API_KEY,
            TASKYARD_RATE_LIMIT="100000000/minute",
            TASKYARD_LOG_FORMAT="json",
            TASKYARD_LOG_LEVEL="INFO",
            PYTHONPATH=os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        )
        base.update(extra)
        return base

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, argv, env, self.workdir / f"{name}.log").start()
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for profile in self.profiles:
            if profile.poll() is None:
                profile.terminate()
                profile.wait(timeout=30)
        for proc in reversed(list(self.procs)):
            self.stop(proc)

    def start_gunicorn(self, name: str, app: str | None) -> tuple[Proc, str]:
        port = free_port()
        metrics_dir = self.workdir / f"{name}-prometheus"
        env = self.env(
            TASKYARD_API_BIND=f"127.0.0.1:{port}", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
        )
        argv = [str(BIN / "gunicorn"), "--config", GUNICORN_CONF]
        if app:
            argv.append(app)
        proc = self.start(name, argv, env)
        return proc, f"http://127.0.0.1:{port}"

    def start_data_worker(self, priority: str, concurrency: int | None = None) -> Proc:
        argv = [str(BIN / "taskyard-data-worker"), "--priority", priority]
        if concurrency:
            argv += ["--concurrency", str(concurrency)]
        proc = self.start(f"data-worker-{priority}", argv, self.env())
        wait_consuming(self.backends, f"data.{priority}", proc)
        return proc

    def profile(self, name: str, pid: int, seconds: float) -> None:
        """py-spy over a process and its children, as collapsed stacks (BENCH_PROFILE=1)."""
        if not PROFILE:
            return
        out = self.workdir / f"profile-{name}.txt"
        self.profiles.append(
            subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(pid),
                    "--subprocesses",
                    "--nonblocking",
                    "--rate",
                    "100",
                    "--duration",
                    str(max(1, round(seconds))),
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        say(f"profiling {name} (pid {pid}) into {out}")


def command_line(argv: list[str]) -> str:
    shown = [
        str(Path(a).relative_to(REPO_ROOT)) if a.startswith(str(REPO_ROOT)) else a for a in argv
    ]
    return shlex.join(shown)


def gunicorn_worker_pids(master: Proc) -> list[int]:
    return with_children(master.pid)[1:]


# -- 1. API submit --------------------------------------------------------------------


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


def cpu_seconds(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            out.append(sum(psutil.Process(pid).cpu_times()[:2]))
        except psutil.NoSuchProcess:
            out.append(0.0)
    return out


def server_pids() -> dict[str, list[int]]:
    """RabbitMQ and Redis on this machine (shared with anything else using them: approximate)."""
    found: dict[str, list[int]] = {"rabbitmq": [], "redis": []}
    for proc in psutil.process_iter(["name"]):
        name = proc.info["name"] or ""
        if name.startswith("beam"):
            found["rabbitmq"].append(proc.pid)
        elif name.startswith("redis-server"):
            found["redis"].append(proc.pid)
    return found


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
    server: Proc,
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


def bench_submit(run: Run, taskyard: Proc, taskyard_url: str) -> None:
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
    ratio = ours.requests_per_second / base.requests_per_second
    report.add(
        Row(
            f"1. submit throughput, req/s ({WRK_CONNECTIONS} connections)",
            fmt(ours.requests_per_second),
            fmt(base.requests_per_second),
            f"{ratio:.2f}x",
            ">= 0.5x",
            verdict(ratio >= 0.5),
            refs,
        )
    )
    report.add(
        Row(
            f"1. submit latency p50, ms ({WRK_CONNECTIONS} connections)",
            fmt(ours.p50_ms, 2),
            fmt(base.p50_ms, 2),
            cmd=refs,
        )
    )
    report.add(
        Row(
            f"1. submit latency p99, ms ({WRK_CONNECTIONS} connections)",
            fmt(ours.p99_ms, 2),
            fmt(base.p99_ms, 2),
            target="<= 20 ms",
            met=verdict(ours.p99_ms <= 20),
            cmd=refs,
        )
    )
    one_refs = f"{report.command(ours_one.command)} vs {report.command(base_one.command)}"
    report.add(
        Row(
            "1. submit at 1 connection: req/s, p50 / p99 ms",
            f"{fmt(ours_one.result.requests_per_second)}, {fmt(ours_one.result.p50_ms, 2)}"
            f" / {fmt(ours_one.result.p99_ms, 2)}",
            f"{fmt(base_one.result.requests_per_second)}, {fmt(base_one.result.p50_ms, 2)}"
            f" / {fmt(base_one.result.p99_ms, 2)}",
            cmd=one_refs,
        )
    )
    # Issue 15's targets for the single submit, next to issue 10's above.
    report.add(
        Row(
            f"1. issue 15: submit at {WRK_CONNECTIONS} connections against the minimal endpoint",
            fmt(ours.requests_per_second),
            fmt(base.requests_per_second),
            f"{ratio:.2f}x",
            ">= 0.25x",
            verdict(ratio >= 0.25),
            refs,
        )
    )
    report.add(
        Row(
            "1. issue 15: submit p99 at 1 connection, ms",
            fmt(ours_one.result.p99_ms, 2),
            fmt(base_one.result.p99_ms, 2),
            target="<= 5 ms",
            met=verdict(ours_one.result.p99_ms <= 5),
            cmd=one_refs,
        )
    )
    api_cpu = ours_run.cpu_ms_per_request.get("api")
    base_cpu = base_run.cpu_ms_per_request.get("api")
    cpu_ratio = api_cpu / base_cpu if api_cpu is not None and base_cpu else None
    report.add(
        Row(
            f"1. issue 15: API CPU per submit, ms ({WRK_CONNECTIONS} connections)",
            fmt(api_cpu, 2),
            fmt(base_cpu, 2),
            "n/a" if cpu_ratio is None else f"{cpu_ratio:.2f}x",
            "<= 4x",
            verdict(None if cpu_ratio is None else cpu_ratio <= 4),
            refs,
        )
    )
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
    report.add(
        Row(
            "4. idle RSS of one API gunicorn worker, MB (PSS)",
            f"{fmt(api_memory.rss_mb)} ({fmt(api_memory.pss_mb)})",
            f"{fmt(minimal_memory.rss_mb)} ({fmt(minimal_memory.pss_mb)})",
            cmd=f"{serve_ours} vs {serve_base}",
        )
    )


# -- 2. end to end --------------------------------------------------------------------


@dataclass
class SubmitResult:
    ids: list[str]
    started: float
    finished: float
    errors: list[str]

    @property
    def rate(self) -> float:
        return len(self.ids) / max(1e-9, self.finished - self.started)


def run_threads(
    count: int, threads: int, make_worker: Callable[[], Callable[[], str]]
) -> SubmitResult:
    """`count` calls spread over `threads` threads; each thread builds its own caller."""
    lock = threading.Lock()
    next_index = [0]
    ids: list[str] = []
    errors: list[str] = []

    def loop() -> None:
        call = make_worker()
        while True:
            with lock:
                if next_index[0] >= count:
                    return
                next_index[0] += 1
            try:
                task_id = call()
            except Exception as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            with lock:
                ids.append(task_id)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    started = time.time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return SubmitResult(ids, started, time.time(), errors)


def http_submitter(base_url: str, priority: str) -> Callable[[], Callable[[], str]]:
    """Callers that POST /api/tasks on one kept-alive connection each (http.client: light)."""
    parts = urlsplit(base_url)
    payload = body(priority)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}

    def make() -> Callable[[], str]:
        connection = [http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)]

        def call() -> str:
            for attempt in (1, 2):
                try:
                    connection[0].request("POST", "/api/tasks", body=payload, headers=headers)
                    response = connection[0].getresponse()
                    data = response.read()
                    break
                except (http.client.HTTPException, ConnectionError):
                    connection[0].close()
                    connection[0] = http.client.HTTPConnection(
                        parts.hostname or "", parts.port, timeout=30
                    )
                    if attempt == 2:
                        raise
            if response.status != 202:
                raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
            task_id: str = json.loads(data)["id"]
            return task_id

        return call

    return make


def record_times(client: redis.Redis, ids: list[str]) -> list[tuple[str, float, float | None]]:
    """(status, created_at, finished_at) in epoch seconds, from each task record."""
    out: list[tuple[str, float, float | None]] = []
    for start in range(0, len(ids), 1000):
        pipe = client.pipeline(transaction=False)
        for task_id in ids[start : start + 1000]:
            pipe.hmget(f"taskyard:task:{task_id}", "status", "created_at", "finished_at")
        for status, created, finished in pipe.execute():
            out.append(
                (
                    status or "MISSING",
                    datetime.fromisoformat(created).timestamp() if created else 0.0,
                    datetime.fromisoformat(finished).timestamp() if finished else None,
                )
            )
    return out


def wait_taskyard_final(client: redis.Redis, priority: str, expected: int, worker: Proc) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    keys = [f"taskyard:idx:{s}:data:{priority}" for s in ("SUCCESS", "FAILED")]
    while True:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.zcard(key)
        if sum(pipe.execute()) >= expected:
            return
        worker.require_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"tasks on data.{priority} not final in {WAIT_TIMEOUT_SECONDS}s")
        time.sleep(0.05)


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

    @property
    def throughput(self) -> float:
        return self.tasks / self.total_seconds


class CpuMeter:
    """CPU seconds used by some processes (and this one) between start and stop."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.before = {name: sum(cpu_seconds(pids)) for name, pids in groups.items()}
        self.client_before = time.process_time()

    def per_task_ms(self, tasks: int) -> dict[str, float]:
        used = {
            name: sum(cpu_seconds(pids)) - self.before[name] for name, pids in self.groups.items()
        }
        used["submitter"] = time.process_time() - self.client_before
        return {name: round(1000 * seconds / max(1, tasks), 2) for name, seconds in used.items()}


def bench_e2e_taskyard(
    run: Run, api: Proc, api_url: str
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
    result = E2EResult(
        len(submitted.ids),
        submitted.rate,
        submitted.finished - submitted.started,
        last - submitted.finished,
        last - submitted.started,
        failed,
        len(submitted.errors),
        cpu,
    )
    if submitted.errors:
        run.report.notes.append(
            f"Taskyard submit errors ({len(submitted.errors)}): {submitted.errors[0]}"
        )
    return result, worker.argv, idle, after


def plain_worker_argv(concurrency: int | None) -> list[str]:
    argv = [str(BIN / "python"), "-m", "bench.plain_celery"]
    return [*argv, "--concurrency", str(concurrency)] if concurrency else argv


def plain_idle_memory(run: Run, concurrency: int | None) -> tuple[Memory, list[str]]:
    """Idle memory of a plain Celery worker (same app settings and flags), for comparison."""
    argv = plain_worker_argv(concurrency)
    worker = run.start("plain-celery-worker-idle", argv, run.env())
    wait_consuming(run.backends, "bench.plain", worker)
    time.sleep(IDLE_SETTLE_SECONDS)
    memory = tree_memory(with_children(worker.pid))
    run.stop(worker)
    return memory, argv


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
    os.environ.update(
        TASKYARD_BROKER_URL=run.backends.broker_url, TASKYARD_REDIS_URL=run.backends.redis_url
    )
    from bench import plain_celery

    client = run.backends.redis
    client.delete(plain_celery.DONE_KEY, plain_celery.LAST_KEY)
    say(f"plain Celery end to end: {E2E_TASKS} tasks by apply_async from {SUBMIT_THREADS} threads")

    def make() -> Callable[[], str]:
        def call() -> str:
            plain_celery.submit(TASK_KWARGS)
            return ""

        return call

    meter = CpuMeter({"worker": with_children(worker.pid), **server_pids()})
    submitted = run_threads(E2E_TASKS, SUBMIT_THREADS, make)
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while int(client.get(plain_celery.DONE_KEY) or 0) < len(submitted.ids):
        worker.require_running()
        if time.monotonic() > deadline:
            raise TimeoutError("plain Celery tasks not done in time")
        time.sleep(0.05)
    cpu = meter.per_task_ms(len(submitted.ids))
    last = float(client.get(plain_celery.LAST_KEY) or 0)
    run.stop(worker)
    result = E2EResult(
        len(submitted.ids),
        submitted.rate,
        submitted.finished - submitted.started,
        last - submitted.finished,
        last - submitted.started,
        0,
        len(submitted.errors),
        cpu,
    )
    if submitted.errors:
        run.report.notes.append(
            f"plain Celery submit errors ({len(submitted.errors)}): {submitted.errors[0]}"
        )
    return result, argv, idle


def _ratio_text(ours: dict[str, float], base: dict[str, float], confirmed: dict[str, float]) -> str:
    return "; ".join(
        f"{ours['worker'] / other['worker']:.2f}x" if other.get("worker") else "n/a"
        for other in (base, confirmed)
    )


def bench_e2e(run: Run, api: Proc, api_url: str) -> None:
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
    ratio = ours.throughput / base.throughput
    refs = f"{c_ours} vs {c_base}"
    report.add(
        Row(
            f"2. end to end, {E2E_TASKS} tasks, first submit -> last SUCCESS, tasks/s",
            fmt(ours.throughput),
            fmt(base.throughput),
            f"{ratio:.2f}x",
            ">= 0.8x",
            verdict(ratio >= 0.8 and not ours.failed and not ours.errors),
            refs,
        )
    )
    c_confirmed = report.command(
        f"as {c_base}, the plain worker with BENCH_PLAIN_CONFIRM_EVENTS=1 (task events wait "
        "for publisher confirms, Celery's behaviour with confirm_publish)"
    )
    report.add(
        Row(
            "2. end to end, plain Celery baseline both ways, tasks/s "
            "(events unconfirmed as Taskyard; confirmed as Celery does)",
            fmt(ours.throughput),
            f"{fmt(base.throughput)}; {fmt(confirmed.throughput)}",
            f"{ratio:.2f}x; {ours.throughput / confirmed.throughput:.2f}x",
            cmd=f"{c_ours} vs {c_base}; {c_confirmed}",
        )
    )
    report.add(
        Row(
            "2. worker CPU per task, ms, against plain Celery both ways",
            fmt(ours.cpu_ms_per_task.get("worker"), 2),
            f"{fmt(base.cpu_ms_per_task.get('worker'), 2)}; "
            f"{fmt(confirmed.cpu_ms_per_task.get('worker'), 2)}",
            _ratio_text(ours.cpu_ms_per_task, base.cpu_ms_per_task, confirmed.cpu_ms_per_task),
            "<= 1.5x",
            verdict(ours.cpu_ms_per_task["worker"] <= 1.5 * base.cpu_ms_per_task["worker"]),
            cmd=f"{c_ours} vs {c_base}; {c_confirmed}",
        )
    )
    report.add(
        Row(
            "2. submit phase, tasks/s (HTTP vs apply_async)",
            fmt(ours.submit_rate),
            fmt(base.submit_rate),
            f"{ours.submit_rate / base.submit_rate:.2f}x",
            cmd=refs,
        )
    )
    report.add(
        Row(
            "2. drain after the last submit, s",
            fmt(ours.drain_seconds, 2),
            fmt(base.drain_seconds, 2),
            cmd=refs,
        )
    )

    def cpu_text(cpu: dict[str, float]) -> str:
        return ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())

    report.add(
        Row(
            "2. CPU per task, ms (API, worker incl. pool, RabbitMQ, Redis, submitting client)",
            cpu_text(ours.cpu_ms_per_task),
            cpu_text(base.cpu_ms_per_task),
            cmd=refs,
        )
    )
    if ours.failed or ours.errors:
        report.notes.append(
            f"end to end: {ours.failed} tasks not SUCCESS, {ours.errors} submits refused"
        )
    report.add(
        Row(
            f"4. idle RSS of a data worker, concurrency {E2E_CONCURRENCY}, "
            f"{idle.processes} processes, MB: RSS summed (PSS), largest process",
            f"{fmt(idle.rss_mb)} ({fmt(idle.pss_mb)}), {fmt(idle.largest_rss_mb)}",
            f"{fmt(base_idle.rss_mb)} ({fmt(base_idle.pss_mb)}), {fmt(base_idle.largest_rss_mb)}",
            target="one process <= 80 MB",
            met=verdict(idle.largest_rss_mb <= IDLE_WORKER_PROCESS_RSS_TARGET_MB),
            cmd=f"{c_ours} vs {c_base}",
        )
    )
    report.add(
        Row(
            f"4. same worker idle after {E2E_TASKS} tasks, MB (PSS)",
            f"{fmt(after.rss_mb)} ({fmt(after.pss_mb)})",
            cmd=c_ours,
        )
    )


# -- 5. and 6. batch submit ------------------------------------------------------------

BATCH_SIZE = 100
BATCH_ACCEPT_TASKS = max(BATCH_SIZE * SUBMIT_THREADS, round(20_000 * SCALE))
# No worker consumes this queue while benchmark 5 runs; it is purged afterwards.
BATCH_ACCEPT_PRIORITY = "high"


def batch_body(priority: str, size: int) -> bytes:
    task = {"type": "data", "priority": priority, "payload": PAYLOAD}
    return json.dumps({"tasks": [task] * size}).encode()


def http_batch_submitter(base_url: str, priority: str) -> Callable[[], Callable[[int], int]]:
    """Callers that POST /api/tasks/batch with n tasks on one kept-alive connection each."""
    parts = urlsplit(base_url)
    bodies = {BATCH_SIZE: batch_body(priority, BATCH_SIZE)}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}

    def make() -> Callable[[int], int]:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)

        def call(size: int) -> int:
            payload = bodies.get(size) or batch_body(priority, size)
            connection.request("POST", "/api/tasks/batch", body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 202:
                raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
            return len(json.loads(data)["items"])

        return call

    return make


def run_chunked(
    count: int, threads: int, make_worker: Callable[[], Callable[[int], int]]
) -> SubmitResult:
    """`count` tasks in chunks of BATCH_SIZE spread over `threads` threads."""
    lock = threading.Lock()
    left = [count]
    accepted = [0]
    errors: list[str] = []

    def loop() -> None:
        call = make_worker()
        while True:
            with lock:
                size = min(BATCH_SIZE, left[0])
                left[0] -= size
            if size <= 0:
                return
            try:
                done = call(size)
            except Exception as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            with lock:
                accepted[0] += done

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    started = time.time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return SubmitResult([""] * accepted[0], started, time.time(), errors)


def purge(backends: Backends, queue: str) -> None:
    with kombu.Connection(backends.broker_url, connect_timeout=5) as connection:
        connection.default_channel.queue_purge(queue)


def final_count(client: redis.Redis, priority: str) -> int:
    pipe = client.pipeline(transaction=False)
    for status in ("SUCCESS", "FAILED"):
        pipe.zcard(f"taskyard:idx:{status}:data:{priority}")
    return int(sum(pipe.execute()))


def bench_batch_accept(run: Run, api: Proc, api_url: str) -> None:
    """5. Tasks accepted per second: batches over HTTP against apply_async, no consumer."""
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
    purge(run.backends, queue)
    os.environ.update(
        TASKYARD_BROKER_URL=run.backends.broker_url, TASKYARD_REDIS_URL=run.backends.redis_url
    )
    from bench import plain_celery

    # The plain queue must exist (a worker declares it) before messages to it are kept.
    worker = run.start("plain-celery-declare", plain_worker_argv(1), run.env())
    wait_consuming(run.backends, "bench.plain", worker)
    run.stop(worker)
    say(f"plain Celery: {BATCH_ACCEPT_TASKS} tasks by apply_async from {SUBMIT_THREADS} threads")

    def make() -> Callable[[], str]:
        def call() -> str:
            plain_celery.submit(TASK_KWARGS)
            return ""

        return call

    meter = CpuMeter(server_pids())
    base = run_threads(BATCH_ACCEPT_TASKS, SUBMIT_THREADS, make)
    base_cpu = meter.per_task_ms(len(base.ids))
    purge(run.backends, "bench.plain")
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
    ratio = ours.rate / base.rate if base.ids else float("nan")
    run.report.add(
        Row(
            f"5. batch submit, {BATCH_SIZE} tasks per request, {SUBMIT_THREADS} threads, "
            "tasks accepted/s",
            fmt(ours.rate),
            fmt(base.rate),
            f"{ratio:.2f}x",
            ">= 1.0x",
            verdict(ratio >= 1.0 and not ours.errors),
            f"{c_ours} vs {c_base}",
        )
    )
    run.report.add(
        Row(
            "5. CPU per task accepted, ms (API; RabbitMQ, Redis; submitting client)",
            ", ".join(f"{name} {ms:.2f}" for name, ms in ours_cpu.items()),
            ", ".join(f"{name} {ms:.2f}" for name, ms in base_cpu.items()),
            cmd=f"{c_ours} vs {c_base}",
        )
    )
    if ours.errors:
        run.report.notes.append(f"batch submit errors ({len(ours.errors)}): {ours.errors[0]}")


def bench_e2e_batches(run: Run, api: Proc, api_url: str) -> None:
    """6. End to end as benchmark 2, the tasks submitted in batches; against 2's plain run."""
    plain = run.report.raw.get("e2e", {}).get("plain")
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
    base_throughput = plain["tasks"] / plain["total_seconds"] if plain else None
    ratio = throughput / base_throughput if base_throughput else None
    run.report.add(
        Row(
            f"6. end to end in batches, {E2E_TASKS} tasks, first submit -> last final, tasks/s "
            "(baseline: plain Celery of row 2)",
            fmt(throughput),
            fmt(base_throughput),
            "n/a" if ratio is None else f"{ratio:.2f}x",
            ">= 1.0x",
            verdict(None if ratio is None else ratio >= 1.0 and not submitted.errors),
            c_ours,
        )
    )
    run.report.add(
        Row(
            "6. submit phase in batches, tasks/s; CPU per task, ms",
            f"{fmt(submitted.rate)}; " + ", ".join(f"{n} {ms:.2f}" for n, ms in cpu.items()),
            cmd=c_ours,
        )
    )
    if submitted.errors:
        run.report.notes.append(
            f"batched end to end errors ({len(submitted.errors)}): {submitted.errors[0]}"
        )


# -- 3. priority ----------------------------------------------------------------------


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
        key = f"taskyard:task:{task_id}"
        deadline = time.monotonic() + 60
        while client.hget(key, "status") not in ("SUCCESS", "FAILED"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"high task {task_id} not final in 60s")
            time.sleep(0.002)
        client_ms.append((time.time() - started) * 1000)
        status, created, finished = record_times(client, [task_id])[0]
        if status != "SUCCESS" or finished is None:
            raise RuntimeError(f"high task {task_id} ended {status}")
        record_ms.append((finished - created) * 1000)
    return record_ms, client_ms


def bench_priority(run: Run, api_url: str) -> None:
    report = run.report
    say(f"seeding {BACKLOG_TASKS} tasks into data.low over HTTP ({SUBMIT_THREADS} threads)")
    seeded = run_threads(BACKLOG_TASKS, SUBMIT_THREADS, http_submitter(api_url, "low"))
    ready, _ = run.backends.queue_stats("data.low")
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
    report.add(
        Row(
            f"4. idle RSS of a data worker, default concurrency (1), "
            f"{idle.processes} processes, MB: RSS summed (PSS), largest process",
            f"{fmt(idle.rss_mb)} ({fmt(idle.pss_mb)}), {fmt(idle.largest_rss_mb)}",
            f"{fmt(base_idle.rss_mb)} ({fmt(base_idle.pss_mb)}), {fmt(base_idle.largest_rss_mb)}",
            target="one process <= 80 MB",
            met=verdict(idle.largest_rss_mb <= IDLE_WORKER_PROCESS_RSS_TARGET_MB),
            cmd=f"{c_high} vs {c_plain}",
        )
    )

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
    left, _ = run.backends.queue_stats("data.low")
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
    for label, record_ms, client_ms, refs in (
        ("no low worker", quiet_record, quiet_client, c_high),
        ("low worker busy", busy_record, busy_client, f"{c_high} + {c_low}"),
    ):
        p95 = percentile(record_ms, 95)
        report.add(
            Row(
                f"3. high priority, {ready} waiting in data.low, {label}: p50 / p95 ms "
                f"(client-seen p50 / p95)",
                f"{fmt(percentile(record_ms, 50))} / {fmt(p95)} "
                f"({fmt(percentile(client_ms, 50))} / {fmt(percentile(client_ms, 95))})",
                target="p95 < 250 ms",
                met=verdict(p95 is not None and p95 < 250),
                cmd=refs,
            )
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


# -- main -----------------------------------------------------------------------------


def render(
    info: dict[str, str], load_start: str, load_end: str, report: Report, seconds: float
) -> str:
    header = [
        f"Taskyard benchmark, {info['date']}, BENCH_SCALE={SCALE:g}"
        + (" (py-spy attached: figures distorted)" if PROFILE else ""),
        f"machine: {info['nproc']} x {info['cpu']}, {info['ram']} RAM, Linux {info['kernel']}, "
        f"Python {info['python']}, RabbitMQ {info['rabbitmq']}, Redis {info['redis']}, "
        f"{info['wrk']}",
        f"load average (1/5/15 min): {load_start} at the start, {load_end} at the end; "
        f"run took {seconds:.0f} s",
        "",
    ]
    return "\n".join(header) + report.markdown()


# -- 7. worker CPU per task, draining a queue ------------------------------------------

DRAIN_TASKS = max(200, round(3000 * SCALE))


def drain_cpu_ms(worker: Proc, done: Callable[[], int], tasks: int) -> tuple[float, float]:
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


def bench_worker_drain(run: Run, api: Proc, api_url: str) -> None:
    """7. Worker CPU per task with the queue full: unlike row 2, independent of how fast
    the tasks arrive (a worker fed slowly wakes up for every task)."""
    client = run.backends.redis
    say(f"worker CPU: {DRAIN_TASKS} minimal data tasks queued, then one worker drains them")
    already = final_count(client, "normal")
    queued = run_chunked(DRAIN_TASKS, SUBMIT_THREADS, http_batch_submitter(api_url, "normal"))
    if queued.errors:
        raise RuntimeError(f"submit errors while queueing: {queued.errors[0]}")
    worker = run.start_data_worker("normal", E2E_CONCURRENCY)
    ours = drain_cpu_ms(worker, lambda: final_count(client, "normal") - already, DRAIN_TASKS)
    run.stop(worker)

    os.environ.update(
        TASKYARD_BROKER_URL=run.backends.broker_url, TASKYARD_REDIS_URL=run.backends.redis_url
    )
    from bench import plain_celery

    declare = run.start("plain-celery-declare", plain_worker_argv(1), run.env())
    wait_consuming(run.backends, "bench.plain", declare)
    run.stop(declare)
    client.delete(plain_celery.DONE_KEY, plain_celery.LAST_KEY)

    def make() -> Callable[[], str]:
        def call() -> str:
            plain_celery.submit(TASK_KWARGS)
            return ""

        return call

    run_threads(DRAIN_TASKS, SUBMIT_THREADS, make)
    argv = plain_worker_argv(E2E_CONCURRENCY)
    plain = run.start("plain-celery-drain", argv, run.env())
    wait_consuming(run.backends, "bench.plain", plain)
    base = drain_cpu_ms(plain, lambda: int(client.get(plain_celery.DONE_KEY) or 0), DRAIN_TASKS)
    run.stop(plain)

    ratio = sum(ours) / sum(base)
    run.report.raw["worker_drain"] = {"taskyard": ours, "plain": base}
    run.report.add(
        Row(
            f"7. worker CPU per task draining {DRAIN_TASKS} queued tasks, ms (main process + pool)",
            f"{sum(ours):.2f} ({ours[0]:.2f} + {ours[1]:.2f})",
            f"{sum(base):.2f} ({base[0]:.2f} + {base[1]:.2f})",
            f"{ratio:.2f}x",
            "<= 1.5x",
            verdict(ratio <= 1.5),
            run.report.command(
                f"{DRAIN_TASKS} x POST /api/tasks/batch (no consumer), then "
                f"{command_line(worker.argv)} vs {DRAIN_TASKS} x bench.plain_celery.submit(), "
                f"then {command_line(argv)}"
            ),
        )
    )


# By name, for `python -m bench.run <name>...`: 1 submit, 2 e2e (with the worker CPU per
# task), 5 batch, 6 e2e-batches, 3 priority, 7 worker-drain.
BENCHMARKS: dict[str, Callable[[Run, Proc, str], None]] = {
    "submit": bench_submit,
    "e2e": bench_e2e,
    "batch": bench_batch_accept,
    "e2e-batches": bench_e2e_batches,
    "priority": lambda run, api, api_url: bench_priority(run, api_url),
    "worker-drain": bench_worker_drain,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="benchmark",
        help=f"run only these, in this order ({', '.join(BENCHMARKS)}); all by default",
    )
    chosen = parser.parse_args().benchmarks or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    # SIGTERM (scripts/bench.sh on Ctrl-C or exit) still runs the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = REPO_ROOT / ".run" / "bench" / stamp
    (workdir / "files").mkdir(parents=True)
    load_start = load_average()
    info = machine()
    say(f"workdir {workdir}; load average {load_start}; scale {SCALE:g}")
    report = Report()
    backends = Backends.create()
    run = Run(workdir, backends, report)
    try:
        api, api_url = run.start_gunicorn("taskyard-api", None)
        wait_http_ready(f"{api_url}/readyz", api)
        for name in chosen:
            BENCHMARKS[name](run, api, api_url)
    finally:
        run.stop_all()
        backends.close()
    text = render(info, load_start, load_average(), report, time.monotonic() - started)
    (workdir / "results.md").write_text(text + "\n")
    (workdir / "results.json").write_text(
        json.dumps(
            {
                "machine": info,
                "scale": SCALE,
                "rows": [asdict(r) for r in report.rows],
                "commands": report.commands,
                "notes": report.notes,
                "raw": report.raw,
            },
            indent=2,
            default=str,
        )
    )
    print(text)
    say(f"results in {workdir}/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
