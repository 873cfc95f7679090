"""The emulated cluster with the chart installed, shared by the cluster tests (one per
session: starting it costs a minute on two cores). Needs Docker, debootstrap and root;
without them the tests skip, and fail when CI is set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))

from aiosmtpd.controller import Controller
from kubesim import images, log, render
from kubesim.cluster import Cluster
from kubesim.keda import Keda
from kubesim.pods import Pod

from support.smtp import CatchingHandler

NAMESPACE = render.NAMESPACE
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


@dataclass
class Stack:
    cluster: Cluster
    keda: Keda
    objects: list[dict[str, Any]]
    helm: str
    values: dict[str, Any]
    smtp: CatchingHandler

    def component_service(self, component: str) -> dict[str, Any]:
        for service in self.cluster.of_kind("Service", NAMESPACE):
            labels = service["metadata"].get("labels") or {}
            if (
                labels.get("app.kubernetes.io/component") == component
                and service["spec"].get("clusterIP") != "None"
            ):
                return service
        raise KeyError(f"no Service of component {component}")

    def url(self, component: str) -> str:
        service = self.component_service(component)
        address = self.cluster.service_address(NAMESPACE, service["metadata"]["name"])
        return f"http://{address}:{service['spec']['ports'][0]['port']}"

    def deployments(self, component: str) -> list[dict[str, Any]]:
        return [
            d
            for d in self.cluster.of_kind("Deployment", NAMESPACE)
            if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == component
        ]

    def file_in_pod(self, deployment: dict[str, Any], path: str) -> str:
        """The content a Secret or ConfigMap volume puts at `path` in a Deployment's pods."""
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        for mount in spec["containers"][0].get("volumeMounts") or []:
            folder = mount["mountPath"].rstrip("/") + "/"
            if not path.startswith(folder):
                continue
            volume = volumes[mount["name"]]
            relative = path[len(folder) :]
            source = volume.get("secret") or volume.get("configMap") or {}
            key = next(
                (i["key"] for i in source.get("items") or [] if i["path"] == relative), relative
            )
            if "secret" in volume:
                return self.cluster.secret(NAMESPACE, source["secretName"])[key].decode()  # type: ignore[index]
            return self.cluster.configmap(NAMESPACE, source["name"])[key]  # type: ignore[index]
        raise KeyError(path)

    def api_key(self) -> str:
        api = self.deployments("api")[0]
        env = {
            e["name"]: e.get("value")
            for e in api["spec"]["template"]["spec"]["containers"][0].get("env") or []
        }
        keys = self.file_in_pod(api, str(env["TASKYARD_API_KEYS_FILE"]))
        return next(line.strip() for line in keys.splitlines() if line.strip())

    def worker(self, queue: str) -> dict[str, Any]:
        for deployment in self.deployments("worker"):
            if (
                deployment["spec"]["template"]["metadata"]["labels"].get("taskyard.io/queue")
                == queue
            ):
                return deployment
        raise KeyError(queue)

    def worker_pods(self, queue: str) -> list[Pod]:
        return self.cluster.pods_of("Deployment", NAMESPACE, self.worker(queue)["metadata"]["name"])


@pytest.fixture(scope="session")
def helm() -> str:
    return render.helm_path()


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
    values = render.merge(
        TEST_VALUES, {"config": {"smtp": {"host": cluster.network.gateway, "port": 2525}}}
    )
    try:
        objects = render.template(helm, values)
        cluster.apply(objects, NAMESPACE)
        cluster.wait(lambda: cluster.all_ready(NAMESPACE), READY_TIMEOUT_SECONDS, "every pod Ready")
        log("every pod Ready")
        yield Stack(cluster, keda, objects, helm, values, smtp)
    except BaseException:
        log(cluster.status() + "\n" + cluster.logs())
        raise
    finally:
        keda.close()
        mail.stop()
        cluster.close()
