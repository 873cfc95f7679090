"""The chart renders, lints and validates in every scenario of the matrix."""

from __future__ import annotations

import copy
import re

import chartlib
import jsonschema
import kubernetes_validate
import pytest

SCENARIOS = sorted(chartlib.SCENARIOS)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@pytest.mark.parametrize(
    "value_args",
    [
        pytest.param([], id="default"),
        pytest.param(["--values", str(chartlib.KIND_VALUES)], id="kind"),
        pytest.param(["--set", "keda.enabled=false,flower.enabled=false"], id="keda-off"),
    ],
)
def test_helm_lint_strict(helm, value_args):
    result = chartlib.helm_run(
        helm, "lint", "--strict", str(chartlib.CHART_DIR), *value_args, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_kubernetes_validate_has_the_target_version():
    """The schemas are those of Kubernetes 1.35 itself, not an older fallback."""
    versions = kubernetes_validate.utils.all_versions()
    assert any(v.startswith("1.35") for v in versions), versions


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_object_is_valid_kubernetes_1_35(render, scenario):
    objects = render(scenario)
    assert objects
    checked = 0
    for obj in objects:
        # Custom resources: KEDA's are checked against its CRDs below, the Prometheus
        # Operator's structurally in test_monitoring.py (no CRD schema here).
        if obj["apiVersion"].startswith(("keda.sh/", "monitoring.coreos.com/")):
            continue
        try:
            kubernetes_validate.validate(obj, chartlib.KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at "
                f"{list(error.absolute_path)}"
            )
        checked += 1
    assert checked >= 10


def test_strict_validation_catches_unknown_fields(default_objects):
    """Negative control: the validation above does reject a misplaced field."""
    deployment = copy.deepcopy(chartlib.by_kind(default_objects, "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMap"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, chartlib.KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_keda_objects_match_keda_crds(render, keda_crd_schemas, scenario):
    objects = [o for o in render(scenario) if o["apiVersion"].startswith("keda.sh/")]
    for obj in objects:
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        schema = keda_crd_schemas[obj["kind"]]
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
        assert not errors, f"{obj['kind']}/{obj['metadata']['name']}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors
        )


def test_keda_schema_check_catches_unknown_fields(default_objects, keda_crd_schemas):
    """Negative control: a misspelt trigger field fails the strict CRD schema."""
    scaled = copy.deepcopy(chartlib.by_kind(default_objects, "ScaledObject")[0])
    scaled["spec"]["triggers"][0]["authRef"] = {"name": "x"}
    assert list(jsonschema.Draft7Validator(keda_crd_schemas["ScaledObject"]).iter_errors(scaled))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_names_and_labels_are_valid(render, scenario):
    for obj in render(scenario):
        name = obj["metadata"]["name"]
        kind = obj["kind"]
        if kind in ("Service", "Deployment", "StatefulSet", "Pod"):
            assert len(name) <= 63 and DNS_LABEL.match(name), f"{kind}/{name}"
        else:
            assert len(name) <= 253 and DNS_SUBDOMAIN.match(name), f"{kind}/{name}"
        labels = obj["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/name") == "taskyard", f"{kind}/{name}"
        assert labels.get("app.kubernetes.io/instance") == chartlib.RELEASE
        assert labels.get("app.kubernetes.io/managed-by") == "Helm"
        assert labels.get("helm.sh/chart", "").startswith("taskyard-")
        if kind != "ServiceAccount":
            assert labels.get("app.kubernetes.io/component"), f"{kind}/{name} has no component"
        for value in labels.values():
            assert len(value) <= 63, f"{kind}/{name}: label {value!r} too long"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_selectors_match_pod_labels(render, scenario):
    objects = render(scenario)
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        selector = obj["spec"]["selector"]["matchLabels"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), obj["metadata"]["name"]
    deployments = chartlib.by_kind(objects, "Deployment") + chartlib.by_kind(objects, "StatefulSet")
    selectors = [tuple(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in deployments]
    assert len(selectors) == len(set(selectors)), "two workloads share a selector"
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in deployments}
    for service in chartlib.by_kind(objects, "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pods.values()), (
            f"Service/{service['metadata']['name']} selects no pod"
        )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_references_resolve(render, scenario):
    """Every ConfigMap, Secret and claim a pod uses is rendered, or named in the values
    as existing; every env var resolves."""
    objects = render(scenario)
    rendered = {(o["kind"], o["metadata"]["name"]) for o in objects}
    existing = {
        ("Secret", name)
        for name in (
            "my-connections",
            "my-rabbitmq",
            "my-redis",
            "my-api-keys",
            "my-console",
            "my-flower",
            "my-smtp",
            "my-callbacks",
            "my-s3",
        )
    }
    for name, spec in chartlib.pod_specs(objects):
        for volume in spec.get("volumes") or []:
            if "secret" in volume:
                ref = ("Secret", volume["secret"]["secretName"])
            elif "configMap" in volume:
                ref = ("ConfigMap", volume["configMap"]["name"])
            elif "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                ref = ("PersistentVolumeClaim", claim)
            else:
                continue
            assert ref in rendered or ref in existing, f"{name}: volume {ref} missing"
        for container in chartlib.all_containers(spec):
            for var in container.get("env") or []:
                source = var.get("valueFrom") or {}
                if "secretKeyRef" in source:
                    ref = ("Secret", source["secretKeyRef"]["name"])
                    assert ref in rendered or ref in existing, f"{name}: {var['name']} -> {ref}"
            if scenario != "existing-secrets":
                chartlib.resolve_env(container, objects)
        if spec.get("serviceAccountName") and spec["serviceAccountName"] != "default":
            assert ("ServiceAccount", spec["serviceAccountName"]) in rendered


def test_helm_test_hook(default_objects):
    pods = chartlib.by_kind(default_objects, "Pod")
    assert len(pods) == 1
    pod = pods[0]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    assert container["image"] == "taskyard/api:0.1.0"
    assert container["command"][:2] == ["python", "-c"]
    script = (chartlib.CHART_DIR / "files" / "smoke_test.py").read_text()
    assert container["command"][2] == script
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TASKYARD_TEST_API_URL"] == "http://taskyard-api.taskyard.svc:8000"
    assert pod["spec"]["restartPolicy"] == "Never"


def test_notes_print_port_forward_and_credentials(helm):
    notes = chartlib.install_notes(helm)
    assert "kubectl --namespace taskyard port-forward svc/taskyard-api 8000:8000" in notes
    assert "kubectl --namespace taskyard port-forward svc/taskyard-flower 5555:5555" in notes
    assert "get secret taskyard-api-keys -o jsonpath='{.data.key-admin}' | base64 -d" in notes
    assert "named admin (an admin key" in notes
    assert "get secret taskyard-flower -o jsonpath='{.data.basic-auth}' | base64 -d" in notes
    assert "helm test taskyard" in notes
    # Without KEDA's API in the capabilities, NOTES say the workers have fixed replicas.
    assert "does not serve keda.sh/v1alpha1" in notes
