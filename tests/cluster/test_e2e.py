"""tests/e2e and the chart's `helm test` pod, through the emulated cluster: the API is
reached at its Service's ClusterIP, as a pod (or a port-forward) reaches it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from kubesim import REPO_ROOT
from kubesim.stack import NAMESPACE, Stack

pytestmark = pytest.mark.cluster


def test_e2e_suite_passes_against_the_api_service(stack: Stack):
    env = {
        **os.environ,
        "TASKYARD_E2E_BASE_URL": stack.url("api"),
        "TASKYARD_E2E_API_KEY": stack.api_key(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, (
        f"tests/e2e failed:\n{tail}\n{result.stderr[-3000:]}\n{stack.cluster.logs()}"
    )
    assert re.search(r"\b\d+ passed", result.stdout.strip().splitlines()[-1])


def test_helm_test_pod_succeeds(stack: Stack):
    hooks = stack.cluster.test_hooks(NAMESPACE)
    assert hooks, "the chart renders no `helm test` pod"
    for hook in hooks:
        pod = stack.cluster.run_pod(hook, NAMESPACE, timeout=240)
        assert pod.phase == "Succeeded", pod.logs()
