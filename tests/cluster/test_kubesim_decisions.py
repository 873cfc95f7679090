"""The emulation's decisions as tables (no Docker needed: these run in `make test`)."""

from __future__ import annotations

import pytest
from kubesim.cluster import rolling_bounds
from kubesim.dns import candidates
from kubesim.images import RABBITMQ, VALKEY, local_image, repository_of
from kubesim.keda import State, hpa_desired, limit_scale_down, queue_url
from kubesim.storage import binding


@pytest.mark.parametrize(
    ("host", "vhost", "queue", "url"),
    [
        ("http://u:p@rmq:15672", "/", "data.low", "http://u:p@rmq:15672/api/queues/%2F/data.low"),
        ("http://u:p@rmq:15672", "", "data.low", "http://u:p@rmq:15672/api/queues/%2F/data.low"),
        ("http://u:p@rmq:15672/", "", "q", "http://u:p@rmq:15672/api/queues/%2F/q"),
        ("http://u:p@rmq:15672/prod", "", "a b", "http://u:p@rmq:15672/api/queues/prod/a+b"),
        ("http://rmq:15672/mgmt/prod", "", "q", "http://rmq:15672/mgmt/api/queues/prod/q"),
        ("http://rmq:15672", "team/a", "q", "http://rmq:15672/api/queues/team%2Fa/q"),
    ],
)
def test_queue_url_follows_kedas_rabbitmq_scaler(host, vhost, queue, url):
    assert queue_url(host, vhost, queue) == url


@pytest.mark.parametrize(
    ("current", "metric", "target", "low", "high", "desired"),
    [
        (1, 200, 20, 1, 3, 3),  # ceil(200/20) = 10, capped at max
        (2, 40, 20, 1, 5, 2),  # exactly on target
        (2, 43, 20, 1, 5, 2),  # within the 10% tolerance
        (2, 50, 20, 1, 5, 3),
        (3, 0, 20, 1, 5, 1),  # never below max(min, 1): zero is KEDA's decision
        (0, 100, 20, 0, 5, 0),  # at zero the HPA does nothing
    ],
)
def test_hpa_formula(current, metric, target, low, high, desired):
    assert hpa_desired(current, metric, target, low, high) == desired


def test_scale_down_waits_for_the_stabilization_window_and_steps_by_policy():
    behavior = {
        "scaleDown": {
            "stabilizationWindowSeconds": 10,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 5}],
        }
    }
    state = State("w", "ns")
    state.recommendations = [(0.0, 3)]
    assert limit_scale_down(3, 1, behavior, state, now=5.0) == 3  # 3 still in the window
    assert limit_scale_down(3, 1, behavior, state, now=11.0) == 2  # one pod per period
    state.scale_downs.append((11.0, 1))
    assert limit_scale_down(2, 1, behavior, state, now=13.0) == 2  # period not over
    assert limit_scale_down(2, 1, behavior, state, now=16.5) == 1


@pytest.mark.parametrize(
    ("spec", "phase", "reason_part"),
    [
        ({"accessModes": ["ReadWriteOnce"]}, "Bound", ""),
        ({"accessModes": ["ReadWriteOncePod"]}, "Bound", ""),
        ({"accessModes": ["ReadWriteMany"]}, "Pending", "NodePath only supports"),
        ({"accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}, "Pending", "NodePath only supports"),
        ({"accessModes": ["ReadWriteOnce"], "storageClassName": "fast"}, "Pending", "not found"),
        ({"accessModes": ["ReadWriteOnce"], "storageClassName": ""}, "Pending", "no storage class"),
        ({"accessModes": ["ReadWriteOnce"], "storageClassName": "standard"}, "Bound", ""),
    ],
)
def test_default_storage_class_binds_like_local_path(spec, phase, reason_part):
    found_phase, reason = binding(spec)
    assert found_phase == phase
    assert reason_part in reason


@pytest.mark.parametrize(
    ("name", "namespace", "asked"),
    [
        (
            "taskyard-rabbitmq",
            "keda",
            [
                "taskyard-rabbitmq.keda.svc.cluster.local",
                "taskyard-rabbitmq.svc.cluster.local",
                "taskyard-rabbitmq.cluster.local",
                "taskyard-rabbitmq",
            ],
        ),
        (
            "rmq.taskyard.svc",
            "keda",
            [
                "rmq.taskyard.svc.keda.svc.cluster.local",
                "rmq.taskyard.svc.svc.cluster.local",
                "rmq.taskyard.svc.cluster.local",
                "rmq.taskyard.svc",
            ],
        ),
        ("rmq.taskyard.svc.cluster.local.", "keda", ["rmq.taskyard.svc.cluster.local"]),
    ],
)
def test_resolver_search_path_of_a_pod(name, namespace, asked):
    assert candidates(name, namespace) == asked


@pytest.mark.parametrize(
    ("strategy", "replicas", "bounds"),
    [
        ({}, 1, (1, 0)),
        ({}, 4, (1, 1)),
        ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}, 2, (0, 1)),
        ({"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "0%"}}, 3, (2, 0)),
        ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, 2, (1, 0)),
    ],
)
def test_rolling_update_bounds(strategy, replicas, bounds):
    assert rolling_bounds({"strategy": strategy}, replicas) == bounds


@pytest.mark.parametrize(
    ("reference", "repository", "image"),
    [
        ("rabbitmq:3.13-management", "rabbitmq", RABBITMQ.tag),
        ("docker.io/library/rabbitmq:4.0-management", "library/rabbitmq", RABBITMQ.tag),
        ("redis:7", "redis", VALKEY.tag),
        ("valkey/valkey:8.1", "valkey/valkey", VALKEY.tag),
        ("registry.local:5000/valkey/valkey:8", "valkey/valkey", VALKEY.tag),
        ("taskyard/api:0.1.0", "taskyard/api", "taskyard/api:0.1.0"),
    ],
)
def test_stand_in_images_replace_the_official_ones(reference, repository, image):
    assert repository_of(reference) == repository
    assert local_image(reference) == image
