"""The chart as a cluster would receive it: `helm template` with KEDA's API served (so
the ScaledObjects render), test values only where a value must differ, and for an
upgrade `--dry-run=server` against tests/chart/fakekube.py holding the Secrets the
release already has (helm's `lookup` keeps generated passwords)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from . import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests" / "chart"))
import chartlib
from fakekube import FakeKube

RELEASE = chartlib.RELEASE
NAMESPACE = chartlib.NAMESPACE


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def user_values() -> dict[str, Any]:
    """TASKYARD_CLUSTER_VALUES: a values file of the caller's, applied last."""
    path = os.environ.get("TASKYARD_CLUSTER_VALUES")
    return yaml.safe_load(Path(path).read_text()) or {} if path else {}


def template(helm: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    return chartlib.helm_template(helm, merge(values, user_values()))


def template_keeping_secrets(
    helm: str, values: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """`helm upgrade`'s render: lookup finds the release's current Secrets."""
    stored = {(NAMESPACE, name): data for name, data in secrets.items()}
    with tempfile.TemporaryDirectory() as folder, FakeKube(stored, RELEASE) as cluster:
        kubeconfig = cluster.write_kubeconfig(Path(folder) / "kubeconfig", NAMESPACE)
        args, temp_files = chartlib.template_args(merge(values, user_values()))
        args += [
            "--dry-run=server",
            "--disable-openapi-validation",
            "--kubeconfig",
            str(kubeconfig),
        ]
        try:
            result = chartlib.helm_run(helm, *args, check=False)
        finally:
            for name in temp_files:
                os.unlink(name)
    if result.returncode != 0:
        raise AssertionError(f"helm template --dry-run=server failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    return chartlib.secret_data(secret)


def helm_path() -> str:
    return chartlib.helm_path()
