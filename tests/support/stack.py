"""The one Python harness of the tests and the bench: a whole Taskyard stack in its own
RabbitMQ vhost, Redis db, storage folder and SMTP catcher.

The API runs under gunicorn and every worker is a real `taskyard-<type>-worker`
process, exactly as `make run` starts them. The bench (bench/) builds on the lower
layers (Backends, ManagedProcess and the waits) to start its own processes beside
the baselines, with tests/ on its PYTHONPATH (scripts/bench.sh).
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
from taskyard_api.paths import READINESS_PATH
from taskyard_common import topology

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 40
# Every stack (a test's or the bench's) claims its own Redis database number.
TEST_REDIS_DBS = range(1, 16)
TEST_REDIS_DB_LEASE_SECONDS = 3600
REDIS_DB_LEASE_KEY = "taskyard-test:db-lease:{db}"
# Completion callbacks of a test stack: signed with this, and allowed to reach a receiver on
# this machine (loopback is refused for every other host).
CALLBACK_SIGNING_SECRET = "test-callback-secret"
CALLBACK_RECEIVER_HOST = "localhost"


def claim_redis_db(endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS) -> int:
    control = redis.Redis(host=endpoints.redis_host, port=endpoints.redis_port, db=0)
    for db in TEST_REDIS_DBS:
        if control.set(
            REDIS_DB_LEASE_KEY.format(db=db), os.getpid(), nx=True, ex=TEST_REDIS_DB_LEASE_SECONDS
        ):
            return db
    raise RuntimeError("every test Redis database is leased; delete taskyard-test:db-lease:*")


def release_redis_db(db: int, endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS) -> None:
    redis.Redis(host=endpoints.redis_host, port=endpoints.redis_port, db=0).delete(
        REDIS_DB_LEASE_KEY.format(db=db)
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


@dataclass
class Backends:
    """A private RabbitMQ vhost and a leased, flushed Redis database, released by close()."""

    vhost: str
    redis_db: int
    redis: redis.Redis
    endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS

    @classmethod
    def create(
        cls, prefix: str, endpoints: servers.Endpoints = servers.DEFAULT_ENDPOINTS
    ) -> Backends:
        vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
        management("PUT", f"/vhosts/{vhost}", endpoints)
        management(
            "PUT",
            f"/permissions/{vhost}/guest",
            endpoints,
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        try:
            redis_db = claim_redis_db(endpoints)
        except RuntimeError:
            management("DELETE", f"/vhosts/{vhost}", endpoints)
            raise
        client = redis.Redis(
            host=endpoints.redis_host,
            port=endpoints.redis_port,
            db=redis_db,
            decode_responses=True,
        )
        client.flushdb()
        return cls(vhost, redis_db, client, endpoints)

    @property
    def broker_url(self) -> str:
        return self.endpoints.broker_url(self.vhost)

    @property
    def redis_url(self) -> str:
        return f"redis://{self.endpoints.redis_host}:{self.endpoints.redis_port}/{self.redis_db}"

    def queue_stats(self, queue: str) -> dict[str, int]:
        """Live counts from a passive declare (the management API lags by seconds)."""
        with kombu.Connection(self.broker_url, connect_timeout=5) as connection:
            channel = connection.channel()
            try:
                _, ready, consumers = channel.queue_declare(queue=queue, passive=True)
            except amqp.exceptions.NotFound:
                return {"consumers": 0, "ready": 0}
            finally:
                if channel.is_open:
                    channel.close()
        return {"consumers": int(consumers), "ready": int(ready)}

    def purge(self, queue: str) -> None:
        with kombu.Connection(self.broker_url, connect_timeout=5) as connection:
            channel = connection.channel()
            try:
                channel.queue_purge(queue)
            except amqp.exceptions.NotFound:
                pass
            finally:
                if channel.is_open:
                    channel.close()

    def close(self) -> None:
        try:
            management("DELETE", f"/vhosts/{self.vhost}", self.endpoints)
            self.redis.flushdb()
            release_redis_db(self.redis_db, self.endpoints)
        except (requests.RequestException, redis.RedisError) as error:
            print(
                f"warning: could not release {self.vhost} / db {self.redis_db}: {error}",
                file=sys.stderr,
            )


def _die_with_parent() -> None:
    """SIGKILL the child when its parent (a test run, the bench) dies: no orphan outlives it."""
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

    def start(self) -> ManagedProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            preexec_fn=_die_with_parent,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def require_running(self) -> None:
        if not self.running():
            tail = self.log_text()[-3000:]
            raise RuntimeError(f"{self.name} exited; the end of its log:\n{tail}")

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
                self.kill()
        if self._log:
            self._log.close()
            self._log = None
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


def wait_http_ready(
    url: str, process: ManagedProcess | None, timeout_seconds: float = READY_TIMEOUT_SECONDS
) -> None:
    """Until `url` answers 200; fails at once with the log should `process` exit."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process is not None:
            process.require_running()
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready in {timeout_seconds}s")


def wait_consuming(
    backends: Backends,
    queue: str,
    process: ManagedProcess | None,
    timeout_seconds: float = READY_TIMEOUT_SECONDS,
) -> None:
    """Until `queue` has a consumer; fails at once with the log should `process` exit."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if backends.queue_stats(queue)["consumers"] > 0:
            return
        if process is not None:
            process.require_running()
        time.sleep(0.3)
    raise RuntimeError(f"no consumer on {queue} in {timeout_seconds}s")


@dataclass
class Stack:
    workdir: Path
    env: dict[str, str]
    base_url: str
    backends: Backends
    smtp: SmtpCatcher
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
        backends = Backends.create("taskyard-test", endpoints)
        smtp = SmtpCatcher.start()
        storage = workdir / "files"
        storage.mkdir(parents=True, exist_ok=True)
        port = servers.free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TASKYARD_")},
            "TASKYARD_BROKER_URL": backends.broker_url,
            "TASKYARD_REDIS_URL": backends.redis_url,
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
            "TASKYARD_CALLBACK_SIGNING_SECRET": CALLBACK_SIGNING_SECRET,
            "TASKYARD_CALLBACK_ALLOWED_HOSTS": CALLBACK_RECEIVER_HOST,
            # An open API unless a test names keys: the keys `make run` keeps in the
            # checkout's .env (which Settings read) must not apply.
            "TASKYARD_API_KEYS": "",
            "TASKYARD_API_KEYS_FILE": "",
            "TASKYARD_ADMIN_API_KEYS": "",
            **(extra_env or {}),
        }
        return cls(workdir, env, f"http://127.0.0.1:{port}", backends, smtp)

    @property
    def redis(self) -> redis.Redis:
        return self.backends.redis

    @property
    def vhost(self) -> str:
        return self.backends.vhost

    @property
    def redis_db(self) -> int:
        return self.backends.redis_db

    @property
    def endpoints(self) -> servers.Endpoints:
        return self.backends.endpoints

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
        wait_http_ready(f"{self.base_url}{READINESS_PATH}", self.api, timeout_seconds)

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

    def start_callback_worker(self, extra_env: dict[str, str] | None = None) -> ManagedProcess:
        """`taskyard-callback-worker` on the callbacks queue, stopped with the stack."""
        queue = topology.CALLBACK_QUEUE_NAME
        worker = ManagedProcess(
            queue,
            [str(BIN / "taskyard-callback-worker")],
            {**self.env, **(extra_env or {})},
            self.workdir / f"worker-{queue}.log",
        )
        worker.start()
        self.workers[queue] = worker
        self.wait_consuming(queue)
        return worker

    def wait_consuming(self, queue: str, timeout_seconds: float = READY_TIMEOUT_SECONDS) -> None:
        wait_consuming(self.backends, queue, self.workers.get(queue), timeout_seconds)

    def queue_stats(self, queue: str) -> dict[str, int]:
        return self.backends.queue_stats(queue)

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
        self.backends.close()

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
