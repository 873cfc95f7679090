"""The pieces a benchmark run starts and stops: a RabbitMQ vhost, a Redis db, processes.

The same approach as tests/support/stack.py (its own vhost through the management
API, a leased Redis database number), so a benchmark can run beside the test
suites without touching their data. Every process started here is SIGKILLed by the
kernel should the benchmark die, and stopped with SIGTERM otherwise.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import amqp
import kombu
import psutil
import redis
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RABBITMQ_HOST = os.environ.get("TASKYARD_TEST_RABBITMQ_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("TASKYARD_TEST_RABBITMQ_PORT", "5672"))
MANAGEMENT_PORT = int(os.environ.get("TASKYARD_TEST_RABBITMQ_MANAGEMENT_PORT", "15672"))
REDIS_HOST = os.environ.get("TASKYARD_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TASKYARD_TEST_REDIS_PORT", "6379"))
# The lease keys the test stacks use too, so a run never takes a database a test holds.
REDIS_DBS = range(1, 16)
LEASE_KEY = "taskyard-test:db-lease:{db}"
LEASE_SECONDS = 3600
STOP_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def management(method: str, path: str, **kwargs: object) -> requests.Response:
    url = f"http://{RABBITMQ_HOST}:{MANAGEMENT_PORT}/api{path}"
    response = requests.request(method, url, auth=("guest", "guest"), timeout=10, **kwargs)
    response.raise_for_status()
    return response


@dataclass
class Backends:
    """A private vhost and Redis database for one benchmark run."""

    vhost: str
    redis_db: int
    redis: redis.Redis

    @property
    def broker_url(self) -> str:
        return f"amqp://guest:guest@{RABBITMQ_HOST}:{AMQP_PORT}/{self.vhost}"

    @property
    def redis_url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}"

    @classmethod
    def create(cls) -> Backends:
        vhost = f"taskyard-bench-{uuid.uuid4().hex[:8]}"
        management("PUT", f"/vhosts/{vhost}")
        management(
            "PUT",
            f"/permissions/{vhost}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        control = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
        for db in REDIS_DBS:
            if control.set(
                LEASE_KEY.format(db=db), f"bench-{os.getpid()}", nx=True, ex=LEASE_SECONDS
            ):
                client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, decode_responses=True)
                client.flushdb()
                return cls(vhost, db, client)
        management("DELETE", f"/vhosts/{vhost}")
        raise RuntimeError("every Redis database 1-15 is leased; delete taskyard-test:db-lease:*")

    def close(self) -> None:
        try:
            management("DELETE", f"/vhosts/{self.vhost}")
        except requests.RequestException as error:
            print(f"warning: could not delete vhost {self.vhost}: {error}", file=sys.stderr)
        try:
            self.redis.flushdb()
            redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0).delete(
                LEASE_KEY.format(db=self.redis_db)
            )
        except redis.RedisError as error:
            print(f"warning: could not release Redis db {self.redis_db}: {error}", file=sys.stderr)

    def queue_stats(self, queue: str) -> tuple[int, int]:
        """(ready messages, consumers) from a passive declare: live, unlike the management API."""
        with kombu.Connection(self.broker_url, connect_timeout=5) as connection:
            channel = connection.channel()
            try:
                _, ready, consumers = channel.queue_declare(queue=queue, passive=True)
            except amqp.exceptions.NotFound:
                return 0, 0
            finally:
                if channel.is_open:
                    channel.close()
        return int(ready), int(consumers)

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


def _die_with_parent() -> None:
    """SIGKILL the child when the benchmark dies, so nothing it started outlives it."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> Proc:
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
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited; the end of {self.log_path}:\n{tail}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    child.kill()
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_http_ready(url: str, proc: Proc, timeout_seconds: float = 90) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        proc.require_running()
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready at {url} in {timeout_seconds}s")


def wait_consuming(backends: Backends, queue: str, proc: Proc, timeout_seconds: float = 90) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        proc.require_running()
        if backends.queue_stats(queue)[1] > 0:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{proc.name}: no consumer on {queue} in {timeout_seconds}s")


@dataclass(frozen=True)
class Memory:
    processes: int
    rss_mb: float
    pss_mb: float
    largest_rss_mb: float


def tree_memory(pids: list[int]) -> Memory:
    """RSS and PSS summed over processes (RSS counts pages shared after fork once per
    process), and the RSS of the largest single process."""
    rss = pss = largest = 0
    for pid in pids:
        info = psutil.Process(pid).memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        largest = max(largest, info.rss)
    return Memory(len(pids), rss / 2**20, pss / 2**20, largest / 2**20)


def with_children(pid: int) -> list[int]:
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
