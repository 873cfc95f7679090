"""The kubelet's part, on a Deployment and Service of the emulation's own image: readiness
decides whether the Service routes to the pod, a failing liveness probe restarts the
container (the emptyDir survives it), and the security context reaches the process."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests
from kubesim import images
from kubesim.stack import Stack

pytestmark = pytest.mark.cluster
NAMESPACE = "kubesim-checks"
NAME = "probed"
LABELS = {"app": NAME}


def manifests() -> list[dict]:
    container = {
        "name": "web",
        "image": images.SYSTEM.tag,
        "command": ["sh", "-c", "touch /work/alive && exec python3 -m http.server -d /work 8080"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http"},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
        "livenessProbe": {
            "exec": {"command": ["test", "-f", "/work/alive"]},
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"limits": {"memory": "64Mi"}},
        "volumeMounts": [{"name": "work", "mountPath": "/work"}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "securityContext": {
                        "runAsUser": 65534,
                        "runAsGroup": 65534,
                        "fsGroup": 2000,
                        "runAsNonRoot": True,
                    },
                    "terminationGracePeriodSeconds": 2,
                    "containers": [container],
                    "volumes": [{"name": "work", "emptyDir": {"sizeLimit": "1Mi"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME},
        "spec": {"selector": LABELS, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return [deployment, service]


def served(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def exec_in(container: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", container, *command], capture_output=True, text=True, timeout=30
    )


def test_probes_service_routing_restarts_and_security_context(stack: Stack):
    cluster = stack.cluster
    cluster.apply(manifests(), NAMESPACE)
    cluster.wait(lambda: bool(cluster.pods_of("Deployment", NAMESPACE, NAME)), 30, "the pod")
    pod = cluster.pods_of("Deployment", NAMESPACE, NAME)[0]
    cluster.wait(lambda: pod.phase == "Running", 60, "the pod to run")
    url = f"http://{cluster.service_address(NAMESPACE, NAME)}/ready"
    container = pod.containers[0].docker_name

    # Not Ready (no /work/ready yet): the Service has no endpoint and refuses.
    time.sleep(3)
    assert not pod.ready and not served(url)
    assert exec_in(container, "touch", "/work/ready").returncode == 0
    cluster.wait(lambda: pod.ready and served(url), 30, "Ready and routed")

    # Security context as the kubelet applies it.
    identity = exec_in(
        container, "sh", "-c", "id -u; id -G; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"
    )
    lines = identity.stdout.split()
    assert lines[0] == "65534" and "2000" in lines[1:3], identity.stdout
    assert "0000000000000000" in identity.stdout and "NoNewPrivs:\t1" in identity.stdout.replace(
        " ", "\t"
    )
    assert exec_in(container, "touch", "/tmp/rootfs-write").returncode != 0  # /tmp: 1777
    assert exec_in(container, "stat", "-c", "%g", "/work").stdout.strip() == "2000"
    memory = subprocess.run(
        ["docker", "inspect", "-f", "{{.HostConfig.Memory}}", container],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert memory == str(64 * 2**20)

    # Liveness fails: the container restarts, the emptyDir keeps /work/ready, Ready again.
    assert exec_in(container, "rm", "/work/alive").returncode == 0
    cluster.wait(lambda: pod.restarts >= 1, 60, "the liveness restart")
    cluster.wait(lambda: pod.ready and served(url), 60, "Ready again after the restart")
