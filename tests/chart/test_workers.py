"""Worker Deployments and ScaledObjects follow the queue topology of taskyard_common."""

from __future__ import annotations

import chartlib
import pytest

from taskyard_common.topology import PRIORITIES, QUEUE_NAMES, parse_queue_name

WORKER_NAME = f"{chartlib.RELEASE}-{{type}}-worker-{{priority}}"


def deployment_name(queue: str) -> str:
    task_type, priority = parse_queue_name(queue)
    return WORKER_NAME.format(type=task_type, priority=priority)


def workers_by_queue(objects):
    result = {}
    for deployment in chartlib.worker_deployments(objects):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        command = container["command"]
        assert command[1] == "--priority", command
        task_type = command[0].removeprefix("taskyard-").removesuffix("-worker")
        queue = f"{task_type}.{command[2]}"
        assert queue not in result, f"two Deployments consume {queue}"
        result[queue] = deployment
    return result


@pytest.mark.parametrize("scenario", sorted(chartlib.SCENARIOS))
def test_one_worker_deployment_per_queue(render, scenario):
    workers = workers_by_queue(render(scenario))
    assert sorted(workers) == sorted(QUEUE_NAMES)
    assert len(workers) == 9
    for queue, deployment in workers.items():
        task_type, priority = parse_queue_name(queue)
        assert deployment["metadata"]["name"] == deployment_name(queue)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["taskyard.io/queue"] == queue
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"].endswith(f"taskyard/{task_type}-worker:0.1.0")
        assert container["command"] == [f"taskyard-{task_type}-worker", "--priority", priority]


def test_worker_environment_and_grace_period(default_objects):
    for queue, deployment in workers_by_queue(default_objects).items():
        spec = deployment["spec"]["template"]["spec"]
        env = chartlib.resolve_env(spec["containers"][0], default_objects)
        soft = float(env["TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS"])
        assert spec["terminationGracePeriodSeconds"] > soft, queue
        assert int(env["TASKYARD_WORKER_CONCURRENCY"]) >= 1
        assert env["TASKYARD_BROKER_URL"].startswith("amqp://taskyard:")
        assert "@taskyard-rabbitmq.taskyard.svc:5672/" in env["TASKYARD_BROKER_URL"]
        assert env["TASKYARD_REDIS_URL"].startswith("redis://:")
        assert "@taskyard-redis.taskyard.svc:6379/0" in env["TASKYARD_REDIS_URL"]
        assert env["TASKYARD_STORAGE_URL"] == "file:///var/lib/taskyard/files"
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert "/var/lib/taskyard/files" in mounts


@pytest.mark.parametrize("scenario", ["default", "external", "s3", "existing-secrets", "kind"])
def test_one_scaled_object_per_queue(render, scenario):
    objects = render(scenario)
    workers = workers_by_queue(objects)
    scaled = chartlib.worker_scaled_objects(objects)
    assert len(scaled) == 9
    auths = {a["metadata"]["name"]: a for a in chartlib.by_kind(objects, "TriggerAuthentication")}
    assert len(auths) == 1
    seen = set()
    for obj in scaled:
        spec = obj["spec"]
        (trigger,) = spec["triggers"]
        queue = trigger["metadata"]["queueName"]
        seen.add(queue)
        assert spec["scaleTargetRef"]["name"] == workers[queue]["metadata"]["name"]
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        assert "replicas" not in workers[queue]["spec"], "KEDA owns the replica count"
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["protocol"] == "http"
        assert trigger["metadata"]["mode"] == "QueueLength"
        assert float(trigger["metadata"]["value"]) > 0
        auth = auths[trigger["authenticationRef"]["name"]]
        (ref,) = auth["spec"]["secretTargetRef"]
        assert ref["parameter"] == "host"
        _, priority = parse_queue_name(queue)
        if priority == "low":
            assert spec["minReplicaCount"] == 0, queue
        else:
            assert spec["minReplicaCount"] >= 1, queue
        assert spec["maxReplicaCount"] >= max(1, spec["minReplicaCount"])
        behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 30
    assert seen == set(QUEUE_NAMES)


def test_default_keda_tuning(default_objects):
    """Defaults: a value per priority (a tighter target for high), and a scale-down
    window longer than a typical task (minutes)."""
    values = {}
    for obj in chartlib.worker_scaled_objects(default_objects):
        (trigger,) = obj["spec"]["triggers"]
        _, priority = parse_queue_name(trigger["metadata"]["queueName"])
        values.setdefault(priority, set()).add(float(trigger["metadata"]["value"]))
        window = obj["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"][
            "stabilizationWindowSeconds"
        ]
        assert window >= 300
    assert set(values) == set(PRIORITIES)
    assert all(len(v) == 1 for v in values.values())
    high, normal, low = (min(values[p]) for p in ("high", "normal", "low"))
    assert high < normal < low


def test_trigger_authentication_reads_management_url(default_objects):
    (auth,) = chartlib.by_kind(default_objects, "TriggerAuthentication")
    (ref,) = auth["spec"]["secretTargetRef"]
    secret = chartlib.named(default_objects, "Secret", ref["name"])
    host = chartlib.secret_data(secret)[ref["key"]]
    assert host.startswith("http://taskyard:")
    assert host.endswith("@taskyard-rabbitmq.taskyard.svc:15672")


@pytest.mark.parametrize("scenario", ["keda-off", "keda-crds-missing"])
def test_without_keda_workers_have_fixed_replicas(render, scenario):
    objects = render(scenario)
    assert not chartlib.by_kind(objects, "ScaledObject")
    assert not chartlib.by_kind(objects, "TriggerAuthentication")
    for deployment in chartlib.worker_deployments(objects):
        assert deployment["spec"]["replicas"] == 1


def test_keda_without_crd_check_renders_offline(helm):
    objects = chartlib.helm_template(helm, {"keda": {"checkCrds": False}}, keda_crds=False)
    assert len(chartlib.worker_scaled_objects(objects)) == 9


def test_worker_settings_merge_in_order(helm):
    values = {
        "workers": {
            "defaults": {"concurrency": 2},
            "types": {"file": {"enabled": True, "concurrency": 3}},
            "priorities": {"low": {"keda": {"minReplicaCount": 0, "maxReplicaCount": 7}}},
            "overrides": {
                "file.low": {"concurrency": 5, "keda": {"maxReplicaCount": 2}},
                "data.high": {"replicas": 0, "keda": {"minReplicaCount": 0}},
            },
        }
    }
    objects = chartlib.helm_template(helm, values)
    workers = workers_by_queue(objects)
    concurrency = {
        q: chartlib.resolve_env(d["spec"]["template"]["spec"]["containers"][0], objects)[
            "TASKYARD_WORKER_CONCURRENCY"
        ]
        for q, d in workers.items()
    }
    assert concurrency["data.normal"] == "2"
    assert concurrency["file.high"] == "3"
    assert concurrency["file.low"] == "5"
    scaled = {
        o["spec"]["triggers"][0]["metadata"]["queueName"]: o["spec"]
        for o in chartlib.worker_scaled_objects(objects)
    }
    assert scaled["file.low"]["maxReplicaCount"] == 2
    assert scaled["data.low"]["maxReplicaCount"] == 7
    # A zero in an override wins over the priority's 1 (mergeOverwrite would drop it).
    assert scaled["data.high"]["minReplicaCount"] == 0


def test_disabled_type_has_no_workers(helm):
    objects = chartlib.helm_template(helm, {"workers": {"types": {"email": {"enabled": False}}}})
    queues = set(workers_by_queue(objects))
    assert queues == {q for q in QUEUE_NAMES if not q.startswith("email.")}
    assert len(chartlib.worker_scaled_objects(objects)) == 6


def test_grace_period_must_exceed_soft_shutdown(helm):
    values = {
        "workers": {
            "defaults": {"softShutdownTimeoutSeconds": 950, "terminationGracePeriodSeconds": 940}
        }
    }
    result = chartlib.helm_template_raw(helm, values)
    assert result.returncode != 0
    assert "must exceed softShutdownTimeoutSeconds" in result.stderr
