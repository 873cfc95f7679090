"""Memory the kind cluster of `make kind-up` needs with every worker scaled out.

Renders the chart as kind-up installs it (deploy/kind/values.yaml, KEDA's API served) and
sums the memory requests and limits of every pod at its most replicas: a worker
Deployment at its ScaledObject's maxReplicaCount, the rest at their replicas. KEDA's own
pods and kind's system pods are added from their published requests. Docker (Docker
Desktop's VM on macOS) must hold at least the requests, or pods stay Pending; the limits
are the worst case.

    uv run --locked python scripts/kind_memory.py [helm]   (make kind-memory)
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "taskyard"
KIND_VALUES = ROOT / "deploy" / "kind" / "values.yaml"
MIB = 2**20
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}
# KEDA 2.20's release manifest: operator, metrics API server and admission webhooks each
# request 100Mi and are limited to 1000Mi (keda.sh/docs/2.20/operate/cluster).
KEDA_PODS = {"requests": 3 * 100 * MIB, "limits": 3 * 1000 * MIB}
# kind's kube-system pods that declare memory: etcd 100Mi, two CoreDNS 70Mi (limit 170Mi),
# kindnet 50Mi (limit 50Mi). The API server, controller manager, scheduler, kubelet and
# containerd declare none but use about 1 GiB together on an idle one-node cluster.
SYSTEM_PODS = {"requests": (100 + 2 * 70 + 50) * MIB, "limits": (2 * 170 + 50) * MIB}
CONTROL_PLANE_UNDECLARED = 1024 * MIB


def quantity_bytes(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    text = str(value)
    for unit in sorted(UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * UNITS[unit])
    return int(float(text))


def pod_memory(spec: dict[str, Any], kind: str) -> int:
    """A pod's effective memory `kind` (requests or limits): the larger of its containers'
    sum and its largest init container, as the scheduler counts it."""

    def of(container: dict[str, Any]) -> int:
        resources = container.get("resources") or {}
        return quantity_bytes((resources.get(kind) or {}).get("memory", 0))

    containers = sum(of(c) for c in spec["containers"])
    init = max((of(c) for c in spec.get("initContainers") or []), default=0)
    return max(containers, init)


def scale_out(objects: list[dict[str, Any]]) -> list[tuple[str, int, int, int]]:
    """(kind/name, replicas, request bytes, limit bytes per pod) at full scale-out."""
    most = {
        o["spec"]["scaleTargetRef"]["name"]: int(o["spec"]["maxReplicaCount"])
        for o in objects
        if o["kind"] == "ScaledObject"
    }
    rows = []
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        name = obj["metadata"]["name"]
        replicas = most.get(name, int(obj["spec"].get("replicas", 1)))
        spec = obj["spec"]["template"]["spec"]
        rows.append(
            (
                f"{obj['kind']}/{name}",
                replicas,
                pod_memory(spec, "requests"),
                pod_memory(spec, "limits"),
            )
        )
    return rows


def totals(objects: list[dict[str, Any]]) -> dict[str, int]:
    rows = scale_out(objects)
    taskyard_requests = sum(replicas * request for _, replicas, request, _ in rows)
    taskyard_limits = sum(replicas * limit for _, replicas, _, limit in rows)
    requests = taskyard_requests + KEDA_PODS["requests"] + SYSTEM_PODS["requests"]
    limits = taskyard_limits + KEDA_PODS["limits"] + SYSTEM_PODS["limits"]
    return {
        "pods": sum(replicas for _, replicas, _, _ in rows),
        "taskyard_requests": taskyard_requests,
        "taskyard_limits": taskyard_limits,
        "requests": requests,
        "limits": limits,
        # What Docker needs: the requests the scheduler must place, plus what the control
        # plane uses without declaring it, rounded up to whole GiB.
        "docker_gib": math.ceil((requests + CONTROL_PLANE_UNDECLARED) / 2**30),
    }


def render(helm: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as cache:
        result = subprocess.run(
            [
                helm, "template", "taskyard", str(CHART), "--namespace", "taskyard",
                "--values", str(KIND_VALUES), "--api-versions", "keda.sh/v1alpha1/ScaledObject",
            ],
            capture_output=True, text=True, check=True, env={"HELM_CACHE_HOME": cache, "PATH": ""},
        )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def main() -> None:
    helm = sys.argv[1] if len(sys.argv) > 1 else shutil.which("helm")
    if not helm:
        sys.exit('helm is needed: PATH="$(scripts/ensure-helm.sh):$PATH"')
    objects = render(helm)
    for name, replicas, request, limit in scale_out(objects):
        print(
            f"{name:45} x{replicas:<3} {request / MIB:6.0f}Mi requested {limit / MIB:6.0f}Mi limit"
        )
    figures = totals(objects)
    print(f"Taskyard at full scale-out: {figures['pods']} pods, "
          f"{figures['taskyard_requests'] / 2**30:.1f} GiB requested, "
          f"{figures['taskyard_limits'] / 2**30:.1f} GiB limits")  # fmt: skip
    print(f"with KEDA and kind's system pods: {figures['requests'] / 2**30:.1f} GiB requested, "
          f"{figures['limits'] / 2**30:.1f} GiB limits")  # fmt: skip
    print(f"Docker needs at least {figures['docker_gib']} GiB of memory")


if __name__ == "__main__":
    main()
