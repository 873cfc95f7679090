"""A tiny stand-in for a Kubernetes API server, enough for `helm template
--dry-run=server` to run the chart's `lookup` calls against Secrets we choose.

Serves discovery for the kinds the chart renders, answers GET of the Secrets given
to it, and 404 for everything else (so helm sees no conflicting objects).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CORE_RESOURCES = [
    ("configmaps", "ConfigMap"),
    ("secrets", "Secret"),
    ("services", "Service"),
    ("serviceaccounts", "ServiceAccount"),
    ("persistentvolumeclaims", "PersistentVolumeClaim"),
    ("pods", "Pod"),
    ("namespaces", "Namespace"),
]
GROUPS = {
    ("apps", "v1"): [("deployments", "Deployment"), ("statefulsets", "StatefulSet")],
    ("batch", "v1"): [("cronjobs", "CronJob")],
    ("policy", "v1"): [("poddisruptionbudgets", "PodDisruptionBudget")],
    ("networking.k8s.io", "v1"): [("networkpolicies", "NetworkPolicy")],
    ("keda.sh", "v1alpha1"): [
        ("scaledobjects", "ScaledObject"),
        ("triggerauthentications", "TriggerAuthentication"),
    ],
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
SECRET_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/?]+)$")


def _resource_list(group_version: str, resources: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": name,
                "singularName": kind.lower(),
                "namespaced": kind != "Namespace",
                "kind": kind,
                "verbs": VERBS,
            }
            for name, kind in resources
        ],
    }


class FakeKube:
    def __init__(
        self, secrets: dict[tuple[str, str], dict[str, str]], release: str, keda: bool = True
    ):
        """secrets: {(namespace, name): {key: plain value}}, owned by the Helm release
        `release` (as after an install, or kept by helm.sh/resource-policy).
        keda: whether discovery lists KEDA's keda.sh/v1alpha1."""
        self.secrets = secrets
        self.release = release
        self.groups = {gv: r for gv, r in GROUPS.items() if keda or gv[0] != "keda.sh"}
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                fake.requests.append(self.path)
                if path == "/version":
                    return self._json(
                        200,
                        {
                            "major": "1",
                            "minor": "35",
                            "gitVersion": "v1.35.0",
                            "platform": "linux/amd64",
                        },
                    )
                if path == "/api":
                    return self._json(200, {"kind": "APIVersions", "versions": ["v1"]})
                if path == "/api/v1":
                    return self._json(200, _resource_list("v1", CORE_RESOURCES))
                if path == "/apis":
                    groups = {}
                    for group, version in fake.groups:
                        gv = {"groupVersion": f"{group}/{version}", "version": version}
                        groups.setdefault(
                            group, {"name": group, "versions": [], "preferredVersion": gv}
                        )
                        groups[group]["versions"].append(gv)
                    return self._json(
                        200,
                        {
                            "kind": "APIGroupList",
                            "apiVersion": "v1",
                            "groups": list(groups.values()),
                        },
                    )
                for (group, version), resources in fake.groups.items():
                    if path == f"/apis/{group}/{version}":
                        return self._json(200, _resource_list(f"{group}/{version}", resources))
                match = SECRET_PATH.match(path)
                if match and (match.group(1), match.group(2)) in fake.secrets:
                    data = fake.secrets[(match.group(1), match.group(2))]
                    return self._json(
                        200,
                        {
                            "kind": "Secret",
                            "apiVersion": "v1",
                            "metadata": {
                                "name": match.group(2),
                                "namespace": match.group(1),
                                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                                "annotations": {
                                    "meta.helm.sh/release-name": fake.release,
                                    "meta.helm.sh/release-namespace": match.group(1),
                                },
                            },
                            "type": "Opaque",
                            "data": {
                                k: base64.b64encode(v.encode()).decode() for k, v in data.items()
                            },
                        },
                    )
                if path.endswith("/secrets") or path.endswith("/configmaps"):
                    # helm's release storage: no release yet
                    return self._json(
                        200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []}
                    )
                return self._json(
                    404,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": "NotFound",
                        "code": 404,
                        "message": f"{path} not found",
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKube:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def write_kubeconfig(self, path: Path, namespace: str) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "fake",
            "clusters": [
                {
                    "name": "fake",
                    "cluster": {"server": f"http://127.0.0.1:{self.server.server_port}"},
                }
            ],
            "users": [{"name": "fake", "user": {"token": "fake"}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                }
            ],
        }
        path.write_text(json.dumps(config))
        return path
