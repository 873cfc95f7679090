"""What the rendered Secrets and ports give: Flower behind basic auth from its Secret, the
API behind the generated key, every worker's metrics port answering Prometheus text."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from kubesim.stack import NAMESPACE, Stack

from taskyard_api.paths import LIVENESS_PATH

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
        if "taskyard.io/task-type" not in deployment["metadata"]["labels"]:
            continue  # the callback worker serves no metrics
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


def test_an_api_pod_deleted_runs_its_pre_stop_hook_while_the_service_keeps_answering(
    stack: Stack,
):
    api = stack.deployments("api")[0]
    name = api["metadata"]["name"]
    pods = stack.cluster.pods_of("Deployment", NAMESPACE, name)
    if len(pods) < 2:
        pytest.skip("one API replica: the Service cannot stay up while it is replaced")
    url = stack.url("api") + LIVENESS_PATH
    errors: list[str] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                status = requests.get(url, timeout=5).status_code
                if status != 200:
                    errors.append(str(status))
            except requests.RequestException as error:
                errors.append(repr(error))
            time.sleep(0.2)

    asking = threading.Thread(target=keep_asking, daemon=True)
    asking.start()
    victim = pods[0]
    victim.delete()
    stack.cluster.wait(lambda: victim.phase == "Terminated", 180, "the API pod to terminate")
    stack.cluster.wait(
        lambda: stack.cluster.all_ready(NAMESPACE), 180, "the replacement API pod Ready"
    )
    stop.set()
    asking.join(timeout=10)
    failed = [
        c.spec["name"] for c in victim.containers if c.pre_stop_error or c.stop_exit_code == 137
    ]
    assert not failed, [(c.pre_stop_error, c.stop_exit_code) for c in victim.containers]
    assert not errors, f"the API Service failed {len(errors)} requests: {errors[:5]}"
