"""The files volume binds on a stock cluster, and every pod that mounts it can reach it."""

from __future__ import annotations

import chartlib
import pytest
import yaml

CLAIM = "taskyard-files"
COLOCATE_TERM = {
    "labelSelector": {"matchLabels": {"taskyard.io/files-claim": CLAIM}},
    "topologyKey": "kubernetes.io/hostname",
}


def claim_users(objects):
    """Deployments whose pods mount the files claim."""
    users = []
    for deployment in chartlib.by_kind(objects, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        if any("persistentVolumeClaim" in v for v in spec.get("volumes") or []):
            users.append(deployment)
    return users


def required_pod_affinity(deployment):
    affinity = deployment["spec"]["template"]["spec"].get("affinity") or {}
    return (affinity.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")


@pytest.mark.parametrize("scenario", ["default", "kind"])
def test_claim_defaults_to_read_write_once(render, scenario):
    (claim,) = chartlib.by_kind(render(scenario), "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in claim["spec"]  # the cluster's default class


def test_kind_values_leave_the_access_mode_to_the_default():
    kind_values = yaml.safe_load(chartlib.KIND_VALUES.read_text())
    assert "accessModes" not in (kind_values.get("storage") or {}).get("pvc", {})


@pytest.mark.parametrize("scenario", ["default", "kind"])
def test_read_write_once_keeps_every_user_on_one_node(render, scenario):
    users = claim_users(render(scenario))
    assert len(users) == 10  # the API and the nine workers
    for deployment in users:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["taskyard.io/files-claim"] == CLAIM, deployment["metadata"]["name"]
        assert required_pod_affinity(deployment) == [COLOCATE_TERM]


def test_colocation_keeps_the_users_affinity(helm):
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["jobs"]}]}
            ]
        }
    }
    own_term = {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}
    affinity = {
        "nodeAffinity": node_affinity,
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [own_term]},
    }
    objects = chartlib.helm_template(
        helm, {"api": {"affinity": affinity}, "workers": {"defaults": {"affinity": affinity}}}
    )
    for deployment in claim_users(objects):
        spec_affinity = deployment["spec"]["template"]["spec"]["affinity"]
        assert spec_affinity["nodeAffinity"] == node_affinity
        assert required_pod_affinity(deployment) == [own_term, COLOCATE_TERM]


def test_read_write_many_with_a_class_spreads_freely(helm):
    objects = chartlib.helm_template(
        helm,
        {"storage": {"pvc": {"accessModes": ["ReadWriteMany"], "storageClassName": "nfs"}}},
    )
    (claim,) = chartlib.by_kind(objects, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "nfs"
    for deployment in claim_users(objects):
        assert "taskyard.io/files-claim" not in deployment["spec"]["template"]["metadata"]["labels"]
        assert "affinity" not in deployment["spec"]["template"]["spec"]


def test_read_write_many_without_a_class_is_refused(helm):
    result = chartlib.helm_template_raw(
        helm, {"storage": {"pvc": {"accessModes": ["ReadWriteMany"]}}}
    )
    assert result.returncode != 0
    message = result.stderr
    assert "storage.pvc.storageClassName" in message
    assert "binds only ReadWriteOnce" in message
    assert "storage.type s3" in message


def test_existing_claim_may_be_read_write_many_without_a_class(helm):
    objects = chartlib.helm_template(
        helm,
        {"storage": {"pvc": {"existingClaim": "shared-files", "accessModes": ["ReadWriteMany"]}}},
    )
    assert not chartlib.by_kind(objects, "PersistentVolumeClaim")
    assert all(required_pod_affinity(d) is None for d in claim_users(objects))


def test_s3_storage_has_no_claim_and_no_colocation(render):
    objects = render("s3")
    assert not chartlib.by_kind(objects, "PersistentVolumeClaim")
    for deployment in chartlib.by_kind(objects, "Deployment"):
        assert "affinity" not in deployment["spec"]["template"]["spec"]


def tmp_size(objects, name):
    spec = chartlib.named(objects, "Deployment", name)["spec"]["template"]["spec"]
    (tmp,) = [v for v in spec["volumes"] if v["name"] == "tmp"]
    return tmp["emptyDir"].get("sizeLimit")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # 256Mi of scratch plus 2 workers x 4 threads x 1 GiB uploads
        ({}, 256 * 2**20 + 8 * 2**30),
        (
            {"config": {"maxUploadBytes": 100 * 2**20}, "api": {"workers": 1, "threads": 2}},
            256 * 2**20 + 2 * 100 * 2**20,
        ),
        ({"tmpSizeLimit": "1Gi", "api": {"workers": 3, "threads": 1}}, 2**30 + 3 * 2**30),
    ],
)
def test_api_tmp_holds_the_largest_uploads_of_every_request_slot(helm, values, expected):
    objects = chartlib.helm_template(helm, values)
    assert int(tmp_size(objects, "taskyard-api")) == expected
    api = chartlib.named(objects, "Deployment", "taskyard-api")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in api["containers"][0]["volumeMounts"]}
    assert mounts["/tmp"] == "tmp"  # where werkzeug spools uploads (tempfile.gettempdir())
    configmap = chartlib.named(objects, "ConfigMap", "taskyard-config")["data"]
    assert "TMPDIR" not in configmap


def test_other_pods_keep_the_small_tmp(default_objects):
    assert tmp_size(default_objects, "taskyard-flower") == "256Mi"
    assert tmp_size(default_objects, "taskyard-data-worker-high") == "256Mi"
