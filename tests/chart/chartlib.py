"""Rendering and inspection helpers shared by the chart tests."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "deploy" / "helm" / "taskyard"
KIND_VALUES = REPO_ROOT / "deploy" / "kind" / "values.yaml"
RELEASE = "taskyard"
NAMESPACE = "taskyard"
KUBERNETES_VERSION = "1.35.0"
KEDA_API_VERSIONS = (
    "keda.sh/v1alpha1",
    "keda.sh/v1alpha1/ScaledObject",
    "keda.sh/v1alpha1/TriggerAuthentication",
)
MONITORING_API_VERSIONS = (
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
)
TASKYARD_UID = 10001
# monitoring.prometheusSelector's default: the NetworkPolicy peer of Prometheus.
PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {},
}

# Values of the scenario matrix. The secrets below are test inputs a user would
# give, never chart defaults.
EXTERNAL_VALUES: dict[str, Any] = {
    "rabbitmq": {"enabled": False},
    "redis": {"enabled": False},
    "externalRabbitmq": {
        "url": "amqps://tenant:ext-amqp-pass@rabbit.example.com:5671/taskyard",
        "managementUrl": "https://tenant:ext-amqp-pass@rabbit.example.com:15671",
        "vhost": "taskyard",
    },
    "externalRedis": {"url": "rediss://:ext-redis-pass@redis.example.com:6380/2"},
}
S3_VALUES: dict[str, Any] = {
    "storage": {
        "type": "s3",
        "s3": {
            "bucket": "taskyard-files",
            "prefix": "prod/",
            "region": "eu-west-1",
            "endpointUrl": "https://s3.example.com",
            "accessKeyId": "AKIATESTKEY",
            "secretAccessKey": "s3-secret-from-user",
        },
    }
}
EXISTING_SECRETS_VALUES: dict[str, Any] = {
    "connections": {"existingSecret": "my-connections"},
    "rabbitmq": {"auth": {"existingSecret": "my-rabbitmq", "passwordKey": "rabbitmq-password"}},
    "redis": {"auth": {"existingSecret": "my-redis", "passwordKey": "redis-password"}},
    "api": {
        "apiKeys": {"existingSecret": "my-api-keys", "existingSecretKey": "keys.txt"},
        "console": {"existingSecret": "my-console", "existingSecretKey": "secret"},
    },
    "flower": {"auth": {"existingSecret": "my-flower"}},
    "smtp": {"existingSecret": "my-smtp"},
    "callbacks": {"existingSecret": "my-callbacks"},
    "storage": {"type": "s3", "s3": {"bucket": "files", "existingSecret": "my-s3"}},
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "keda-off": {"values": {"keda": {"enabled": False}}},
    "keda-crds-missing": {"keda_crds": False},
    "external": {"values": EXTERNAL_VALUES},
    "s3": {"values": S3_VALUES},
    "existing-secrets": {"values": EXISTING_SECRETS_VALUES},
    "kind": {"files": (KIND_VALUES,)},
    "monitoring": {
        "values": {
            "monitoring": {
                "checkCrds": False,
                "serviceMonitor": {"enabled": True},
                "podMonitor": {"enabled": True},
            }
        }
    },
    "minimal": {
        "values": {
            "flower": {"enabled": False},
            "networkPolicy": {"enabled": False},
            "helmTest": {"enabled": False},
            "api": {"podDisruptionBudget": {"enabled": False}},
            "rabbitmq": {"persistence": {"enabled": False}},
            "redis": {"persistence": {"enabled": False}},
            "serviceAccount": {"create": False, "name": "default"},
        }
    },
}


def keda_crds_dir() -> Path | None:
    """KEDA's CRDs: TASKYARD_KEDA_CRDS_DIR, else shared/keda-crds beside the repository."""
    candidates = []
    if os.environ.get("TASKYARD_KEDA_CRDS_DIR"):
        candidates.append(Path(os.environ["TASKYARD_KEDA_CRDS_DIR"]))
    candidates.append(REPO_ROOT.parent / "shared" / "keda-crds")
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.yaml")):
            return folder
    return None


def helm_run(helm: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
        env={**os.environ, "HELM_CACHE_HOME": tempfile.gettempdir() + "/taskyard-helm-cache"},
    )


def template_args(
    values: dict[str, Any] | None = None,
    value_files: tuple[Path, ...] | list[Path] = (),
    keda_crds: bool = True,
    extra: tuple[str, ...] = (),
    monitoring_crds: bool = False,
) -> tuple[list[str], list[str]]:
    """Arguments of `helm template` and the temporary files they use."""
    args = [
        "template",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBERNETES_VERSION,
    ]
    temp_files: list[str] = []
    for path in value_files:
        args += ["--values", str(path)]
    if values:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(values, handle)
        temp_files.append(handle.name)
        args += ["--values", handle.name]
    served = (KEDA_API_VERSIONS if keda_crds else ()) + (
        MONITORING_API_VERSIONS if monitoring_crds else ()
    )
    for api_version in served:
        args += ["--api-versions", api_version]
    return args + list(extra), temp_files


def helm_template_raw(
    helm: str,
    values: dict[str, Any] | None = None,
    value_files: tuple[Path, ...] | list[Path] = (),
    keda_crds: bool = True,
    extra: tuple[str, ...] = (),
    monitoring_crds: bool = False,
) -> subprocess.CompletedProcess[str]:
    args, temp_files = template_args(values, value_files, keda_crds, extra, monitoring_crds)
    try:
        return helm_run(helm, *args, check=False)
    finally:
        for name in temp_files:
            os.unlink(name)


def helm_template(
    helm: str,
    values: dict[str, Any] | None = None,
    value_files: tuple[Path, ...] | list[Path] = (),
    keda_crds: bool = True,
    extra: tuple[str, ...] = (),
    monitoring_crds: bool = False,
) -> list[dict[str, Any]]:
    result = helm_template_raw(helm, values, value_files, keda_crds, extra, monitoring_crds)
    if result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def install_notes(helm: str, *set_args: str) -> str:
    """The NOTES.txt of `helm install --dry-run=client` (no cluster), with --set arguments."""
    args = ["install", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--dry-run=client"]
    for set_arg in set_args:
        args += ["--set", set_arg]
    result = helm_run(helm, *args, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KeyError(f"{kind}/{name} not rendered")


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that makes pods."""
    for obj in objects:
        kind = obj["kind"]
        name = f"{kind}/{obj['metadata']['name']}"
        if kind == "Pod":
            yield name, obj["spec"]
        elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            yield name, obj["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield name, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return (spec.get("initContainers") or []) + spec["containers"]


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def secrets_by_name(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The decoded data of every rendered Secret, by name."""
    return {s["metadata"]["name"]: secret_data(s) for s in by_kind(objects, "Secret")}


def worker_deployments(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The task workers' Deployments (the callback worker shares their component, not a type)."""
    return [
        o
        for o in by_kind(objects, "Deployment")
        if o["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"
        and "taskyard.io/task-type" in o["metadata"]["labels"]
    ]


def worker_scaled_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The task workers' ScaledObjects (not the callback worker's)."""
    return [
        o
        for o in by_kind(objects, "ScaledObject")
        if "taskyard.io/task-type" in o["metadata"]["labels"]
    ]


def resolve_env(container: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, str]:
    """The environment a container gets: envFrom, then env (valueFrom resolved from the
    rendered ConfigMaps and Secrets, $(VAR) references expanded like the kubelet)."""
    configmaps = {o["metadata"]["name"]: o.get("data") or {} for o in by_kind(objects, "ConfigMap")}
    secrets = {o["metadata"]["name"]: secret_data(o) for o in by_kind(objects, "Secret")}
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]])
        elif "secretRef" in source:
            env.update(secrets[source["secretRef"]["name"]])
    for var in container.get("env") or []:
        if "value" in var:
            value = var["value"]
            for name, known in env.items():
                value = value.replace(f"$({name})", known)
            env[var["name"]] = value
            continue
        ref = var["valueFrom"]
        if "secretKeyRef" in ref:
            source, key = secrets.get(ref["secretKeyRef"]["name"]), ref["secretKeyRef"]["key"]
        else:
            source, key = (
                configmaps.get(ref["configMapKeyRef"]["name"]),
                ref["configMapKeyRef"]["key"],
            )
        if source is None or key not in source:
            raise KeyError(f"{var['name']}: {ref} is not rendered by the chart")
        env[var["name"]] = source[key]
    return env


def strict_schema(schema: Any) -> Any:
    """A copy of a CRD's structural schema where objects with listed properties reject
    unknown fields (what `kubectl apply --validate=strict` does), except where the CRD
    keeps unknown fields."""
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict_schema(value) for key, value in schema.items()}
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)


def helm_path() -> str:
    """Path of the helm binary: on PATH, or unpacked by scripts/ensure-helm.sh."""
    found = shutil.which("helm")
    if found:
        return found
    bin_dir = (
        subprocess.run(
            [str(REPO_ROOT / "scripts" / "ensure-helm.sh")],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    path = Path(bin_dir) / "helm"
    assert path.is_file(), f"ensure-helm.sh printed {bin_dir!r}, which holds no helm"
    return str(path)
