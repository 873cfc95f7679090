"""The chart's liveness probe, run against a real worker: it passes while the consumer loop
beats, also while the pool runs a long task, and fails once the loop hangs (SIGSTOP of the
worker's main process) within the heartbeat age the probe allows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chart import chartlib

from support.client import FINAL_STATUSES, ApiClient
from support.polling import eventually
from support.slow_data import slow_task, upload_slow_input
from support.stack import Stack, running_stack

pytestmark = pytest.mark.integration

QUEUE = "data.normal"
INTERVAL_SECONDS = 1
MAX_AGE_SECONDS = 3


def _helm() -> str:
    found = shutil.which("helm")
    if found:
        return found
    folder = subprocess.run(
        [str(chartlib.REPO_ROOT / "scripts" / "ensure-helm.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout.split()[-1]
    return str(Path(folder) / "helm")


@pytest.fixture(scope="module")
def probe_command() -> list[str]:
    """The liveness command the chart renders for a worker, with a short heartbeat age."""
    values = {
        "workers": {"defaults": {"livenessProbe": {"maxHeartbeatAgeSeconds": MAX_AGE_SECONDS}}}
    }
    objects = chartlib.helm_template(_helm(), values)
    deployment = chartlib.named(objects, "Deployment", f"{chartlib.RELEASE}-data-worker-normal")
    command: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"][
        "exec"
    ]["command"]
    return command


@pytest.fixture(scope="module")
def beating_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    heartbeat = tmp_path_factory.mktemp("heartbeat") / "worker" / "heartbeat"
    env = {
        "TASKYARD_WORKER_HEARTBEAT_PATH": str(heartbeat),
        "TASKYARD_WORKER_HEARTBEAT_INTERVAL_SECONDS": str(INTERVAL_SECONDS),
    }
    with running_stack("liveness", env, queues=[QUEUE]) as stack:
        yield stack


def _probe(stack: Stack, command: list[str]) -> int:
    env = {**os.environ, **stack.env}
    return subprocess.run(command, env=env, check=False, timeout=10).returncode


def test_a_consuming_worker_is_alive(beating_stack: Stack, probe_command: list[str]) -> None:
    def alive() -> None:
        assert _probe(beating_stack, probe_command) == 0

    eventually(alive, timeout_seconds=30)
    # Past the allowed age the worker still passes: the loop keeps beating.
    time.sleep(MAX_AGE_SECONDS + 1)
    assert _probe(beating_stack, probe_command) == 0


def test_a_busy_pool_does_not_stop_the_heartbeat(
    beating_stack: Stack, probe_command: list[str]
) -> None:
    """Two pipelines of seconds of native work keep the pool process busy for several
    heartbeat ages; the consumer loop beats on."""
    api = ApiClient(beating_stack.base_url)
    file_id = upload_slow_input(api)
    tasks = [api.submit(slow_task(file_id))["id"] for _ in range(2)]
    api.wait_for(tasks[0], {"PROCESSING"}, timeout_seconds=30)
    busy_since = time.monotonic()
    while api.task(tasks[-1])["status"] not in FINAL_STATUSES:
        assert _probe(beating_stack, probe_command) == 0
        time.sleep(0.5)
    busy_seconds = time.monotonic() - busy_since
    print(f"\n[liveness] probe passed throughout {busy_seconds:.1f} s of a busy pool")
    assert busy_seconds > MAX_AGE_SECONDS + INTERVAL_SECONDS, busy_seconds
    assert [api.task(t)["status"] for t in tasks] == ["SUCCESS", "SUCCESS"]


def test_a_hung_consumer_loop_fails_the_probe(
    beating_stack: Stack, probe_command: list[str]
) -> None:
    worker = beating_stack.workers[QUEUE]
    eventually(lambda: _check(_probe(beating_stack, probe_command) == 0), timeout_seconds=30)
    stopped_at = time.monotonic()
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        eventually(
            lambda: _check(_probe(beating_stack, probe_command) != 0),
            timeout_seconds=MAX_AGE_SECONDS + 2 * INTERVAL_SECONDS + 2,
        )
        failed_after = time.monotonic() - stopped_at
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    print(
        f"\n[liveness] probe failed {failed_after:.1f} s after SIGSTOP"
        f" (max age {MAX_AGE_SECONDS} s)"
    )
    assert failed_after <= MAX_AGE_SECONDS + 2 * INTERVAL_SECONDS + 2
    # The loop runs again: so does the heartbeat.
    eventually(lambda: _check(_probe(beating_stack, probe_command) == 0), timeout_seconds=15)


def _check(condition: bool) -> None:
    assert condition
