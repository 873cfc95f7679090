"""Generated Secrets survive `helm upgrade`: the chart's lookup finds them.

Runs `helm template --dry-run=server` against tests/chart/fakekube.py, a stand-in API
server that holds the Secrets a first install left, and checks the render reuses them.
"""

from __future__ import annotations

import chartlib
import pytest
import yaml
from fakekube import FakeKube

KEPT = {
    "taskyard-rabbitmq": {
        "username": "taskyard",
        "password": "kept-rabbitmq-password",
        "erlang-cookie": "kept-erlang-cookie",
    },
    "taskyard-redis": {"password": "kept-redis-password"},
    "taskyard-api-keys": {"key-admin": "kept-api-key", "api-keys": "admin:kept-api-key\n"},
    "taskyard-console": {"session-secret": "kept-console-session-secret-0123456789"},
    "taskyard-flower": {
        "username": "admin",
        "password": "kept-flower-password",
        "basic-auth": "admin:kept-flower-password",
        "cookie-secret": "kept-cookie-secret",
    },
}


def render_against(helm, tmp_path, secrets, keda=True):
    stored = {(chartlib.NAMESPACE, name): data for name, data in secrets.items()}
    with FakeKube(stored, chartlib.RELEASE, keda=keda) as cluster:
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig", chartlib.NAMESPACE)
        args = [
            "template",
            chartlib.RELEASE,
            str(chartlib.CHART_DIR),
            "--namespace",
            chartlib.NAMESPACE,
            "--dry-run=server",
            "--disable-openapi-validation",
            "--kubeconfig",
            str(kubeconfig),
            "--qps",
            "1000",
            "--burst-limit",
            "2000",
        ]
        result = chartlib.helm_run(helm, *args, check=False)
    assert result.returncode == 0, result.stderr
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return {
        s["metadata"]["name"]: chartlib.secret_data(s) for s in chartlib.by_kind(objects, "Secret")
    }, objects


def test_upgrade_keeps_every_generated_secret(helm, tmp_path):
    secrets, objects = render_against(helm, tmp_path, KEPT)
    for name, data in KEPT.items():
        assert secrets[name] == data, name
    urls = secrets["taskyard-connections"]
    assert urls["broker-url"] == (
        "amqp://taskyard:kept-rabbitmq-password@taskyard-rabbitmq.taskyard.svc:5672/%2F"
    )
    assert urls["redis-url"] == "redis://:kept-redis-password@taskyard-redis.taskyard.svc:6379/0"
    # Discovery lists keda.sh/v1alpha1, so the ScaledObjects are rendered.
    assert len(chartlib.worker_scaled_objects(objects)) == 9


def test_first_install_generates_and_missing_keys_are_filled(helm, tmp_path):
    partial = {"taskyard-redis": {"password": "kept-redis-password"}}
    secrets, objects = render_against(helm, tmp_path, partial, keda=False)
    assert secrets["taskyard-redis"]["password"] == "kept-redis-password"
    assert secrets["taskyard-rabbitmq"]["password"] != KEPT["taskyard-rabbitmq"]["password"]
    assert len(secrets["taskyard-rabbitmq"]["password"]) == 32
    # Without KEDA's API in discovery the workers get fixed replicas.
    assert not chartlib.by_kind(objects, "ScaledObject")
    assert all(d["spec"].get("replicas") == 1 for d in chartlib.worker_deployments(objects))


@pytest.mark.parametrize("missing", ["taskyard-api-keys", "taskyard-console", "taskyard-flower"])
def test_each_secret_is_looked_up_on_its_own(helm, tmp_path, missing):
    kept = {k: v for k, v in KEPT.items() if k != missing}
    secrets, _ = render_against(helm, tmp_path, kept)
    for name in kept:
        assert secrets[name] == KEPT[name]
    assert secrets[missing] != KEPT[missing]


def test_an_upgrade_from_one_bare_key_names_it_after_the_first_generated_name(helm, tmp_path):
    before_names = {**KEPT, "taskyard-api-keys": {"api-keys": "kept-bare-key"}}
    secrets, _ = render_against(helm, tmp_path, before_names)
    assert secrets["taskyard-api-keys"] == {
        "key-admin": "kept-bare-key",
        "api-keys": "admin:kept-bare-key\n",
    }


CARRIED_FILE = "admin:kept-bare-key\nadded-bare-key\nci:added-named-key\n"


@pytest.mark.parametrize(
    "old",
    [
        # The chart before named keys: "one API key a line", the first one generated.
        {"api-keys": "kept-bare-key\nadded-bare-key\n\nci:added-named-key\n"},
        # The next upgrade carries them again.
        {"key-admin": "kept-bare-key", "api-keys": CARRIED_FILE},
    ],
    ids=["from-bare-lines", "again"],
)
def test_an_upgrade_keeps_every_key_line_added_by_hand(helm, tmp_path, old):
    secrets, _ = render_against(helm, tmp_path, {**KEPT, "taskyard-api-keys": old})
    assert secrets["taskyard-api-keys"] == {"key-admin": "kept-bare-key", "api-keys": CARRIED_FILE}


def test_a_generated_name_dropped_from_values_loses_its_line(helm, tmp_path):
    old = {
        "key-admin": "kept-api-key",
        "key-ci": "dropped-ci-key",
        "api-keys": "admin:kept-api-key\nci:dropped-ci-key\n",
    }
    secrets, _ = render_against(helm, tmp_path, {**KEPT, "taskyard-api-keys": old})
    assert secrets["taskyard-api-keys"] == KEPT["taskyard-api-keys"]
