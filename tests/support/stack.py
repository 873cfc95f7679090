"""A whole Taskyard stack for tests: its own RabbitMQ vhost, Redis db, storage and SMTP.

The API runs under gunicorn and every worker is a real `taskyard-<type>-worker`
process, exactly as `make run` starts them.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import amqp
import kombu
import redis
import requests

from support import servers
from support.smtp import SmtpCatcher
from taskyard_common import topology

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 40
# Stacks of parallel test runs each claim their own Redis database number.
TEST_REDIS_DBS = range(1, 16)
TEST_REDIS_DB_LEASE_SECONDS = 3600


def claim_redis_db(endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS) -> int:
    control = redis.Redis(host=endpoints.redis_host, port=endpoints.redis_port, db=0)
    for db in TEST_REDIS_DBS:
        if control.set(
            f"taskyard-test:db-lease:{db}", os.getpid(), nx=True, ex=TEST_REDIS_DB_LEASE_SECONDS
        ):
            return db
    raise RuntimeError("every test Redis database is leased; delete taskyard-test:db-lease:*")


def release_redis_db(db: int, endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS) -> None:
    redis.Redis(host=endpoints.redis_host, port=endpoints.redis_port, db=0).delete(
        f"taskyard-test:db-lease:{db}"
    )


def worker_command(task_type: str) -> Path:
    return BIN / f"taskyard-{task_type}-worker"


def available_task_types() -> list[str]:
    """Types whose worker service is installed (all three once every service exists)."""
    only = os.environ.get("TASKYARD_TEST_TASK_TYPES")
    return [
        t
        for t in topology.TASK_TYPES
        if (not only or t in only.split(","))
        and worker_command(t).exists()
        and importlib.util.find_spec(f"taskyard_{t}_worker.__main__")
    ]


def management(
    method: str,
    path: str,
    endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS,
    **kwargs: object,
) -> requests.Response:
    url = f"http://{endpoints.rabbitmq_host}:{endpoints.management_port}/api{path}"
    response = requests.request(method, url, auth=("guest", "guest"), timeout=10, **kwargs)
    response.raise_for_status()
    return response


def _die_with_parent() -> None:
    """SIGKILL the child when the test process dies, so no orphan worker outlives a run."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            assert self.process is not None
            self.process.send_signal(signum)

    def stop(self, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> int | None:
        if self.process is None:
            return None
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log:
            self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the worker and its pool children, as a crashed node would."""
        if self.process is None:
            return
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in [self.process.pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Stack:
    workdir: Path
    env: dict[str, str]
    base_url: str
    redis: redis.Redis
    smtp: SmtpCatcher
    vhost: str
    redis_db: int
    endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS
    api: ManagedProcess | None = None
    workers: dict[str, ManagedProcess] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
        *,
        endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS,
    ) -> Stack:
        servers.require_servers(endpoints)
        vhost = f"taskyard-test-{uuid.uuid4().hex[:8]}"
        management("PUT", f"/vhosts/{vhost}", endpoints)
        management(
            "PUT",
            f"/permissions/{vhost}/guest",
            endpoints,
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        redis_db = claim_redis_db(endpoints)
        client = redis.Redis(
            host=endpoints.redis_host,
            port=endpoints.redis_port,
            db=redis_db,
            decode_responses=True,
        )
        client.flushdb()
        smtp = SmtpCatcher.start()
        storage = workdir / "files"
        storage.mkdir(parents=True, exist_ok=True)
        port = servers.free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TASKYARD_")},
            "TASKYARD_BROKER_URL": endpoints.broker_url(vhost),
            "TASKYARD_REDIS_URL": (
                f"redis://{endpoints.redis_host}:{endpoints.redis_port}/{redis_db}"
            ),
            "TASKYARD_RABBITMQ_MANAGEMENT_URL": endpoints.management_url(),
            "TASKYARD_STORAGE_URL": f"file://{storage}",
            "TASKYARD_SMTP_HOST": "127.0.0.1",
            "TASKYARD_SMTP_PORT": str(smtp.port),
            "TASKYARD_API_BIND": f"127.0.0.1:{port}",
            "TASKYARD_API_WORKERS": "2",
            "TASKYARD_RETRY_BACKOFF_BASE_SECONDS": "1",
            "TASKYARD_RETRY_BACKOFF_MAX_SECONDS": "4",
            "TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS": "20",
            "TASKYARD_LOG_FORMAT": "json",
            "TASKYARD_CACHE_TTL_SECONDS": "0.5",
            "TASKYARD_UI_SESSION_SECRET": secrets.token_urlsafe(32),
            # Load and fault tests submit thousands of tasks a minute from one client.
            "TASKYARD_RATE_LIMIT": "1000000/minute",
            # An open API unless a test names keys: the keys `make run` keeps in the
            # checkout's .env (which Settings read) must not apply.
            "TASKYARD_API_KEYS": "",
            "TASKYARD_API_KEYS_FILE": "",
            "TASKYARD_ADMIN_API_KEYS": "",
            **(extra_env or {}),
        }
        return cls(
            workdir, env, f"http://127.0.0.1:{port}", client, smtp, vhost, redis_db, endpoints
        )

    def start_api(self) -> None:
        self.api = ManagedProcess(
            "api",
            [str(BIN / "gunicorn"), "--config", str(REPO_ROOT / "services/api/gunicorn.conf.py")],
            self.env,
            self.workdir / "api.log",
        )
        self.api.start()
        self.wait_ready()

    def wait_ready(self, timeout_seconds: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.api is not None and not self.api.running():
                raise RuntimeError(f"API exited:\n{self.api.log_text()[-4000:]}")
            time.sleep(0.2)
        raise RuntimeError("API not ready in time")

    def start_worker(self, queue: str, extra_env: dict[str, str] | None = None) -> ManagedProcess:
        worker = self._spawn_worker(queue, extra_env)
        self.wait_consuming(queue)
        return worker

    def start_workers(self, queues: list[str]) -> None:
        """Start the workers side by side, then wait until each consumes its queue."""
        for queue in queues:
            self._spawn_worker(queue)
        for queue in queues:
            self.wait_consuming(queue)

    def _spawn_worker(self, queue: str, extra_env: dict[str, str] | None = None) -> ManagedProcess:
        task_type, priority = topology.parse_queue_name(queue)
        worker = ManagedProcess(
            queue,
            [str(worker_command(task_type)), "--priority", priority],
            {**self.env, **(extra_env or {})},
            self.workdir / f"worker-{queue}.log",
        )
        worker.start()
        self.workers[queue] = worker
        return worker

    def wait_consuming(self, queue: str, timeout_seconds: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.consumers(queue) > 0:
                return
            worker = self.workers.get(queue)
            if worker is not None and not worker.running():
                raise RuntimeError(f"worker {queue} exited:\n{worker.log_text()[-4000:]}")
            time.sleep(0.3)
        raise RuntimeError(f"no consumer on {queue} in time")

    def queue_stats(self, queue: str) -> dict[str, int]:
        """Live counts from a passive declare (the management API lags by seconds)."""
        with kombu.Connection(self.env["TASKYARD_BROKER_URL"], connect_timeout=5) as connection:
            channel = connection.channel()
            try:
                _, ready, consumers = channel.queue_declare(queue=queue, passive=True)
            except amqp.exceptions.NotFound:
                return {"consumers": 0, "ready": 0}
            finally:
                if channel.is_open:
                    channel.close()
        return {"consumers": int(consumers), "ready": int(ready)}

    def wait_queue_ready(self, queue: str, ready: int, timeout_seconds: float = 20) -> None:
        """The management API refreshes its counts every few seconds: poll until they match."""
        deadline = time.monotonic() + timeout_seconds
        while (seen := self.queue_stats(queue)["ready"]) != ready:
            if time.monotonic() > deadline:
                raise AssertionError(f"{queue} has {seen} ready messages, expected {ready}")
            time.sleep(0.5)

    def consumers(self, queue: str) -> int:
        return self.queue_stats(queue)["consumers"]

    def stop_worker(self, queue: str) -> int | None:
        worker = self.workers.pop(queue)
        return worker.stop()

    def stop(self) -> None:
        # SIGTERM every worker first, then wait: they shut down side by side.
        for worker in self.workers.values():
            worker.signal(signal.SIGTERM)
        for queue in list(self.workers):
            self.stop_worker(queue)
        if self.api is not None:
            self.api.stop()
        self.smtp.stop()
        try:
            management("DELETE", f"/vhosts/{self.vhost}", self.endpoints)
            self.redis.flushdb()
            release_redis_db(self.redis_db, self.endpoints)
        except (requests.RequestException, redis.RedisError):
            pass

    def dump_logs(self) -> str:
        parts = []
        for process in [self.api, *self.workers.values()]:
            if process is not None:
                exit_code = process.process.poll() if process.process else None
                state = "running" if exit_code is None else f"exited with {exit_code}"
                parts.append(f"==== {process.name} ({state}) ====\n{process.log_text()[-3000:]}")
        return "\n".join(parts)


def all_queues() -> list[str]:
    """The queues of every worker service installed in this environment."""
    return [
        topology.queue_name(task_type, priority)  # type: ignore[arg-type]
        for task_type in available_task_types()
        for priority in topology.PRIORITIES
    ]


def start_stack(
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    *,
    queues: list[str] | None = None,
    endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS,
) -> Stack:
    """The API and a worker per queue (every queue by default), or the logs and a clean stop."""
    stack = Stack.create(workdir, extra_env, endpoints=endpoints)
    try:
        stack.start_api()
        stack.start_workers(all_queues() if queues is None else queues)
    except Exception:
        print(stack.dump_logs(), file=sys.stderr)
        stack.stop()
        raise
    return stack


@contextlib.contextmanager
def running_stack(
    name: str,
    extra_env: dict[str, str] | None = None,
    *,
    queues: list[str] | None = None,
    endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS,
) -> Iterator[Stack]:
    """start_stack in a fresh working folder, stopped and removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=f"taskyard-{name}-"))
    try:
        stack = start_stack(workdir, extra_env, queues=queues, endpoints=endpoints)
        try:
            yield stack
        finally:
            stack.stop()
    finally:
        cleanup_workdir(workdir)


def cleanup_workdir(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
