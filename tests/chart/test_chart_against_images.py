"""The chart wires the real images: every rendered Deployment (API, Flower, nine
workers) runs with its own command, args, environment, user and mounts from the
render, in Docker with host networking and the Services' names resolved to
127.0.0.1; then tests/e2e passes against that stack.

RabbitMQ and Redis are the host's servers standing in for the chart's StatefulSets:
RabbitMQ gets the rendered user and password in a vhost of this run's own; a Redis
server of this run's own starts with the rendered password. Needs Docker, the images
of `make images` and a local RabbitMQ (scripts/ensure-servers.sh) with redis-server.
Missing any: skipped locally, failed when CI is set. Marked `containers`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import chartlib
import pytest
import requests
import yaml

from taskyard_common.topology import QUEUE_NAMES

pytestmark = pytest.mark.containers

MANAGEMENT = os.environ.get("TASKYARD_TEST_RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")
MANAGEMENT_AUTH = ("guest", "guest")
READY_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 40


def unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI is set: the chart-against-images test must run")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def app_version() -> str:
    return str(yaml.safe_load((chartlib.CHART_DIR / "Chart.yaml").read_text())["appVersion"])


def require_docker_and_images() -> None:
    if not shutil.which("docker"):
        unavailable("docker is not installed")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        unavailable("no Docker engine answers (scripts/ensure-docker.sh starts one)")
    for name in ("api", "data-worker", "email-worker", "file-worker"):
        image = f"taskyard/{name}:{app_version()}"
        inspected = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
        if inspected.returncode != 0:
            unavailable(f"image {image} is missing (make images)")


def require_host_servers() -> None:
    try:
        requests.get(f"{MANAGEMENT}/api/overview", auth=MANAGEMENT_AUTH, timeout=5)
    except requests.RequestException:
        unavailable(f"no RabbitMQ management API at {MANAGEMENT} (scripts/ensure-servers.sh)")
    if not port_open(5672):
        unavailable("no RabbitMQ on 127.0.0.1:5672 (scripts/ensure-servers.sh)")
    if not shutil.which("redis-server"):
        unavailable("redis-server is not installed (scripts/ensure-servers.sh)")


def management(method: str, path: str, **kwargs: Any) -> requests.Response:
    response = requests.request(
        method, f"{MANAGEMENT}/api{path}", auth=MANAGEMENT_AUTH, timeout=10, **kwargs
    )
    response.raise_for_status()
    return response


def docker_run_args(
    deployment: dict[str, Any],
    objects: list[dict[str, Any]],
    name: str,
    hosts: list[str],
    files_dir: Path,
    workdir: Path,
) -> list[str]:
    """`docker run` of a Deployment's first container, as the kubelet would start it."""
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    context = {**(spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
    args = ["docker", "run", "--detach", "--name", name, "--network", "host"]
    args += ["--label", "taskyard.test=chart-against-images"]
    if context.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    args += ["--user", f"{context['runAsUser']}:{context.get('runAsGroup', context['runAsUser'])}"]
    if "ALL" in (context.get("capabilities") or {}).get("drop", []):
        args += ["--cap-drop", "ALL"]
    if context.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    for host in hosts:
        args += ["--add-host", f"{host}:127.0.0.1"]
    for key, value in chartlib.resolve_env(container, objects).items():
        args += ["--env", f"{key}={value}"]
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    secrets = {
        s["metadata"]["name"]: chartlib.secret_data(s) for s in chartlib.by_kind(objects, "Secret")
    }
    for mount in container.get("volumeMounts") or []:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            args += ["--tmpfs", mount["mountPath"]]
        elif "persistentVolumeClaim" in volume:
            args += ["--volume", f"{files_dir}:{mount['mountPath']}"]
        elif "secret" in volume:
            folder = workdir / f"{name}-{mount['name']}"
            folder.mkdir()
            data = secrets[volume["secret"]["secretName"]]
            for item in volume["secret"].get("items") or [{"key": k, "path": k} for k in data]:
                (folder / item["path"]).write_text(data[item["key"]])
            folder.chmod(0o755)
            for path in folder.iterdir():
                path.chmod(0o644)
            args += ["--volume", f"{folder}:{mount['mountPath']}:ro"]
        else:
            raise AssertionError(f"{name}: volume {volume} has no stand-in here")
    command = container.get("command") or []
    assert command, f"{name}: the chart must set the command explicitly"
    args += ["--entrypoint", command[0], container["image"], *command[1:]]
    args += container.get("args") or []
    return args


class ChartStack:
    def __init__(self) -> None:
        self.suffix = uuid.uuid4().hex[:8]
        self.workdir = Path(tempfile.mkdtemp(prefix="taskyard-chart-images-"))
        self.vhost = f"taskyard-chart-{self.suffix}"
        self.user = f"taskyard-chart-{self.suffix}"
        self.api_port = free_port()
        self.flower_port = free_port()
        self.redis_port = free_port()
        self.smtp_port = free_port()
        self.metrics_ports = {queue: free_port() for queue in QUEUE_NAMES}
        self.containers: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.vhost_created = False
        self.objects: list[dict[str, Any]] = []

    def values(self) -> dict[str, Any]:
        return {
            "rabbitmq": {"auth": {"username": self.user}, "vhost": self.vhost},
            "redis": {"service": {"port": self.redis_port}},
            "api": {"containerPort": self.api_port},
            "flower": {"containerPort": self.flower_port},
            "config": {
                "smtp": {"host": "127.0.0.1", "port": self.smtp_port},
                "retry": {"backoffBaseSeconds": 1, "backoffMaxSeconds": 4},
                "extra": {"TASKYARD_CACHE_TTL_SECONDS": "0.5"},
            },
            "workers": {
                "defaults": {"softShutdownTimeoutSeconds": 20},
                # Host networking: each worker's metrics port needs its own number.
                "overrides": {
                    queue: {"metrics": {"port": port}} for queue, port in self.metrics_ports.items()
                },
            },
        }

    def secret(self, name: str) -> dict[str, str]:
        return chartlib.secret_data(chartlib.named(self.objects, "Secret", name))

    def start(self, helm: str) -> None:
        self.objects = chartlib.helm_template(helm, self.values())
        rabbit = self.secret("taskyard-rabbitmq")
        redis_password = self.secret("taskyard-redis")["password"]

        # RabbitMQ: the rendered user and password, in a vhost of this run's own.
        management("PUT", f"/vhosts/{quote(self.vhost, safe='')}")
        self.vhost_created = True
        management(
            "PUT",
            f"/users/{self.user}",
            json={"password": rabbit["password"], "tags": "monitoring"},
        )
        management(
            "PUT",
            f"/permissions/{quote(self.vhost, safe='')}/{self.user}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )

        # Redis with the rendered password, on the port the render points at.
        redis_dir = self.workdir / "redis"
        redis_dir.mkdir()
        self.processes.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--requirepass",
                    redis_password,
                    "--appendonly",
                    "yes",
                    "--dir",
                    str(redis_dir),
                    "--save",
                    "",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        # An SMTP sink for the email workers.
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.smtp_port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

        files_dir = self.workdir / "files"
        files_dir.mkdir()
        files_dir.chmod(0o777)
        hosts = [s["metadata"]["name"] for s in chartlib.by_kind(self.objects, "Service")]
        for deployment in chartlib.by_kind(self.objects, "Deployment"):
            name = f"tyci-{self.suffix}-{deployment['metadata']['name']}"
            args = docker_run_args(deployment, self.objects, name, hosts, files_dir, self.workdir)
            self.containers.append(name)
            subprocess.run(args, check=True, capture_output=True, timeout=120)

    def queue_consumers(self) -> dict[str, int]:
        response = management("GET", f"/queues/{quote(self.vhost, safe='')}")
        return {q["name"]: int(q.get("consumers", 0)) for q in response.json()}

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        api = flower = workers = False
        while time.monotonic() < deadline:
            for name in self.containers:
                state = subprocess.run(
                    ["docker", "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name],
                    capture_output=True,
                    text=True,
                ).stdout.split()
                assert state and state[0] == "true", f"{name} stopped: exit {state}\n{self.logs()}"
            if not api:
                with contextlib.suppress(requests.RequestException):
                    api = (
                        requests.get(
                            f"http://127.0.0.1:{self.api_port}/readyz", timeout=3
                        ).status_code
                        == 200
                    )
            flower = flower or port_open(self.flower_port)
            if not workers:
                consumers = self.queue_consumers()
                workers = all(consumers.get(q, 0) >= 1 for q in QUEUE_NAMES)
            if api and flower and workers:
                return
            time.sleep(1)
        raise AssertionError(
            f"not ready in {READY_TIMEOUT_SECONDS}s: api={api} flower={flower} "
            f"workers={workers}\n{self.logs()}"
        )

    def logs(self, lines: int = 60) -> str:
        out = []
        for name in self.containers:
            result = subprocess.run(
                ["docker", "logs", "--tail", str(lines), name], capture_output=True, text=True
            )
            out.append(f"===== {name} =====\n{result.stdout}{result.stderr}")
        return "\n".join(out)

    def stop(self) -> None:
        if self.containers:
            subprocess.run(
                ["docker", "stop", "--time", str(STOP_TIMEOUT_SECONDS), *self.containers],
                capture_output=True,
            )
            subprocess.run(["docker", "rm", "--force", *self.containers], capture_output=True)
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.vhost_created:
            for path in (f"/vhosts/{quote(self.vhost, safe='')}", f"/users/{self.user}"):
                with contextlib.suppress(requests.RequestException):
                    management("DELETE", path)
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def chart_stack(helm: str) -> Iterator[ChartStack]:
    require_docker_and_images()
    require_host_servers()
    stack = ChartStack()
    try:
        stack.start(helm)
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


def test_flower_runs_with_basic_auth_from_the_secret(chart_stack: ChartStack):
    url = f"http://127.0.0.1:{chart_stack.flower_port}/"
    assert requests.get(url, timeout=10).status_code == 401
    user, _, password = chart_stack.secret("taskyard-flower")["basic-auth"].partition(":")
    assert requests.get(url, auth=(user, password), timeout=10).status_code == 200


def test_metrics_endpoints_answer(chart_stack: ChartStack):
    """Each worker serves Prometheus text on its metrics port (TASKYARD_WORKER_METRICS_*
    from the render); Flower's /metrics answers with the ServiceMonitor's credentials."""
    for queue, port in chart_stack.metrics_ports.items():
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert response.status_code == 200, queue
        assert response.headers["Content-Type"].startswith("text/plain"), queue
    flower = chart_stack.secret("taskyard-flower")
    response = requests.get(
        f"http://127.0.0.1:{chart_stack.flower_port}/metrics",
        auth=(flower["username"], flower["password"]),
        timeout=10,
    )
    assert response.status_code == 200
    assert "flower_" in response.text


def test_api_requires_the_generated_key(chart_stack: ChartStack):
    url = f"http://127.0.0.1:{chart_stack.api_port}/api/tasks"
    assert requests.get(url, timeout=10).status_code == 401
    key = chart_stack.secret("taskyard-api-keys")["api-keys"]
    response = requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200


def test_helm_test_script_passes(chart_stack: ChartStack, tmp_path: Path):
    """The `helm test` Pod's script, run against the stack from the host."""
    keys = tmp_path / "api-keys"
    keys.write_text(chart_stack.secret("taskyard-api-keys")["api-keys"])
    result = subprocess.run(
        [sys.executable, str(chartlib.CHART_DIR / "files" / "smoke_test.py")],
        env={
            **os.environ,
            "TASKYARD_TEST_API_URL": f"http://127.0.0.1:{chart_stack.api_port}",
            "TASKYARD_TEST_API_KEYS_FILE": str(keys),
            "TASKYARD_TEST_TIMEOUT_SECONDS": "120",
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr + chart_stack.logs()


def test_e2e_suite_passes(chart_stack: ChartStack):
    flower_auth = chart_stack.secret("taskyard-flower")["basic-auth"]
    env = {
        **os.environ,
        "TASKYARD_E2E_BASE_URL": f"http://127.0.0.1:{chart_stack.api_port}",
        "TASKYARD_E2E_API_KEY": chart_stack.secret("taskyard-api-keys")["api-keys"],
        "TASKYARD_E2E_FLOWER_URL": f"http://127.0.0.1:{chart_stack.flower_port}",
        "TASKYARD_E2E_FLOWER_BASIC_AUTH": flower_auth,
        "TASKYARD_E2E_SMTP_PORT": str(chart_stack.smtp_port),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider"],
        cwd=chartlib.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, f"tests/e2e failed:\n{tail}\n{result.stderr[-3000:]}\n" + (
        chart_stack.logs()
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed", summary), summary
