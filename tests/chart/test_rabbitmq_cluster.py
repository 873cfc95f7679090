"""RabbitMQ: one node by default, a cluster with rabbitmq.replicas, and a configuration
that RabbitMQ 4.3 (the image's series) accepts key by key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import chartlib
import pytest

REFERENCE = Path(__file__).with_name("rabbitmq_4_3_reference.txt")
CLUSTER = {"rabbitmq": {"replicas": 3}}


def reference() -> tuple[set[str], list[re.Pattern[str]]]:
    """The plugins and (as patterns) the rabbitmq.conf keys RabbitMQ 4.3 knows."""
    plugins: set[str] = set()
    keys: list[re.Pattern[str]] = []
    section = ""
    for line in REFERENCE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[plugins]":
            plugins.add(line)
        else:
            parts = [
                r"[^.]+" if part.startswith("$") else re.escape(part) for part in line.split(".")
            ]
            keys.append(re.compile(r"\.".join(parts)))
    return plugins, keys


def rabbitmq(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return chartlib.named(objects, kind, f"{chartlib.RELEASE}-rabbitmq")


def container_env(statefulset: dict[str, Any]) -> dict[str, Any]:
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def conf_keys(text: str) -> list[str]:
    return [
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.fixture(scope="module")
def cluster_objects(helm: str) -> list[dict[str, Any]]:
    return chartlib.helm_template(helm, values=CLUSTER)


def test_the_image_is_the_supported_4_3_series(default_objects: list[dict[str, Any]]) -> None:
    image = rabbitmq(default_objects, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "rabbitmq:4.3-management"


@pytest.mark.parametrize("objects_fixture", ["default_objects", "cluster_objects"])
def test_every_conf_key_and_plugin_exists_in_rabbitmq_4_3(
    objects_fixture: str, request: pytest.FixtureRequest
) -> None:
    objects = request.getfixturevalue(objects_fixture)
    plugins, keys = reference()
    data = rabbitmq(objects, "ConfigMap")["data"]
    enabled = re.fullmatch(r"\[(.*)\]\.\s*", data["enabled_plugins"])
    assert enabled, data["enabled_plugins"]
    assert set(enabled.group(1).split(",")) <= plugins
    for name, text in data.items():
        if name.endswith(".conf"):
            for key in conf_keys(text):
                assert any(pattern.fullmatch(key) for pattern in keys), f"{name}: {key}"


def test_one_node_by_default_keeps_its_name_and_start_order(
    default_objects: list[dict[str, Any]],
) -> None:
    statefulset = rabbitmq(default_objects, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 1
    assert statefulset["spec"]["podManagementPolicy"] == "OrderedReady"
    env = container_env(statefulset)
    assert env["RABBITMQ_NODENAME"] == "rabbit@localhost"
    assert "RABBITMQ_USE_LONGNAME" not in env
    assert "affinity" not in statefulset["spec"]["template"]["spec"]
    config = rabbitmq(default_objects, "ConfigMap")["data"]
    assert "cluster.conf" not in config
    assert "peer_discovery" not in config["enabled_plugins"]
    pdbs = chartlib.by_kind(default_objects, "PodDisruptionBudget")
    assert f"{chartlib.RELEASE}-rabbitmq" not in {pdb["metadata"]["name"] for pdb in pdbs}


def test_three_replicas_form_a_cluster_by_peer_discovery(
    cluster_objects: list[dict[str, Any]],
) -> None:
    statefulset = rabbitmq(cluster_objects, "StatefulSet")
    headless = f"{chartlib.RELEASE}-rabbitmq-headless"
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert statefulset["spec"]["serviceName"] == headless
    env = container_env(statefulset)
    assert env["RABBITMQ_USE_LONGNAME"] == "true"
    # Peer discovery derives the seed from the node's own name: <statefulset>-<ordinal>.
    assert env["RABBITMQ_NODENAME"] == f"rabbit@$(POD_NAME).{headless}.$(POD_NAMESPACE)"
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    config = rabbitmq(cluster_objects, "ConfigMap")["data"]
    assert "rabbitmq_peer_discovery_k8s" in config["enabled_plugins"]
    settings = dict(
        (part.strip() for part in line.split("=", 1))
        for line in config["cluster.conf"].splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    assert settings == {
        "cluster_formation.peer_discovery_backend": "k8s",
        "cluster_formation.target_cluster_size_hint": "3",
        "quorum_queue.initial_cluster_size": "3",
        "quorum_queue.continuous_membership_reconciliation.enabled": "true",
        "quorum_queue.continuous_membership_reconciliation.target_group_size": "3",
    }
    mounts = statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {
        "subPath": "cluster.conf",
        "mountPath": "/etc/rabbitmq/conf.d/40-taskyard-cluster.conf",
    }.items() <= next(mount for mount in mounts if mount.get("subPath") == "cluster.conf").items()

    service = chartlib.named(cluster_objects, "Service", headless)
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert {"epmd", "dist"} <= {port["name"] for port in service["spec"]["ports"]}


def test_peer_discovery_of_4_1_and_later_needs_no_kubernetes_api(
    cluster_objects: list[dict[str, Any]],
) -> None:
    assert not chartlib.by_kind(cluster_objects, "Role")
    assert not chartlib.by_kind(cluster_objects, "RoleBinding")
    pod = rabbitmq(cluster_objects, "StatefulSet")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False


def test_a_cluster_has_a_disruption_budget_and_soft_anti_affinity(
    cluster_objects: list[dict[str, Any]],
) -> None:
    selector = rabbitmq(cluster_objects, "StatefulSet")["spec"]["selector"]["matchLabels"]
    pdb = rabbitmq(cluster_objects, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    affinity = rabbitmq(cluster_objects, "StatefulSet")["spec"]["template"]["spec"]["affinity"]
    assert set(affinity["podAntiAffinity"]) == {"preferredDuringSchedulingIgnoredDuringExecution"}
    (term,) = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"] == {"matchLabels": selector}


def test_an_affinity_from_values_replaces_the_default(helm: str) -> None:
    own = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["brokers"]}]}
                ]
            }
        }
    }
    objects = chartlib.helm_template(helm, values={"rabbitmq": {"replicas": 3, "affinity": own}})
    assert rabbitmq(objects, "StatefulSet")["spec"]["template"]["spec"]["affinity"] == own


def test_members_reach_each_other_through_the_network_policy(
    cluster_objects: list[dict[str, Any]],
) -> None:
    policy = rabbitmq(cluster_objects, "NetworkPolicy")
    selector = rabbitmq(cluster_objects, "StatefulSet")["spec"]["selector"]["matchLabels"]
    rules = [
        rule
        for rule in policy["spec"]["ingress"]
        if {port["port"] for port in rule["ports"]} == {"epmd", "dist"}
    ]
    assert rules == [
        {
            "ports": [{"port": "epmd", "protocol": "TCP"}, {"port": "dist", "protocol": "TCP"}],
            "from": [{"podSelector": {"matchLabels": selector}}],
        }
    ]


def test_clients_reach_the_cluster_through_its_service(
    cluster_objects: list[dict[str, Any]],
) -> None:
    """The Service spreads connections over the ready members; a client whose member dies
    reconnects to the same address and lands on a live one."""
    secret = chartlib.secret_data(
        chartlib.named(cluster_objects, "Secret", f"{chartlib.RELEASE}-connections")
    )
    service = f"@{chartlib.RELEASE}-rabbitmq.{chartlib.NAMESPACE}.svc:"
    assert service in secret["broker-url"]
    assert service in secret["rabbitmq-management-url"]
    service_spec = rabbitmq(cluster_objects, "Service")["spec"]
    assert (
        service_spec["selector"]
        == rabbitmq(cluster_objects, "StatefulSet")["spec"]["selector"]["matchLabels"]
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 2}, "rabbitmq.replicas must be 1 or odd"),
        ({"replicas": 4}, "rabbitmq.replicas must be 1 or odd"),
        ({"replicas": 3, "image": {"tag": "4.0.9-management"}}, "needs RabbitMQ 4.1 or later"),
        ({"replicas": 3, "image": {"tag": "3.13-management"}}, "needs RabbitMQ 4.1 or later"),
    ],
)
def test_a_cluster_the_chart_cannot_form_is_refused(
    helm: str, values: dict[str, Any], message: str
) -> None:
    result = chartlib.helm_template_raw(helm, values={"rabbitmq": values})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("tag", ["4.1-management", "4.2.9-management", "4.10-management"])
def test_a_cluster_on_4_1_or_later_renders(helm: str, tag: str) -> None:
    values = {"rabbitmq": {"replicas": 3, "image": {"tag": tag}}}
    assert chartlib.helm_template_raw(helm, values=values).returncode == 0
