"""The emulated cluster with the chart installed, shared by the cluster tests (one per
session: starting it costs a minute on two cores). Needs Docker, debootstrap and root;
without them the tests skip, and fail when CI is set."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))

from aiosmtpd.controller import Controller
from kubesim import images, log, render
from kubesim.cluster import Cluster
from kubesim.keda import Keda
from kubesim.stack import NAMESPACE, Stack

from support.callback_receiver import running_receiver
from support.smtp import CatchingHandler

READY_TIMEOUT_SECONDS = 420

# Only what must differ from the chart's defaults on a two-core test machine.
TEST_VALUES: dict[str, Any] = {
    # KEDA at test pace: poll every 2 s, zero after 15 s idle, scale down every few seconds.
    "keda": {
        "pollingInterval": 2,
        "cooldownPeriod": 15,
        "scaleDownStabilizationWindowSeconds": 6,
        "scaleDownPeriodSeconds": 3,
    },
    "workers": {
        # an idle worker told to stop leaves within 5 s, not 30
        "defaults": {"softShutdownTimeoutSeconds": 5},
        # at most 3 pods of a low queue on two cores
        "priorities": {"low": {"keda": {"maxReplicaCount": 3}}},
    },
    # tests/e2e waits for retries and reads fresh listings; the tests poll hundreds of
    # tasks with one key, above the chart's per-key rate limit
    # The RabbitMQ stand-in is Debian trixie's 4.0: the chart keys version-dependent settings
    # (the quorum-queue WAL key) by this tag, so it must name the version that runs.
    "rabbitmq": {"image": {"tag": "4.0-management"}},
    "config": {
        "rateLimit": "100000/minute",
        "retry": {"backoffBaseSeconds": 1, "backoffMaxSeconds": 4},
        "extra": {"TASKYARD_CACHE_TTL_SECONDS": "0.5"},
    },
}


def unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI is set: the cluster tests must run")
    pytest.skip(message)


def require_host() -> None:
    if os.geteuid() != 0:
        unavailable("the cluster emulation needs root (debootstrap, tmpfs mounts, ClusterIPs)")
    if not shutil.which("docker"):
        unavailable("docker is not installed")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        unavailable("no Docker engine answers (scripts/ensure-docker.sh starts one)")
    if not shutil.which("debootstrap"):
        unavailable("debootstrap is not installed")


@pytest.fixture(scope="session")
def helm() -> str:
    return render.helm_path()


def ready_or_unschedulable(cluster: Cluster) -> bool:
    """Every pod of the release Ready; fails at once on a pod that can never be scheduled
    (its claim is Pending: this StorageClass decides binding when the claim is created)."""
    stuck = [
        p for p in cluster.all_pods() if p.namespace == NAMESPACE and "Unschedulable" in p.reason
    ]
    if stuck:
        raise AssertionError(f"pod {stuck[0].name} is Pending: {stuck[0].reason}")
    return cluster.all_ready(NAMESPACE)


@pytest.fixture(scope="session")
def stack(helm: str, request: pytest.FixtureRequest) -> Iterator[Stack]:
    require_host()
    images.build_taskyard_images()
    images.build_stand_ins()
    cluster = Cluster()
    keda = Keda(cluster, NAMESPACE)
    # An SMTP sink outside the cluster, at the pod network's gateway (the host).
    smtp = CatchingHandler()
    mail = Controller(smtp, hostname=cluster.network.gateway, port=2525)
    mail.start()
    # A callback receiver there too, allowed by name (the gateway's address is private);
    # its secret is the one the chart generates, known once the chart is applied.
    closing = contextlib.ExitStack()
    receiver = closing.enter_context(
        running_receiver(
            bind_host=cluster.network.gateway, url_host=cluster.network.gateway, secret=""
        )
    )
    values = render.merge(
        TEST_VALUES,
        {
            "config": {"smtp": {"host": cluster.network.gateway, "port": 2525}},
            "callbacks": {"allowedHosts": [cluster.network.gateway]},
        },
    )
    try:
        objects = render.template(helm, values)
        cluster.apply(objects, NAMESPACE)
        cluster.wait(
            lambda: ready_or_unschedulable(cluster), READY_TIMEOUT_SECONDS, "every pod Ready"
        )
        log("every pod Ready")
        signing = cluster.secret(NAMESPACE, f"{render.RELEASE}-callbacks")["signingSecret"]  # type: ignore[index]
        receiver.secret = signing.decode()
        yield Stack(cluster, keda, objects, helm, values, smtp, receiver)
    except BaseException:
        log(cluster.status() + "\n" + cluster.logs())
        raise
    finally:
        keda.close()
        mail.stop()
        closing.close()
        cluster.close()
