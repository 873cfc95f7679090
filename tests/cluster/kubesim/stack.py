"""The chart installed in the emulated cluster, as the cluster tests see it: its
Services' URLs, its Deployments by component, what its Secrets put into the pods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taskyard_common.settings import parse_api_keys

from . import render
from .cluster import Cluster
from .keda import Keda
from .pods import Pod

NAMESPACE = render.NAMESPACE


@dataclass
class Stack:
    cluster: Cluster
    keda: Keda
    objects: list[dict[str, Any]]
    helm: str
    values: dict[str, Any]
    smtp: Any  # support.smtp.CatchingHandler: its delay_seconds slows every delivery
    callbacks: Any  # support.callback_receiver.CallbackReceiver at the pod network's gateway

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
        # The first key of the file: the chart's admin key.
        return next(iter(parse_api_keys(keys.splitlines()).values()))

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
