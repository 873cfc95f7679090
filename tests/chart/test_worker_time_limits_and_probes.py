"""Worker Deployments: time limits, the shutdown grace covering them, the heartbeat probes."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import chartlib
import pytest

from taskyard_common.settings import Settings
from taskyard_common.topology import TASK_TYPES, parse_queue_name

DEFAULT_MARGIN_SECONDS = 30


def _settings_env(container: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, str]:
    """The container's ConfigMap and plain environment: what the time limits come from
    (the Secrets of some scenarios exist only in the cluster)."""
    configmaps = {o["metadata"]["name"]: o["data"] for o in chartlib.by_kind(objects, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]])
    env.update({v["name"]: v["value"] for v in container.get("env") or [] if "value" in v})
    return env


def _workers(objects: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """queue -> (pod spec, settings environment of the worker container)."""
    found = {}
    for deployment in chartlib.worker_deployments(objects):
        spec = deployment["spec"]["template"]["spec"]
        queue = deployment["spec"]["template"]["metadata"]["labels"]["taskyard.io/queue"]
        found[queue] = (spec, _settings_env(spec["containers"][0], objects))
    return found


def test_chart_time_limits_are_the_settings_defaults(default_objects):
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for _, env in _workers(default_objects).values():
        for task_type in TASK_TYPES:
            name = f"TASKYARD_{task_type.upper()}_TIME_LIMIT_SECONDS"
            assert int(env[name]) == defaults.time_limit_seconds(task_type)
        grace = int(env["TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS"])
        assert grace == defaults.hard_time_limit_grace_seconds


def test_the_api_reads_the_same_time_limits(default_objects):
    api = chartlib.named(default_objects, "Deployment", f"{chartlib.RELEASE}-api")
    env = _settings_env(api["spec"]["template"]["spec"]["containers"][0], default_objects)
    assert env["TASKYARD_DATA_TIME_LIMIT_SECONDS"] == "600"
    assert env["TASKYARD_EMAIL_TIME_LIMIT_SECONDS"] == "60"
    assert env["TASKYARD_FILE_TIME_LIMIT_SECONDS"] == "900"
    assert env["TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS"] == "10"


@pytest.mark.parametrize("scenario", sorted(chartlib.SCENARIOS))
def test_a_stopping_worker_can_wait_for_its_tasks_time_limit(render, scenario):
    for queue, (spec, env) in _workers(render(scenario)).items():
        task_type = parse_queue_name(queue)[0]
        limit = int(env[f"TASKYARD_{task_type.upper()}_TIME_LIMIT_SECONDS"])
        hard = limit + int(env["TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS"])
        assert spec["terminationGracePeriodSeconds"] >= hard, queue
        soft_shutdown = float(env["TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS"])
        assert spec["terminationGracePeriodSeconds"] > soft_shutdown, queue


def test_default_grace_per_type(default_objects):
    hard_limits = {"data": 610, "email": 70, "file": 910}
    for queue, (spec, _) in _workers(default_objects).items():
        hard = hard_limits[parse_queue_name(queue)[0]]
        assert spec["terminationGracePeriodSeconds"] == hard + DEFAULT_MARGIN_SECONDS


def test_a_type_limit_moves_its_grace_and_the_api_limit(helm):
    values = {
        "config": {"hardTimeLimitGraceSeconds": 5},
        "workers": {
            "types": {"email": {"timeLimitSeconds": 120}},
            "defaults": {"shutdownMarginSeconds": 15},
            "overrides": {"data.high": {"terminationGracePeriodSeconds": 2000}},
        },
    }
    objects = chartlib.helm_template(helm, values)
    workers = _workers(objects)
    spec, env = workers["email.low"]
    assert env["TASKYARD_EMAIL_TIME_LIMIT_SECONDS"] == "120"
    assert env["TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS"] == "5"
    assert spec["terminationGracePeriodSeconds"] == 120 + 5 + 15
    assert workers["data.high"][0]["terminationGracePeriodSeconds"] == 2000
    assert workers["data.normal"][0]["terminationGracePeriodSeconds"] == 600 + 5 + 15


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"workers": {"overrides": {"file.low": {"terminationGracePeriodSeconds": 900}}}},
            "terminationGracePeriodSeconds (900) of file.low is shorter than its time limit"
            " + config.hardTimeLimitGraceSeconds (910)",
        ),
        (
            {"workers": {"defaults": {"terminationGracePeriodSeconds": 60}}},
            "terminationGracePeriodSeconds (60) of data.high is shorter than its time limit",
        ),
        (
            {"workers": {"types": {"email": {"softShutdownTimeoutSeconds": 100}}}},
            "terminationGracePeriodSeconds (100) must exceed softShutdownTimeoutSeconds (100)",
        ),
    ],
)
def test_a_grace_shorter_than_the_time_limit_fails_the_render(helm, values, message):
    result = chartlib.helm_template_raw(helm, values)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def _heartbeat_command(spec: dict[str, Any], probe: str) -> list[str]:
    command: list[str] = spec["containers"][0][probe]["exec"]["command"]
    return command


def test_every_worker_has_heartbeat_probes(default_objects):
    for queue, (spec, env) in _workers(default_objects).items():
        container = spec["containers"][0]
        path = env["TASKYARD_WORKER_HEARTBEAT_PATH"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert str(Path(path).parents[-2]) in mounts, (queue, path)  # the /tmp emptyDir
        interval = float(env["TASKYARD_WORKER_HEARTBEAT_INTERVAL_SECONDS"])
        liveness = container["livenessProbe"]
        startup = container["startupProbe"]
        assert liveness["exec"]["command"] == startup["exec"]["command"]
        assert "-le 60" in liveness["exec"]["command"][-1]
        assert 3 * interval <= 60, "a few missed beats must not restart the worker"
        assert (liveness["periodSeconds"], liveness["failureThreshold"]) == (30, 3)
        # A hung worker is killed after 30 s, not after the pod's long grace.
        assert liveness["terminationGracePeriodSeconds"] == 30
        assert spec["terminationGracePeriodSeconds"] > liveness["terminationGracePeriodSeconds"]
        assert startup["periodSeconds"] * startup["failureThreshold"] == 300
        assert "readinessProbe" not in container, "a worker takes no traffic"


def test_probes_can_be_turned_off(helm):
    objects = chartlib.helm_template(
        helm, {"workers": {"defaults": {"livenessProbe": {"enabled": False}}}}
    )
    for spec, _ in _workers(objects).values():
        assert "livenessProbe" not in spec["containers"][0]
        assert "startupProbe" not in spec["containers"][0]


def _run_probe(command: list[str], path: Path) -> int:
    env = {**os.environ, "TASKYARD_WORKER_HEARTBEAT_PATH": str(path)}
    return subprocess.run(command, env=env, check=False, timeout=10).returncode


def test_the_probe_command_checks_the_heartbeat_age(default_objects, tmp_path):
    spec, _ = _workers(default_objects)["data.normal"]
    command = _heartbeat_command(spec, "livenessProbe")
    heartbeat = tmp_path / "heartbeat"
    assert _run_probe(command, heartbeat) != 0, "no heartbeat yet"
    heartbeat.touch()
    assert _run_probe(command, heartbeat) == 0
    stale = time.time() - 61
    os.utime(heartbeat, (stale, stale))
    assert _run_probe(command, heartbeat) != 0
