"""A RabbitMQ node and a Redis server of a test's own, so fault tests can restart them
without disturbing anything else on the machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from support import servers

START_TIMEOUT_SECONDS = 120


def _wait_listening(port: int, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not servers.listening("127.0.0.1", port, 0.5):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {port} after {timeout_seconds}s")
        time.sleep(0.2)


def _wait_closed(port: int, timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    while servers.listening("127.0.0.1", port, 0.5):
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {port} still open after {timeout_seconds}s")
        time.sleep(0.2)


@dataclass
class PrivateRedis:
    """redis-server with AOF (appendfsync always), in its own folder."""

    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, workdir: Path) -> PrivateRedis:
        if shutil.which("redis-server") is None:
            servers.missing_server("redis-server (the program)")
        workdir.mkdir(parents=True, exist_ok=True)
        server = cls(workdir, servers.free_port())
        server.launch()
        return server

    def launch(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(self.port)

    def restart(self) -> None:
        """SIGKILL, as a crash would: only what AOF holds survives."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        _wait_closed(self.port)
        self.launch()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class PrivateRabbitMQ:
    """A second RabbitMQ node on free ports, with the management plugin."""

    workdir: Path
    node: str
    amqp_port: int
    management_port: int

    @classmethod
    def start(cls, workdir: Path) -> PrivateRabbitMQ:
        if shutil.which("rabbitmq-server") is None:
            servers.missing_server("rabbitmq-server (the program)")
        workdir.mkdir(parents=True, exist_ok=True)
        node = cls(
            workdir,
            f"taskyard-faults-{uuid.uuid4().hex[:6]}@localhost",
            servers.free_port(),
            servers.free_port(),
        )
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}\n"
            f"management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {node.management_port}\n"
            "loopback_users = none\n"
            "consumer_timeout = 3600000\n"
        )
        (workdir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        # The Debian wrapper runs the server as the rabbitmq user, which must own the folder.
        subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(workdir)], check=False)
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": node.node,
            "RABBITMQ_NODE_PORT": str(node.amqp_port),
            "RABBITMQ_DIST_PORT": str(servers.free_port()),
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "log"),
            "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        }
        subprocess.run(["rabbitmq-server", "-detached"], env=env, check=True)
        node.ctl("wait", str(workdir / "rabbitmq.pid"), "--timeout", str(START_TIMEOUT_SECONDS))
        _wait_listening(node.amqp_port)
        _wait_listening(node.management_port)
        return node

    def ctl(self, *args: str) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop_app(self) -> None:
        self.ctl("stop_app")
        _wait_closed(self.amqp_port)

    def start_app(self) -> None:
        self.ctl("start_app")
        _wait_listening(self.amqp_port)
        _wait_listening(self.management_port)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.ctl("stop")

    @property
    def endpoints(self) -> servers.Endpoints:
        return servers.Endpoints(
            rabbitmq_host="127.0.0.1",
            amqp_port=self.amqp_port,
            management_port=self.management_port,
        )
