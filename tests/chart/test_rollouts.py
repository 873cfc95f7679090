"""Rollouts and checks: `helm test` passes the API NetworkPolicy, the API drains before it
stops, Flower is probed on its health endpoint, workers.*.args reach Celery."""

from __future__ import annotations

import chartlib
import pytest
from celery import Celery
from celery.bin.base import CLIContext
from celery.bin.worker import worker as celery_worker_command
from gunicorn.config import Config

from taskyard_common.worker_main import celery_worker_arguments

CLIENTS = [{"podSelector": {"matchLabels": {"app": "frontend"}}}]


def selects(peer: dict, labels: dict[str, str]) -> bool:
    """Whether a same-namespace NetworkPolicy peer's podSelector selects a pod's labels."""
    if "namespaceSelector" in peer or "ipBlock" in peer or "podSelector" not in peer:
        return False
    selector = peer["podSelector"]
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        if (
            expression["operator"] != "In"
            or labels.get(expression["key"]) not in expression["values"]
        ):
            return False
    return True


def api_peers(objects) -> list[dict]:
    (rule,) = chartlib.named(objects, "NetworkPolicy", "taskyard-api")["spec"]["ingress"]
    return rule.get("from") or []


def test_helm_test_pod_passes_a_restricted_api_policy(helm):
    objects = chartlib.helm_template(helm, {"api": {"networkPolicy": {"ingressFrom": CLIENTS}}})
    test_pod = chartlib.by_kind(objects, "Pod")[0]
    peers = api_peers(objects)
    assert any(selects(peer, test_pod["metadata"]["labels"]) for peer in peers)
    assert CLIENTS[0] in peers
    # Nothing else of the release is let in by it: workers stay outside.
    worker = chartlib.worker_deployments(objects)[0]["spec"]["template"]["metadata"]["labels"]
    assert not any(selects(peer, worker) for peer in peers)


def test_no_test_peer_without_helm_test(helm):
    objects = chartlib.helm_template(
        helm,
        {"api": {"networkPolicy": {"ingressFrom": CLIENTS}}, "helmTest": {"enabled": False}},
    )
    peers = api_peers(objects)
    assert not any(
        (p.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/component")
        == "test"
        for p in peers
    )


def test_open_api_policy_stays_open(default_objects):
    assert api_peers(default_objects) == []


def api_container(objects):
    deployment = chartlib.named(objects, "Deployment", "taskyard-api")
    return deployment["spec"]["template"]["spec"], deployment["spec"]["template"]["spec"][
        "containers"
    ][0]


@pytest.mark.parametrize(("sleep", "graceful"), [(5, 30), (10, 120)])
def test_api_drains_before_it_stops(helm, sleep, graceful):
    values = {"api": {"preStopSleepSeconds": sleep, "gracefulTimeoutSeconds": graceful}}
    spec, container = api_container(chartlib.helm_template(helm, values))
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(sleep)]
    assert spec["terminationGracePeriodSeconds"] == sleep + graceful + 5
    # gunicorn's own parser reads the command the chart gives it.
    command = container["command"]
    assert command[0] == "gunicorn"
    parsed = Config().parser().parse_args(command[1:] + (container.get("args") or []))
    assert parsed.graceful_timeout == graceful
    assert parsed.config == "/app/gunicorn.conf.py"


def test_prestop_sleep_can_be_turned_off(helm):
    _, container = api_container(chartlib.helm_template(helm, {"api": {"preStopSleepSeconds": 0}}))
    assert "lifecycle" not in container


def test_flower_is_probed_on_its_health_endpoint(default_objects):
    flower = chartlib.named(default_objects, "Deployment", "taskyard-flower")
    container = flower["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthcheck", "port": "http"}, probe
    assert "http" in {p["name"] for p in container["ports"]}


def celery_parse(arguments: list[str]) -> dict:
    context = CLIContext(app=Celery("parse-only"), no_color=True, workdir=None, quiet=True)
    return celery_worker_command.make_context("worker", arguments[1:], obj=context).params


def worker_argv(deployment) -> tuple[str, list[str]]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    task_type = command[0].removeprefix("taskyard-").removesuffix("-worker")
    return task_type, command[1:] + (container.get("args") or [])


def test_worker_args_reach_celery(helm):
    values = {
        "workers": {
            "defaults": {"args": ["--max-tasks-per-child", "100"]},
            "overrides": {"file.high": {"args": ["--max-memory-per-child=300000", "-O", "fair"]}},
        }
    }
    objects = chartlib.helm_template(helm, values)
    for deployment in chartlib.worker_deployments(objects):
        task_type, argv = worker_argv(deployment)
        queue, arguments = celery_worker_arguments(task_type, argv)
        assert queue == deployment["metadata"]["labels"]["taskyard.io/queue"]
        params = celery_parse(arguments)
        assert params["queues"] == [queue]
        if queue == "file.high":
            assert params["max_memory_per_child"] == 300000
            assert params["optimization"] == "fair"
        else:
            assert params["max_tasks_per_child"] == 100


def test_default_worker_command_parses(default_objects):
    for deployment in chartlib.worker_deployments(default_objects):
        task_type, argv = worker_argv(deployment)
        queue, arguments = celery_worker_arguments(task_type, argv)
        assert celery_parse(arguments)["queues"] == [queue]
