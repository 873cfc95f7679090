"""The rendered RabbitMQ configuration and definitions writer on a real RabbitMQ node: the
password in the Secret is the one that works, on the first boot and on every later boot of
the same data folder (a reinstall after `helm uninstall` keeps the volume but may bring a
new Secret).

Runs the host's rabbitmq-server (Debian's package) as a node of its own, on free ports, with
the chart's taskyard.conf and enabled_plugins; skipped locally without it, failed when CI
is set.
"""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import chartlib
import kombu
import pytest
import requests

BOOT_TIMEOUT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rabbitmq_sbin() -> Path:
    found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
    if not found:
        message = "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, and CI is set")
        pytest.skip(message)
    return Path(found[-1]).parent


def local_minor_version(sbin: Path) -> str:
    """'3.10' from /usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/sbin."""
    major, minor, *_ = sbin.parent.name.removeprefix("rabbitmq_server-").split(".")
    return f"{major}.{minor}"


class Node:
    """One RabbitMQ node over a data folder that outlives its boots, like the PVC."""

    def __init__(self, helm: str, workdir: Path) -> None:
        self.sbin = rabbitmq_sbin()
        self.workdir = workdir
        self.name = f"taskyard-chart-{uuid.uuid4().hex[:8]}@localhost"
        self.amqp, self.management, self.metrics, self.dist = (free_port() for _ in range(4))
        objects = chartlib.helm_template(
            helm,
            {
                "rabbitmq": {
                    # Rendered for the version that boots here, so version-keyed settings
                    # (the quorum-queue WAL key) are the ones this node understands.
                    "image": {"tag": f"{local_minor_version(self.sbin)}-management"},
                    "service": {
                        "amqpPort": self.amqp,
                        "managementPort": self.management,
                        "metricsPort": self.metrics,
                    },
                }
            },
        )
        data = chartlib.named(objects, "ConfigMap", "taskyard-rabbitmq")["data"]
        self.definitions = workdir / "definitions" / "definitions.json"
        self.definitions.parent.mkdir()
        conf = data["taskyard.conf"]
        assert "/etc/rabbitmq/definitions/definitions.json" in conf
        (workdir / "rabbitmq.conf").write_text(
            conf.replace("/etc/rabbitmq/definitions/definitions.json", str(self.definitions))
        )
        (workdir / "enabled_plugins").write_text(data["enabled_plugins"])
        (workdir / "write-definitions.sh").write_text(data["write-definitions.sh"])
        (workdir / "home").mkdir()
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        w = self.workdir
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(w / "home"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(self.dist),
            "RABBITMQ_CONFIG_FILE": str(w / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(w / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(w / "data"),
            "RABBITMQ_LOG_BASE": str(w / "log"),
            "RABBITMQ_CONF_ENV_FILE": str(w / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(w / "advanced.config"),
            "RABBITMQ_PID_FILE": str(w / "rabbitmq.pid"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(w / "plugins-expand"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(w / "feature_flags"),
        }

    def boot(self, username: str, password: str) -> None:
        """What the pod does on every start: the init container writes the definitions
        from the Secret, then the server starts."""
        written = subprocess.run(
            ["sh", str(self.workdir / "write-definitions.sh"), str(self.definitions)],
            env={
                "PATH": "/usr/bin:/bin",
                "RABBITMQ_USERNAME": username,
                "RABBITMQ_PASSWORD": password,
                "RABBITMQ_VHOST": "/",
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert written.returncode == 0, written.stderr
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [str(self.sbin / "rabbitmq-server")],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + BOOT_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                requests.get(f"http://127.0.0.1:{self.management}/api/overview", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.5)
        raise AssertionError(f"node not up in {BOOT_TIMEOUT_SECONDS}s\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        subprocess.run(
            [str(self.sbin / "rabbitmqctl"), "-n", self.name, "stop"],
            env=self.env(),
            capture_output=True,
            timeout=60,
        )
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")[-4000:]

    def management_status(self, username: str, password: str) -> int:
        return requests.get(
            f"http://127.0.0.1:{self.management}/api/whoami", auth=(username, password), timeout=10
        ).status_code

    def amqp_login(self, username: str, password: str) -> bool:
        connection = kombu.Connection(
            f"amqp://{username}:{password}@127.0.0.1:{self.amqp}//", connect_timeout=10
        )
        try:
            connection.connect()
            return True
        except Exception:
            return False
        finally:
            connection.release()


@pytest.fixture
def node(helm: str, tmp_path: Path) -> Iterator[Node]:
    started = Node(helm, tmp_path)
    try:
        yield started
    finally:
        started.stop()


def test_secret_password_works_on_every_boot_of_a_kept_volume(node: Node):
    node.boot("taskyard", "first-install-password")
    assert node.management_status("taskyard", "first-install-password") == 200
    assert node.amqp_login("taskyard", "first-install-password")
    users = requests.get(
        f"http://127.0.0.1:{node.management}/api/users",
        auth=("taskyard", "first-install-password"),
        timeout=10,
    ).json()
    assert [u["name"] for u in users] == ["taskyard"]  # no default guest user
    node.stop()

    # helm uninstall + install: the volume stays, the Secret is generated anew.
    node.boot("taskyard", 'reinstall-"pass\\word')
    assert node.management_status("taskyard", 'reinstall-"pass\\word') == 200
    assert node.amqp_login("taskyard", 'reinstall-"pass\\word')
    assert node.management_status("taskyard", "first-install-password") == 401
    assert not node.amqp_login("taskyard", "first-install-password")
