"""The cluster: the objects applied, the Deployment and StatefulSet controllers, the
Services (ClusterIP proxies and DNS records of Ready endpoints) and the kubelet's pods.

Only the release name and namespace are given; everything else is read from the
manifests applied, so the harness follows whatever the chart renders.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import images, log
from .dns import ClusterDNS
from .network import PodNetwork, ServiceProxy
from .pods import Pod, secret_bytes
from .storage import Storage

CLUSTER_DOMAIN = "cluster.local"
HOOK = "helm.sh/hook"


def template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def rolling_bounds(spec: dict[str, Any], desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a Deployment, defaults 25% / 25%."""
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}

    def amount(value: Any, default: str, round_up: bool) -> int:
        value = default if value is None else value
        if isinstance(value, str) and value.endswith("%"):
            exact = desired * int(value[:-1]) / 100
            return math.ceil(exact) if round_up else math.floor(exact)
        return int(value)

    surge = amount(rolling.get("maxSurge"), "25%", True)
    unavailable = amount(rolling.get("maxUnavailable"), "25%", False)
    if surge == 0 and unavailable == 0:
        surge = 1
    return surge, unavailable


@dataclass
class Workload:
    kind: str
    namespace: str
    obj: dict[str, Any]
    replicas: int
    pods: list[Pod] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def template(self) -> dict[str, Any]:
        return dict(self.obj["spec"]["template"])

    @property
    def hash(self) -> str:
        return template_hash(self.template)

    def live(self) -> list[Pod]:
        return [p for p in self.pods if not p.deleting]

    def ready(self) -> int:
        return sum(1 for p in self.live() if p.ready and p.template_hash == self.hash)


class Cluster:
    def __init__(self, prefix: str | None = None):
        self.prefix = prefix or f"kubesim-{secrets.token_hex(3)}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.storage = Storage(self.prefix)
        self.network = PodNetwork(f"{self.prefix}-pods", f"ks{self.prefix[-6:]}")
        self.network_name = self.network.name
        self.dns = ClusterDNS(self.network.gateway)
        self.dns_address = self.network.gateway
        self.dns.start()
        self.sandbox_image = images.SYSTEM.tag
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.workloads: dict[tuple[str, str, str], Workload] = {}
        self.bare_pods: list[Pod] = []
        self.terminated: list[Pod] = []
        self.proxies: dict[tuple[str, str], ServiceProxy | None] = {}
        self.cluster_ips: dict[tuple[str, str], str] = {}
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._controller = threading.Thread(target=self._control, daemon=True, name="controllers")
        self._controller.start()
        log(f"cluster {self.prefix}: pod network {self.network.subnet}, DNS {self.dns_address}")

    # --- what pods read ---------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        found = self.get("Secret", namespace, name)
        return secret_bytes(found) if found else None

    def configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        found = self.get("ConfigMap", namespace, name)
        return dict(found.get("data") or {}) if found else None

    def pod_changed(self, pod: Pod) -> None:
        self.refresh_dns()

    # --- apply ----------------------------------------------------------------------------
    def apply(self, objects: list[dict[str, Any]], namespace: str) -> None:
        """kubectl apply of rendered manifests (helm hooks of kind test are kept aside)."""
        with self.lock:
            for obj in objects:
                obj = copy.deepcopy(obj)
                meta = obj["metadata"]
                ns = meta.setdefault("namespace", namespace)
                key = (obj["kind"], ns, meta["name"])
                if "test" in str((meta.get("annotations") or {}).get(HOOK, "")):
                    self.objects[("TestHook", ns, meta["name"])] = obj
                    continue
                self.objects[key] = obj
                kind = obj["kind"]
                if kind == "PersistentVolumeClaim":
                    self.storage.claim(ns, meta["name"], obj["spec"])
                elif kind == "Service":
                    self._apply_service(obj, ns)
                elif kind in ("Deployment", "StatefulSet"):
                    existing = self.workloads.get(key)
                    replicas = int(obj["spec"].get("replicas", 1))
                    if existing:
                        existing.obj = obj
                        if not self.scaled_by_keda(ns, meta["name"]):
                            existing.replicas = replicas
                    else:
                        self.workloads[key] = Workload(kind, ns, obj, replicas)
        self.refresh_dns()

    def scaled_by_keda(self, namespace: str, name: str) -> bool:
        return any(
            k[0] == "ScaledObject"
            and k[1] == namespace
            and o["spec"]["scaleTargetRef"]["name"] == name
            for k, o in self.objects.items()
        )

    def of_kind(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            o for (k, ns, _), o in self.objects.items() if k == kind and namespace in (None, ns)
        ]

    def _apply_service(self, service: dict[str, Any], namespace: str) -> None:
        name = service["metadata"]["name"]
        key = (namespace, name)
        if key in self.proxies:
            return
        if service["spec"].get("clusterIP") == "None":
            self.proxies[key] = None
            return
        address = self.network.allocate_service_ip()
        self.cluster_ips[key] = address
        proxy = ServiceProxy(
            name=f"{self.prefix}-svc-{namespace}-{name}",
            address=address,
            ports=[int(p["port"]) for p in service["spec"].get("ports") or []],
            folder=self.workdir / "services" / f"{namespace}-{name}",
            network=self.network_name,
            image=self.sandbox_image,
            label=f"kubesim.run={self.prefix}",
        )
        proxy.start()
        self.proxies[key] = proxy

    def endpoints(self, namespace: str, name: str) -> dict[int, list[tuple[str, int]]]:
        """Service port -> Ready (pod IP, targetPort), named target ports resolved per pod."""
        service = self.get("Service", namespace, name)
        found: dict[int, list[tuple[str, int]]] = {}
        if not service:
            return found
        pods = self.service_pods(namespace, name, ready_only=True)
        for port in service["spec"].get("ports") or []:
            target = port.get("targetPort", port["port"])
            found[int(port["port"])] = []
            for pod in pods:
                try:
                    found[int(port["port"])].append((pod.ip, pod.port_number(target)))
                except Exception:
                    continue
        return found

    def service_pods(self, namespace: str, service: str, ready_only: bool) -> list[Pod]:
        obj = self.get("Service", namespace, service)
        if not obj:
            return []
        selector = obj["spec"].get("selector") or {}
        return [
            p
            for p in self.all_pods()
            if p.namespace == namespace
            and not p.deleting
            and p.ip
            and matches(selector, p.labels)
            and (p.ready or not ready_only)
        ]

    def service_address(self, namespace: str, name: str) -> str:
        return self.cluster_ips[(namespace, name)]

    def refresh_dns(self) -> None:
        with self.lock:
            for (namespace, name), proxy in list(self.proxies.items()):
                obj = self.get("Service", namespace, name)
                if not obj:
                    continue
                fqdn = f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"
                if proxy is not None:
                    self.dns.set(fqdn, [proxy.address])
                    proxy.write(self.endpoints(namespace, name))
                    continue
                publish_all = bool(obj["spec"].get("publishNotReadyAddresses"))
                pods = self.service_pods(namespace, name, ready_only=not publish_all)
                self.dns.set(fqdn, [p.ip for p in pods])
                for pod in pods:
                    if pod.subdomain == name:
                        self.dns.set(f"{pod.name}.{fqdn}", [pod.ip])

    # --- controllers ------------------------------------------------------------------------
    def all_pods(self) -> list[Pod]:
        pods = [p for w in list(self.workloads.values()) for p in w.pods]
        return pods + list(self.bare_pods)

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        workload = self.workloads[("Deployment", namespace, name)]
        if workload.replicas != replicas:
            log(f"scale deployment {name}: {workload.replicas} -> {replicas}")
            workload.replicas = replicas

    def _control(self) -> None:
        while not self._stop.is_set():
            try:
                with self.lock:
                    for workload in list(self.workloads.values()):
                        self._reap(workload)
                        if workload.kind == "Deployment":
                            self._reconcile_deployment(workload)
                        else:
                            self._reconcile_statefulset(workload)
            except Exception as error:  # keep controlling; show what went wrong
                log(f"controller error: {error!r}")
            self._stop.wait(0.5)

    def _reap(self, workload: Workload) -> None:
        for pod in [p for p in workload.pods if p.phase == "Terminated"]:
            workload.pods.remove(pod)
            self.terminated.append(pod)
            threading.Thread(target=pod.cleanup, daemon=True).start()

    def _new_pod(self, workload: Workload, name: str, subdomain: str = "") -> Pod:
        template = copy.deepcopy(workload.template)
        spec = template["spec"]
        if workload.kind == "StatefulSet":
            ordinal = name.rsplit("-", 1)[1]
            for claim in workload.obj["spec"].get("volumeClaimTemplates") or []:
                claim_name = f"{claim['metadata']['name']}-{workload.name}-{ordinal}"
                self.storage.claim(workload.namespace, claim_name, claim["spec"])
                spec.setdefault("volumes", []).append(
                    {
                        "name": claim["metadata"]["name"],
                        "persistentVolumeClaim": {"claimName": claim_name},
                    }
                )
        pod = Pod(
            namespace=workload.namespace,
            name=name,
            spec=spec,
            labels=dict(template["metadata"].get("labels") or {}),
            node=self,
            owner=f"{workload.kind}/{workload.name}",
            template_hash=workload.hash,
            subdomain=subdomain,
        )
        workload.pods.append(pod)
        pod.start()
        return pod

    def _reconcile_deployment(self, workload: Workload) -> None:
        desired = workload.replicas
        live = workload.live()
        new = [p for p in live if p.template_hash == workload.hash]
        old = [p for p in live if p.template_hash != workload.hash]
        surge, unavailable = rolling_bounds(workload.obj["spec"], desired)
        recreate = (workload.obj["spec"].get("strategy") or {}).get("type") == "Recreate"
        if recreate and old:
            for pod in old:
                pod.delete()
            return
        if recreate and any(p.deleting for p in workload.pods):
            return
        room = desired + surge - len(live)
        for _ in range(max(0, min(desired - len(new), room))):
            self._new_pod(workload, f"{workload.name}-{workload.hash}-{secrets.token_hex(3)[:5]}")
        if len(new) > desired:
            extra = sorted(new, key=lambda p: (p.ready, -p.created))[: len(new) - desired]
            for pod in extra:
                pod.delete()
        if old:
            ready = sum(1 for p in live if p.ready)
            deletable = ready - max(0, desired - unavailable)
            for pod in sorted(old, key=lambda p: p.ready):
                if not pod.ready:
                    pod.delete()
                elif deletable > 0 or desired == 0:
                    pod.delete()
                    deletable -= 1

    def _reconcile_statefulset(self, workload: Workload) -> None:
        spec = workload.obj["spec"]
        by_ordinal = {int(p.name.rsplit("-", 1)[1]): p for p in workload.pods}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        for ordinal in range(workload.replicas):
            pod = by_ordinal.get(ordinal)
            if pod is None:
                self._new_pod(workload, f"{workload.name}-{ordinal}", spec.get("serviceName", ""))
                if not parallel:
                    return
                continue
            if not pod.ready and not parallel:
                return
        for ordinal in sorted(by_ordinal, reverse=True):
            if ordinal >= workload.replicas and not by_ordinal[ordinal].deleting:
                by_ordinal[ordinal].delete()
                return
        if any(p.deleting for p in workload.pods):
            return
        stale = [
            p
            for o, p in sorted(by_ordinal.items(), reverse=True)
            if p.template_hash != workload.hash
        ]
        if stale and all(p.ready for p in workload.pods):
            stale[0].delete()

    # --- pods outside controllers ------------------------------------------------------
    def run_pod(self, obj: dict[str, Any], namespace: str, timeout: float) -> Pod:
        """Run a bare Pod to completion (a `helm test` hook, a check pod)."""
        obj = copy.deepcopy(obj)
        pod = Pod(
            namespace=namespace,
            name=obj["metadata"]["name"],
            spec=obj["spec"],
            labels=dict(obj["metadata"].get("labels") or {}),
            node=self,
            owner="Pod",
        )
        self.bare_pods.append(pod)
        pod.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pod.phase not in ("Succeeded", "Failed"):
            time.sleep(0.5)
        return pod

    def test_hooks(self, namespace: str) -> list[dict[str, Any]]:
        return [o for (k, ns, _), o in self.objects.items() if k == "TestHook" and ns == namespace]

    # --- inspection ---------------------------------------------------------------------------
    def pods_of(self, kind: str, namespace: str, name: str) -> list[Pod]:
        workload = self.workloads.get((kind, namespace, name))
        return workload.live() if workload else []

    def termination_problems(self, owner: str) -> list[str]:
        """Terminated pods of `owner` whose preStop hook failed, or whose containers had to
        be SIGKILLed (exit 137) because SIGTERM did not stop them within the grace period."""
        problems = []
        for pod in self.terminated:
            if pod.owner != owner:
                continue
            for c in pod.containers:
                if c.pre_stop_error:
                    problems.append(f"{pod.name}/{c.spec['name']}: preStop {c.pre_stop_error}")
                if c.stop_exit_code == 137:
                    problems.append(f"{pod.name}/{c.spec['name']}: killed after the grace period")
        return problems

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.status()}")

    def all_ready(self, namespace: str) -> bool:
        for workload in self.workloads.values():
            if workload.namespace != namespace:
                continue
            live = workload.live()
            if len(live) != workload.replicas or not all(
                p.ready and p.template_hash == workload.hash for p in live
            ):
                return False
        return True

    def status(self) -> str:
        lines = []
        for workload in self.workloads.values():
            head = f"{workload.kind}/{workload.name} replicas={workload.replicas}"
            lines.append(f"{head} ready={workload.ready()}")
            for pod in workload.pods:
                lines.append(
                    f"  {pod.name} {pod.phase} ready={pod.ready} restarts={pod.restarts} "
                    f"deleting={pod.deleting} {pod.reason}"
                )
        for claim in self.storage.claims.values():
            lines.append(f"pvc/{claim.name} {claim.phase} {claim.reason}")
        return "\n".join(lines)

    def logs(self, lines: int = 60) -> str:
        return "\n".join(p.logs(lines) for p in self.all_pods() + self.terminated[-5:])

    # --- teardown ---------------------------------------------------------------------------
    def close(self) -> None:
        self._stop.set()
        self._controller.join(timeout=10)
        pods = self.all_pods() + self.terminated
        for pod in pods:
            pod.abandon()
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=kubesim.run={self.prefix}"],
            capture_output=True,
            text=True,
        ).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "--force", *ids], capture_output=True)
        for pod in pods:
            pod.cleanup()
        self.dns.close()
        self.storage.remove_all()
        self.network.remove()
        subprocess.run(["rm", "-rf", str(self.workdir)], capture_output=True)
