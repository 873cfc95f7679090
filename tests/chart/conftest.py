"""Fixtures of the chart tests: helm (via scripts/ensure-helm.sh), renders, schemas."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

# chartlib sits beside this file; importable however pytest was started.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import chartlib


@pytest.fixture(scope="session")
def helm() -> str:
    """Path of the helm binary: on PATH, or unpacked by scripts/ensure-helm.sh."""
    return chartlib.helm_path()


@pytest.fixture(scope="session")
def render(helm: str):
    """render(name) -> list of objects for a named scenario (cached for the session)."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def _render(name: str) -> list[dict[str, Any]]:
        if name not in cache:
            scenario = chartlib.SCENARIOS[name]
            cache[name] = chartlib.helm_template(
                helm,
                values=scenario.get("values"),
                value_files=scenario.get("files", ()),
                keda_crds=scenario.get("keda_crds", True),
            )
        return copy.deepcopy(cache[name])

    return _render


@pytest.fixture(scope="session")
def default_objects(render) -> list[dict[str, Any]]:
    return render("default")


@pytest.fixture(scope="session")
def keda_crd_schemas() -> dict[str, dict[str, Any]]:
    """KEDA's CRD openAPIV3Schema by kind, made strict (unknown fields rejected)."""
    folder = chartlib.keda_crds_dir()
    if folder is None:
        message = (
            "KEDA CRDs not found: expected ../shared/keda-crds beside the repository "
            "(or TASKYARD_KEDA_CRDS_DIR)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            kind = doc["spec"]["names"]["kind"]
            versions = {v["name"]: v for v in doc["spec"]["versions"]}
            schema = versions["v1alpha1"]["schema"]["openAPIV3Schema"]
            schemas[kind] = chartlib.strict_schema(schema)
    return schemas
