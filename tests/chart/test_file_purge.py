"""The filePurge CronJob: `taskyard-admin purge-expired` with the API's storage, volume and node."""

from __future__ import annotations

from typing import Any

import chartlib
import pytest

from taskyard_common.settings import Settings

CRONJOB = "taskyard-purge-expired-files"


def pod_spec(cronjob: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def api_pod_spec(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = chartlib.named(objects, "Deployment", "taskyard-api")["spec"][
        "template"
    ]["spec"]
    return spec


def test_the_cronjob_runs_the_purge_hourly_one_at_a_time(render) -> None:
    cronjob = chartlib.named(render("default"), "CronJob", CRONJOB)
    assert cronjob["spec"]["schedule"] == "17 * * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_spec(cronjob)
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["command"] == ["taskyard-admin", "purge-expired"]
    assert (
        container["image"]
        == chartlib.named(render("default"), "Deployment", "taskyard-api")["spec"]["template"][
            "spec"
        ]["containers"][0]["image"]
    )


@pytest.mark.parametrize("scenario", ["default", "kind"])
def test_it_mounts_the_files_volume_on_the_api_node(render, scenario: str) -> None:
    objects = render(scenario)
    spec = pod_spec(chartlib.named(objects, "CronJob", CRONJOB))
    api = api_pod_spec(objects)
    claim = [v for v in spec["volumes"] if v["name"] == "files"]
    assert claim == [v for v in api["volumes"] if v["name"] == "files"]
    (container,) = spec["containers"]
    (api_container,) = api["containers"]
    files_mount = [m for m in container["volumeMounts"] if m["name"] == "files"]
    assert files_mount == [m for m in api_container["volumeMounts"] if m["name"] == "files"]
    labels = chartlib.named(objects, "CronJob", CRONJOB)["spec"]["jobTemplate"]["spec"]["template"][
        "metadata"
    ]["labels"]
    assert labels["taskyard.io/files-claim"] == "taskyard-files"
    api_affinity = api["affinity"]["podAffinity"]
    assert spec["affinity"]["podAffinity"] == api_affinity


def test_it_reads_the_api_storage_settings_and_the_ttl(render, monkeypatch) -> None:
    objects = render("s3")
    container = pod_spec(chartlib.named(objects, "CronJob", CRONJOB))["containers"][0]
    env = chartlib.resolve_env(container, objects)
    api_env = chartlib.resolve_env(api_pod_spec(objects)["containers"][0], objects)
    for name in ("TASKYARD_STORAGE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[name] == api_env[name], name
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.storage_url == "s3://taskyard-files/prod"
    assert settings.file_ttl_seconds == 604800
    assert not any(
        v.get("name") == "files"
        for v in pod_spec(chartlib.named(objects, "CronJob", CRONJOB))["volumes"]
    )


def test_it_needs_neither_broker_nor_redis(render) -> None:
    objects = render("default")
    container = pod_spec(chartlib.named(objects, "CronJob", CRONJOB))["containers"][0]
    names = {entry["name"] for entry in container.get("env") or []}
    assert not names & {"TASKYARD_BROKER_URL", "TASKYARD_REDIS_URL"}


def test_values_set_the_ttl_and_schedule_or_turn_it_off(helm: str) -> None:
    objects = chartlib.helm_template(
        helm, values={"config": {"fileTtlSeconds": 3600}, "filePurge": {"schedule": "*/5 * * * *"}}
    )
    configmaps = [
        c
        for c in chartlib.by_kind(objects, "ConfigMap")
        if "TASKYARD_FILE_TTL_SECONDS" in c["data"]
    ]
    assert [c["data"]["TASKYARD_FILE_TTL_SECONDS"] for c in configmaps] == ["3600"]
    assert chartlib.named(objects, "CronJob", CRONJOB)["spec"]["schedule"] == "*/5 * * * *"
    off = chartlib.helm_template(helm, values={"filePurge": {"enabled": False}})
    assert not chartlib.by_kind(off, "CronJob")


def test_the_schema_refuses_unknown_purge_values(helm: str) -> None:
    refused = chartlib.helm_template_raw(helm, values={"filePurge": {"schedul": "x"}})
    assert refused.returncode != 0
