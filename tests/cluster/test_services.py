"""What the rendered Secrets and ports give: Flower behind basic auth from its Secret, the
API behind the generated key, every worker's metrics port answering Prometheus text."""

from __future__ import annotations

import pytest
import requests
from kubesim.stack import NAMESPACE, Stack

pytestmark = pytest.mark.cluster


def env_value(stack: Stack, deployment: dict, name: str) -> str:
    """One variable of a Deployment's first container, as its pods get it."""
    for var in deployment["spec"]["template"]["spec"]["containers"][0].get("env") or []:
        if var["name"] != name:
            continue
        if "value" in var:
            return str(var["value"])
        ref = var["valueFrom"]["secretKeyRef"]
        secret = stack.cluster.secret(NAMESPACE, ref["name"])
        assert secret is not None, ref
        return secret[ref["key"]].decode()
    raise KeyError(name)


def test_flower_answers_only_with_the_basic_auth_of_its_secret(stack: Stack):
    flower = stack.deployments("flower")[0]
    user, _, password = env_value(stack, flower, "TASKYARD_FLOWER_BASIC_AUTH").partition(":")
    url = stack.url("flower") + "/"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=(user, password), timeout=10).status_code == 200


def test_the_api_requires_the_generated_key(stack: Stack):
    url = stack.url("api") + "/api/tasks"
    assert requests.get(url, timeout=10).status_code == 401
    headers = {"Authorization": f"Bearer {stack.api_key()}"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200


def test_every_worker_pod_serves_metrics_on_its_metrics_port(stack: Stack):
    checked = 0
    for deployment in stack.deployments("worker"):
        for pod in stack.cluster.pods_of("Deployment", NAMESPACE, deployment["metadata"]["name"]):
            if not pod.ready:
                continue
            response = requests.get(
                f"http://{pod.ip}:{pod.port_number('metrics')}/metrics", timeout=10
            )
            assert response.status_code == 200, pod.name
            assert response.headers["Content-Type"].startswith("text/plain"), pod.name
            checked += 1
    assert checked, "no worker pod was Ready"
