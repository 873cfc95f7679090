"""A RabbitMQ node and a Redis server of a test's own, so fault tests can restart them
without disturbing anything else on the machine."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
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
    """A RabbitMQ node of a test's own on free ports, with the management plugin.

    Nodes run as the Debian package's rabbitmq user, so every private node shares that
    user's Erlang cookie and can join another one's cluster.
    """

    workdir: Path
    node: str
    amqp_port: int
    management_port: int
    dist_port: int

    @classmethod
    def start(cls, workdir: Path) -> PrivateRabbitMQ:
        node = cls.prepare(workdir, f"taskyard-faults-{uuid.uuid4().hex[:6]}@localhost")
        node.launch()
        return node

    @classmethod
    def prepare(cls, workdir: Path, node_name: str) -> PrivateRabbitMQ:
        """Writes the node's configuration; `launch` starts it."""
        if shutil.which("rabbitmq-server") is None:
            servers.missing_server("rabbitmq-server (the program)")
        workdir.mkdir(parents=True, exist_ok=True)
        node = cls(
            workdir, node_name, servers.free_port(), servers.free_port(), servers.free_port()
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
        return node

    def launch(self) -> None:
        """Starts the node (again, after `kill`) and waits until it serves AMQP and HTTP."""
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
        }
        subprocess.run(["rabbitmq-server", "-detached"], env=env, check=True)
        self.wait_running()

    def wait_running(self) -> None:
        self.ctl("wait", str(self.pid_file), "--timeout", str(START_TIMEOUT_SECONDS))
        _wait_listening(self.amqp_port)
        _wait_listening(self.management_port)

    @property
    def pid_file(self) -> Path:
        return self.workdir / "rabbitmq.pid"

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

    def kill(self) -> None:
        """SIGKILL the node's Erlang VM, as a crashed machine or an OOM kill would."""
        os.kill(int(self.pid_file.read_text().strip()), signal.SIGKILL)
        _wait_closed(self.amqp_port)
        self.pid_file.unlink(missing_ok=True)

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


@dataclass
class RabbitCluster:
    """N private RabbitMQ nodes joined into one cluster (quorum queues replicate on all)."""

    nodes: list[PrivateRabbitMQ]

    @classmethod
    def start(cls, workdir: Path, size: int = 3) -> RabbitCluster:
        prefix = f"taskyard-cluster-{uuid.uuid4().hex[:6]}"
        nodes = [
            PrivateRabbitMQ.prepare(workdir / f"node{index}", f"{prefix}-{index}@localhost")
            for index in range(1, size + 1)
        ]
        # Side by side: a node takes seconds to boot on a loaded machine.
        with concurrent.futures.ThreadPoolExecutor(size) as pool:
            list(pool.map(PrivateRabbitMQ.launch, nodes))
        seed, *joining = nodes
        for node in joining:
            node.ctl("stop_app")
            node.ctl("join_cluster", seed.node)
            node.start_app()
        cluster = cls(nodes)
        cluster.wait_members_running(size)
        return cluster

    def running_nodes(self) -> set[str]:
        """The members every reachable node sees running."""
        for node in self.nodes:
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                output = subprocess.run(
                    ["rabbitmqctl", "-n", node.node, "-q", "cluster_status", "--formatter", "json"],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=30,
                ).stdout
                return set(json.loads(output)["running_nodes"])
        return set()

    def wait_members_running(
        self, count: int, timeout_seconds: float = START_TIMEOUT_SECONDS
    ) -> None:
        deadline = time.monotonic() + timeout_seconds
        while len(running := self.running_nodes()) != count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster runs {sorted(running)}, expected {count} nodes")
            time.sleep(0.5)

    def endpoints(self, redis_server: PrivateRedis) -> servers.Endpoints:
        """The first member as the node tests manage, and every member for the clients."""
        return servers.Endpoints(
            rabbitmq_host="127.0.0.1",
            amqp_port=self.nodes[0].amqp_port,
            management_port=self.nodes[0].management_port,
            redis_host="127.0.0.1",
            redis_port=redis_server.port,
            cluster_amqp_ports=tuple(node.amqp_port for node in self.nodes),
            cluster_management_ports=tuple(node.management_port for node in self.nodes),
        )

    def stop(self) -> None:
        with concurrent.futures.ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(PrivateRabbitMQ.stop, self.nodes))
