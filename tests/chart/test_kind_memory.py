"""scripts/kind_memory.py: the memory figure of the kind cluster, and the docs that quote it."""

from __future__ import annotations

import importlib.util
import re

import chartlib

MIB = 2**20
spec = importlib.util.spec_from_file_location(
    "kind_memory", chartlib.REPO_ROOT / "scripts" / "kind_memory.py"
)
assert spec and spec.loader
kind_memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kind_memory)


def test_scale_out_counts_workers_at_max_replicas(helm):
    rows = {
        name: (replicas, request)
        for name, replicas, request, _ in kind_memory.scale_out(kind_memory.render(helm))
    }
    # deploy/kind/values.yaml: every worker at most 3 replicas, 96Mi each; one API, one Flower
    workers = {name: row for name, row in rows.items() if "-worker-" in name}
    assert len(workers) == 9
    assert set(workers.values()) == {(3, 96 * MIB)}
    assert rows["Deployment/taskyard-callback-worker"] == (1, 96 * MIB)
    assert rows["Deployment/taskyard-api"] == (1, 128 * MIB)
    assert rows["Deployment/taskyard-flower"] == (1, 64 * MIB)
    # RabbitMQ: its container's 256Mi outweighs its init containers
    assert rows["StatefulSet/taskyard-rabbitmq"] == (1, 256 * MIB)
    assert rows["StatefulSet/taskyard-redis"] == (1, 64 * MIB)


def test_totals(helm):
    figures = kind_memory.totals(kind_memory.render(helm))
    # Nine task worker Deployments at 3 replicas, one callback worker, API, Flower, RabbitMQ, Valkey
    assert figures["pods"] == 9 * 3 + 1 + 4
    assert figures["taskyard_requests"] == (28 * 96 + 128 + 64 + 256 + 64) * MIB
    assert figures["docker_gib"] == 5


def test_pod_memory_counts_the_larger_of_containers_and_init():
    spec = {
        "containers": [{"resources": {"requests": {"memory": "100Mi"}}}, {"resources": {}}],
        "initContainers": [{"resources": {"requests": {"memory": "300Mi"}}}],
    }
    assert kind_memory.pod_memory(spec, "requests") == 300 * MIB
    assert kind_memory.quantity_bytes("1G") == 10**9
    assert kind_memory.quantity_bytes("1.5Gi") == 3 * 2**29


def test_docs_quote_the_figure(helm):
    figures = kind_memory.totals(kind_memory.render(helm))
    docs = (chartlib.REPO_ROOT / "docs" / "production.md").read_text()
    assert f"at least {figures['docker_gib']} GiB" in docs
    requested = f"{figures['requests'] / 2**30:.1f} GiB"
    assert re.search(re.escape(requested) + r"\s+requested", docs), requested
