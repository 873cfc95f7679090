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
    before = {
        key: sorted(p.name for p in w.live())
        for key, w in cluster.workloads.items()
        if key[1] == NAMESPACE
    }
    values = render.merge(
        stack.values, {"workers": {"overrides": {CHANGED_QUEUE: {"concurrency": 2}}}}
    )
    upgraded = render.template_keeping_secrets(stack.helm, values, secrets)

    changed_name = stack.worker(CHANGED_QUEUE)["metadata"]["name"]
    cluster.apply(upgraded, NAMESPACE)
    cluster.wait(lambda: cluster.all_ready(NAMESPACE), 300, "the rollout")
    cluster.wait(
        lambda: not any(p.deleting for w in cluster.workloads.values() for p in w.pods),
        120,
        "the old pods to terminate",
    )

    after = {
        key: sorted(p.name for p in w.live())
        for key, w in cluster.workloads.items()
        if key[1] == NAMESPACE
    }
    rolled = {key[2] for key in before if before[key] != after[key] and before[key]}
    assert rolled == {changed_name}, f"rolled: {rolled}"
    assert not cluster.stopped_by_kill(f"Deployment/{changed_name}"), "SIGTERM did not stop it"
    for name, data in secrets.items():
        assert render.secret_data(cluster.get("Secret", NAMESPACE, name)) == data, name
