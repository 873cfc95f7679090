"""`helm upgrade` with a changed value rolls the pods it affects, only those, and keeps
the generated Secrets (helm's lookup against the emulation's Secrets)."""

from __future__ import annotations

import pytest
from kubesim import render
from kubesim.stack import NAMESPACE, Stack

pytestmark = pytest.mark.cluster
CHANGED_QUEUE = "file.high"


def test_upgrade_rolls_only_the_changed_deployment_and_keeps_secrets(stack: Stack):
    cluster = stack.cluster
    secrets = {
        s["metadata"]["name"]: render.secret_data(s)
        for s in cluster.of_kind("Secret", NAMESPACE)
        if not s["metadata"]["name"].startswith("kubesim-")
    }
    workloads = {k: w for k, w in cluster.workloads.items() if k[1] == NAMESPACE}
    hashes_before = {key: w.hash for key, w in workloads.items()}
    pods_before = {key: {p.name for p in w.live()} for key, w in workloads.items()}
    values = render.merge(
        stack.values, {"workers": {"overrides": {CHANGED_QUEUE: {"concurrency": 2}}}}
    )
    upgraded = render.template_keeping_secrets(stack.helm, values, secrets)

    changed = ("Deployment", NAMESPACE, stack.worker(CHANGED_QUEUE)["metadata"]["name"])
    cluster.apply(upgraded, NAMESPACE)
    cluster.wait(lambda: cluster.all_ready(NAMESPACE), 300, "the rollout")
    cluster.wait(
        lambda: not any(p.deleting for w in workloads.values() for p in w.pods),
        120,
        "the old pods to terminate",
    )

    new_templates = {key for key, w in workloads.items() if w.hash != hashes_before[key]}
    assert new_templates == {changed}, f"pod templates changed: {new_templates}"
    rolled = workloads[changed]
    assert rolled.live() and not pods_before[changed] & {p.name for p in rolled.live()}
    assert not cluster.termination_problems(f"Deployment/{changed[2]}")
    # Pods not scaled by KEDA keep running untouched (KEDA may scale the others meanwhile).
    for key, workload in workloads.items():
        if key != changed and not cluster.scaled_by_keda(NAMESPACE, key[2]):
            assert {p.name for p in workload.live()} == pods_before[key], key
    for name, data in secrets.items():
        assert render.secret_data(cluster.get("Secret", NAMESPACE, name)) == data, name
