"""The callback worker in the chart: its Deployment and ScaledObject on the `callbacks` queue,
its generated signing secret, and the callback settings every pod reads."""

from __future__ import annotations

import chartlib
import pytest

from taskyard_common.settings import Settings
from taskyard_common.topology import CALLBACK_QUEUE_NAME

NAME = f"{chartlib.RELEASE}-callback-worker"


def _container(objects):
    deployment = chartlib.named(objects, "Deployment", NAME)
    return deployment, deployment["spec"]["template"]["spec"]["containers"][0]


def test_one_deployment_consumes_the_callbacks_queue(default_objects) -> None:
    deployment, container = _container(default_objects)
    assert container["command"] == ["taskyard-callback-worker"]
    assert container["image"].startswith("taskyard/callback-worker:")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["taskyard.io/queue"] == CALLBACK_QUEUE_NAME
    # A worker like the others: RabbitMQ's and Redis' policies admit it, the workers' one
    # denies it ingress.
    assert labels["app.kubernetes.io/component"] == "worker"
    assert "replicas" not in deployment["spec"], "KEDA owns the replica count"
    spec = deployment["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 60
    assert "livenessProbe" in container
    # It reads no files: no storage volume, and so no affinity to the files volume's node.
    assert {v["name"] for v in spec["volumes"]} == {"tmp"}
    assert "affinity" not in spec


def test_the_signing_secret_is_generated_and_read_by_the_worker(default_objects) -> None:
    _, container = _container(default_objects)
    env = chartlib.resolve_env(container, default_objects)
    secret = chartlib.secret_data(chartlib.named(default_objects, "Secret", "taskyard-callbacks"))
    assert env["TASKYARD_CALLBACK_SIGNING_SECRET"] == secret["signingSecret"]
    assert len(secret["signingSecret"]) == 48
    assert env["TASKYARD_CALLBACK_MAX_ATTEMPTS"] == "8"
    assert env["TASKYARD_CALLBACK_ALLOWED_HOSTS"] == ""
    assert env["TASKYARD_CALLBACKS_ENABLED"] == "true"
    assert env["TASKYARD_BROKER_URL"].startswith("amqp://")
    assert env["TASKYARD_REDIS_URL"].startswith("redis://")
    settings = Settings(
        _env_file=None,
        **{
            k.removeprefix("TASKYARD_").lower(): v
            for k, v in env.items()
            if k.startswith("TASKYARD_CALLBACK_")
        },
    )  # type: ignore[arg-type]
    assert settings.callback_max_attempts == 8


def test_an_existing_secret_is_used(render) -> None:
    _, container = _container(render("existing-secrets"))
    (ref,) = [e for e in container["env"] if e["name"] == "TASKYARD_CALLBACK_SIGNING_SECRET"]
    assert ref["valueFrom"]["secretKeyRef"] == {"name": "my-callbacks", "key": "signingSecret"}


def test_scaled_on_the_depth_of_the_callbacks_queue(default_objects) -> None:
    scaled = chartlib.named(default_objects, "ScaledObject", NAME)
    assert scaled["spec"]["scaleTargetRef"]["name"] == NAME
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == CALLBACK_QUEUE_NAME
    assert trigger["metadata"]["value"] == "20"
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 5)


def test_settings_reach_the_api_and_the_worker(helm) -> None:
    values = {
        "callbacks": {
            "maxAttempts": 3,
            "allowedHosts": ["hooks.internal", "receiver.default.svc"],
            "worker": {"concurrency": 4, "keda": {"maxReplicaCount": 2}},
        }
    }
    objects = chartlib.helm_template(helm, values)
    config = chartlib.named(objects, "ConfigMap", "taskyard-config")["data"]
    assert config["TASKYARD_CALLBACK_MAX_ATTEMPTS"] == "3"
    assert config["TASKYARD_CALLBACK_ALLOWED_HOSTS"] == "hooks.internal,receiver.default.svc"
    _, container = _container(objects)
    assert chartlib.resolve_env(container, objects)["TASKYARD_WORKER_CONCURRENCY"] == "4"
    assert chartlib.named(objects, "ScaledObject", NAME)["spec"]["maxReplicaCount"] == 2


def test_disabled_renders_no_callback_worker_and_tells_the_api(helm) -> None:
    objects = chartlib.helm_template(helm, {"callbacks": {"enabled": False}})
    names = {o["metadata"]["name"] for o in objects}
    assert NAME not in names
    assert "taskyard-callbacks" not in names
    # The API then refuses callback_url: no worker would ever consume the queue.
    api = chartlib.named(objects, "Deployment", f"{chartlib.RELEASE}-api")
    env = chartlib.resolve_env(api["spec"]["template"]["spec"]["containers"][0], objects)
    assert env["TASKYARD_CALLBACKS_ENABLED"] == "false"
    settings = Settings(
        _env_file=None,
        callbacks_enabled=env["TASKYARD_CALLBACKS_ENABLED"],
    )  # type: ignore[call-arg]
    assert settings.callbacks_enabled is False


@pytest.mark.parametrize("grace", [30, 10])
def test_grace_must_exceed_soft_shutdown(helm, grace: int) -> None:
    result = chartlib.helm_template_raw(
        helm, {"callbacks": {"worker": {"terminationGracePeriodSeconds": grace}}}
    )
    assert result.returncode != 0
    assert "must exceed softShutdownTimeoutSeconds" in result.stderr
