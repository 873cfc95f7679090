"""Pod Security Standards "restricted", Secrets without defaults, NetworkPolicies."""

from __future__ import annotations

import json

import chartlib
import pytest
import yaml

ALLOWED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
TASKYARD_IMAGES = (
    "taskyard/api",
    "taskyard/data-worker",
    "taskyard/email-worker",
    "taskyard/file-worker",
)


def effective(spec, container, field):
    return (container.get("securityContext") or {}).get(
        field, (spec.get("securityContext") or {}).get(field)
    )


@pytest.mark.parametrize("scenario", sorted(chartlib.SCENARIOS))
def test_every_pod_meets_pss_restricted(render, scenario):
    specs = list(chartlib.pod_specs(render(scenario)))
    assert len(specs) >= 11
    for name, spec in specs:
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(field), f"{name}: {field}"
        assert spec.get("automountServiceAccountToken") is False, name
        for volume in spec.get("volumes") or []:
            kinds = set(volume) - {"name"}
            assert kinds <= ALLOWED_VOLUME_TYPES, f"{name}: volume {volume}"
        tmp_volumes = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
        for container in chartlib.all_containers(spec):
            where = f"{name}/{container['name']}"
            context = container.get("securityContext") or {}
            assert context.get("allowPrivilegeEscalation") is False, where
            assert "ALL" in (context.get("capabilities") or {}).get("drop", []), where
            assert set((context.get("capabilities") or {}).get("add", [])) <= {
                "NET_BIND_SERVICE"
            }, where
            assert not context.get("privileged"), where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert effective(spec, container, "runAsNonRoot") is True, where
            user = effective(spec, container, "runAsUser")
            assert user is not None and user != 0, where
            seccomp = effective(spec, container, "seccompProfile") or {}
            assert seccomp.get("type") in ("RuntimeDefault", "Localhost"), where
            for port in container.get("ports") or []:
                assert "hostPort" not in port, where
            if container["image"].startswith(TASKYARD_IMAGES):
                assert user == 10001, where
                assert effective(spec, container, "runAsGroup") == 10001, where
            # The only writable paths: /tmp (emptyDir) and data volumes.
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
            if container["name"] != "erlang-cookie":
                assert mounts.get("/tmp") in tmp_volumes, f"{where}: no emptyDir at /tmp"
            assert container.get("resources", {}).get("limits", {}).get("memory"), where


def test_no_secret_literal_in_values():
    """No value that holds a secret has a default in values.yaml."""
    values = yaml.safe_load((chartlib.CHART_DIR / "values.yaml").read_text())
    secretish = (
        "password",
        "secretaccesskey",
        "accesskeyid",
        "url",
        "managementurl",
        "cookie",
        "token",
        "apikey",
    )

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, str):
            key = path[-1].lower()
            if key.endswith(("key", "keys")) or key == "passwordkey":
                return  # names of keys inside Secrets, not secrets
            if any(word == key for word in secretish):
                assert node == "", f"{'.'.join(path)} has a default value"

    walk(values, ())


def test_no_secret_literal_in_default_render(helm, default_objects):
    """Generated Secrets differ on every fresh render (nothing fixed in the chart), and
    no secret value shows up outside a Secret."""
    second = chartlib.helm_template(helm)
    first_secrets = {
        s["metadata"]["name"]: chartlib.secret_data(s)
        for s in chartlib.by_kind(default_objects, "Secret")
    }
    second_secrets = {
        s["metadata"]["name"]: chartlib.secret_data(s) for s in chartlib.by_kind(second, "Secret")
    }
    assert set(first_secrets) == {
        "taskyard-api-keys",
        "taskyard-callbacks",
        "taskyard-connections",
        "taskyard-console",
        "taskyard-flower",
        "taskyard-rabbitmq",
        "taskyard-redis",
    }
    generated = {
        ("taskyard-api-keys", "api-keys"),
        ("taskyard-console", "session-secret"),
        ("taskyard-flower", "password"),
        ("taskyard-flower", "cookie-secret"),
        ("taskyard-rabbitmq", "password"),
        ("taskyard-rabbitmq", "erlang-cookie"),
        ("taskyard-redis", "password"),
    }
    secret_values = set()
    for name, key in generated:
        value = first_secrets[name][key]
        assert len(value) >= 24, (name, key)
        assert value != second_secrets[name][key], f"{name}/{key} is the same on two renders"
        secret_values.add(value)
    for name, data in first_secrets.items():
        assert data != second_secrets[name], name
    outside = json.dumps([o for o in default_objects if o["kind"] != "Secret"])
    for value in secret_values:
        assert value not in outside
    for obj in default_objects:
        for _, spec in chartlib.pod_specs([obj]):
            for container in chartlib.all_containers(spec):
                for var in container.get("env") or []:
                    lowered = var["name"].lower()
                    if any(w in lowered for w in ("password", "secret", "_url", "auth", "cookie")):
                        assert "value" not in var or not var["value"].count("@"), var
                        if "PASSWORD" in var["name"] or "SECRET" in var["name"]:
                            assert "valueFrom" in var, f"{var['name']} is a literal"


def test_generated_values_are_consistent(default_objects):
    """The URLs carry the same passwords the servers get."""
    secrets = {
        s["metadata"]["name"]: chartlib.secret_data(s)
        for s in chartlib.by_kind(default_objects, "Secret")
    }
    rabbit = secrets["taskyard-rabbitmq"]
    redis = secrets["taskyard-redis"]
    urls = secrets["taskyard-connections"]
    assert urls["broker-url"] == (
        f"amqp://taskyard:{rabbit['password']}@taskyard-rabbitmq.taskyard.svc:5672/%2F"
    )
    assert urls["rabbitmq-management-url"] == (
        f"http://taskyard:{rabbit['password']}@taskyard-rabbitmq.taskyard.svc:15672"
    )
    assert urls["redis-url"] == f"redis://:{redis['password']}@taskyard-redis.taskyard.svc:6379/0"
    flower = secrets["taskyard-flower"]
    assert flower["basic-auth"] == f"admin:{flower['password']}"
    # The servers read the same Secrets.
    rabbitmq = chartlib.named(default_objects, "StatefulSet", "taskyard-rabbitmq")
    (definitions,) = [
        c
        for c in rabbitmq["spec"]["template"]["spec"]["initContainers"]
        if c["name"] == "definitions"
    ]
    env = chartlib.resolve_env(definitions, default_objects)
    assert env["RABBITMQ_USERNAME"] == "taskyard"
    assert env["RABBITMQ_PASSWORD"] == rabbit["password"]
    redis_set = chartlib.named(default_objects, "StatefulSet", "taskyard-redis")
    container = redis_set["spec"]["template"]["spec"]["containers"][0]
    env = chartlib.resolve_env(container, default_objects)
    assert env["REDIS_PASSWORD"] == redis["password"]
    assert "$(REDIS_PASSWORD)" in container["args"]


def test_generated_secrets_are_kept(default_objects):
    for name in (
        "taskyard-api-keys",
        "taskyard-callbacks",
        "taskyard-console",
        "taskyard-flower",
        "taskyard-rabbitmq",
        "taskyard-redis",
    ):
        secret = chartlib.named(default_objects, "Secret", name)
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    helpers = (chartlib.CHART_DIR / "templates" / "_secrets.tpl").read_text()
    assert 'lookup "v1" "Secret"' in helpers


def test_existing_secrets_are_used_not_generated(render):
    objects = render("existing-secrets")
    assert not chartlib.by_kind(objects, "Secret")
    api = chartlib.named(objects, "Deployment", "taskyard-api")
    spec = api["spec"]["template"]["spec"]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in spec["containers"][0]["env"]
        if "valueFrom" in e
    }
    assert refs["TASKYARD_BROKER_URL"] == {"name": "my-connections", "key": "broker-url"}
    assert refs["TASKYARD_REDIS_URL"] == {"name": "my-connections", "key": "redis-url"}
    assert refs["AWS_SECRET_ACCESS_KEY"]["name"] == "my-s3"
    assert refs["TASKYARD_UI_SESSION_SECRET"] == {"name": "my-console", "key": "secret"}
    (keys,) = [v for v in spec["volumes"] if v["name"] == "api-keys"]
    assert keys["secret"] == {
        "secretName": "my-api-keys",
        "items": [{"key": "keys.txt", "path": "api-keys"}],
    }
    rabbitmq = chartlib.named(objects, "StatefulSet", "taskyard-rabbitmq")
    (definitions,) = [
        c
        for c in rabbitmq["spec"]["template"]["spec"]["initContainers"]
        if c["name"] == "definitions"
    ]
    env = {e["name"]: e for e in definitions["env"]}
    assert env["RABBITMQ_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "my-rabbitmq",
        "key": "rabbitmq-password",
    }
    flower = chartlib.named(objects, "Deployment", "taskyard-flower")
    env = {e["name"]: e for e in flower["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TASKYARD_FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]["name"] == "my-flower"
    (auth,) = chartlib.by_kind(objects, "TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"][0]["name"] == "my-connections"
    email = chartlib.named(objects, "Deployment", "taskyard-email-worker-high")
    env = {e["name"]: e for e in email["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TASKYARD_SMTP_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "my-smtp"


def test_existing_password_secret_needs_connections_secret(helm):
    result = chartlib.helm_template_raw(helm, {"rabbitmq": {"auth": {"existingSecret": "x"}}})
    assert result.returncode != 0
    assert "connections.existingSecret" in result.stderr


def test_external_services(render):
    objects = render("external")
    assert not chartlib.by_kind(objects, "StatefulSet")
    components = {
        o["metadata"]["labels"]["app.kubernetes.io/component"]
        for o in objects
        if "labels" in o["metadata"] and o["kind"] != "ServiceAccount"
    }
    assert not components & {"rabbitmq", "redis"}
    assert not [
        o
        for o in chartlib.by_kind(objects, "NetworkPolicy")
        if o["metadata"]["name"] in ("taskyard-rabbitmq", "taskyard-redis")
    ]
    urls = chartlib.secret_data(chartlib.named(objects, "Secret", "taskyard-connections"))
    external = chartlib.EXTERNAL_VALUES
    assert urls["broker-url"] == external["externalRabbitmq"]["url"]
    assert urls["rabbitmq-management-url"] == external["externalRabbitmq"]["managementUrl"]
    assert urls["redis-url"] == external["externalRedis"]["url"]
    for scaled in chartlib.by_kind(objects, "ScaledObject"):
        assert scaled["spec"]["triggers"][0]["metadata"]["vhostName"] == "taskyard"


def test_external_services_need_urls(helm):
    result = chartlib.helm_template_raw(helm, {"rabbitmq": {"enabled": False}})
    assert result.returncode != 0
    assert "externalRabbitmq.url is required" in result.stderr


def test_s3_storage(render):
    objects = render("s3")
    assert not chartlib.by_kind(objects, "PersistentVolumeClaim")
    config = chartlib.named(objects, "ConfigMap", "taskyard-config")["data"]
    assert config["TASKYARD_STORAGE_URL"] == "s3://taskyard-files/prod"
    assert config["TASKYARD_S3_REGION"] == "eu-west-1"
    assert config["TASKYARD_S3_ENDPOINT_URL"] == "https://s3.example.com"
    for deployment in chartlib.by_kind(objects, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        assert not any("persistentVolumeClaim" in v for v in spec.get("volumes") or [])
        # Flower and the callback worker read no files.
        if deployment["metadata"]["name"] in ("taskyard-flower", "taskyard-callback-worker"):
            continue
        env = chartlib.resolve_env(spec["containers"][0], objects)
        assert env["AWS_ACCESS_KEY_ID"] == "AKIATESTKEY"
        assert env["AWS_SECRET_ACCESS_KEY"] == "s3-secret-from-user"


def test_pvc_storage_is_shared_by_api_and_workers(default_objects):
    (claim,) = chartlib.by_kind(default_objects, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    users = []
    for deployment in chartlib.by_kind(default_objects, "Deployment"):
        volumes = deployment["spec"]["template"]["spec"].get("volumes") or []
        if any(
            v.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"]
            for v in volumes
        ):
            users.append(deployment["metadata"]["name"])
    assert "taskyard-api" in users
    assert len(users) == 10  # the API and the nine workers


def _policy(objects, name):
    return chartlib.named(objects, "NetworkPolicy", name)["spec"]


def _components(peer):
    selector = peer.get("podSelector") or {}
    for expression in selector.get("matchExpressions") or []:
        if expression["key"] == "app.kubernetes.io/component":
            return set(expression["values"])
    component = (selector.get("matchLabels") or {}).get("app.kubernetes.io/component")
    return {component} if component else set()


def test_network_policies(default_objects):
    rabbitmq = _policy(default_objects, "taskyard-rabbitmq")
    by_port = {rule["ports"][0]["port"]: rule["from"] for rule in rabbitmq["ingress"]}
    assert set(by_port) == {"amqp", "management"}
    assert _components(by_port["amqp"][0]) == {"api", "worker", "flower"}
    assert _components(by_port["management"][0]) == {"api", "flower"}
    keda = by_port["management"][1]
    assert keda["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "keda"}
    assert keda["podSelector"]["matchLabels"] == {"app": "keda-operator"}

    redis = _policy(default_objects, "taskyard-redis")
    (rule,) = redis["ingress"]
    assert _components(rule["from"][0]) == {"api", "worker"}

    # Flower and the workers: Prometheus only (monitoring.prometheusSelector), on the
    # one port each serves metrics on; test_monitoring.py checks the details.
    prometheus = chartlib.PROMETHEUS_PEER
    flower = _policy(default_objects, "taskyard-flower")
    assert flower["policyTypes"] == ["Ingress"]
    assert flower["ingress"] == [
        {"ports": [{"port": "http", "protocol": "TCP"}], "from": [prometheus]}
    ]
    workers = _policy(default_objects, "taskyard-workers")
    assert workers["ingress"] == [
        {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [prometheus]}
    ]
    api = _policy(default_objects, "taskyard-api")
    assert api["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    # Every peer selector of the policies selects real pods of the release.
    components = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for d in chartlib.by_kind(default_objects, "Deployment")
    }
    assert {"api", "worker", "flower"} <= components


def test_flower_ingress_can_be_opened_for_monitoring(helm):
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    objects = chartlib.helm_template(helm, {"flower": {"networkPolicy": {"ingressFrom": [peer]}}})
    (rule,) = _policy(objects, "taskyard-flower")["ingress"]
    assert rule["from"][0] == peer
    assert len(rule["from"]) == 2  # and Prometheus (monitoring.prometheusSelector)


def test_the_console_session_secret_is_generated_long_and_reaches_the_api(default_objects):
    secret = chartlib.secret_data(chartlib.named(default_objects, "Secret", "taskyard-console"))
    assert len(secret["session-secret"]) >= 32  # TASKYARD_UI_SESSION_SECRET's minimum
    api = chartlib.named(default_objects, "Deployment", "taskyard-api")
    env = chartlib.resolve_env(api["spec"]["template"]["spec"]["containers"][0], default_objects)
    assert env["TASKYARD_UI_SESSION_SECRET"] == secret["session-secret"]
    assert env["TASKYARD_UI_SECURE_COOKIE"] == "always"
    assert int(env["TASKYARD_UI_SESSION_LIFETIME_SECONDS"]) == 8 * 3600
