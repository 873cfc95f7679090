"""One bench run: its knobs, the processes it starts and the CPU it measures.

Every benchmark module takes a `Run`: the private vhost and Redis db (the tests'
`Backends`), the working folder where logs and results stay, and the report.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.report import Report, say
from support.memory import with_children
from support.servers import free_port
from support.stack import BIN, REPO_ROOT, Backends, ManagedProcess, wait_consuming

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
SUBMIT_THREADS = int(os.environ.get("BENCH_SUBMIT_THREADS", "8"))
E2E_TASKS = max(20, round(5000 * SCALE))
E2E_CONCURRENCY = 2
IDLE_SETTLE_SECONDS = 3
IDLE_WORKER_PROCESS_RSS_TARGET_MB = 80
WAIT_TIMEOUT_SECONDS = 600
API_KEY = f"bench-{uuid.uuid4().hex}"
GUNICORN_CONF = "services/api/gunicorn.conf.py"

PAYLOAD: dict[str, Any] = {"input": {"records": [{"region": "eu", "amount": 10}]}}
TASK_KWARGS: dict[str, Any] = {"payload": PAYLOAD, "max_retries": 5}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def command_line(argv: list[str]) -> str:
    shown = [
        str(Path(a).relative_to(REPO_ROOT)) if a.startswith(str(REPO_ROOT)) else a for a in argv
    ]
    return shlex.join(shown)


def gunicorn_worker_pids(master: ManagedProcess) -> list[int]:
    return with_children(master.pid)[1:]


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


@dataclass
class Run:
    workdir: Path
    backends: Backends
    report: Report
    procs: list[ManagedProcess] = field(default_factory=list)
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

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        proc = ManagedProcess(name, argv, env, self.workdir / f"{name}.log").start()
        self.procs.append(proc)
        return proc

    def stop(self, proc: ManagedProcess) -> None:
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

    def start_gunicorn(self, name: str, app: str | None) -> tuple[ManagedProcess, str]:
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

    def start_data_worker(self, priority: str, concurrency: int | None = None) -> ManagedProcess:
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
