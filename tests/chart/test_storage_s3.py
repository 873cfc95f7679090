"""storage.type=s3: the settings the services read, credentials from a Secret, no files volume."""

from __future__ import annotations

import copy
from typing import Any

import chartlib
import pytest

from taskyard_common.settings import Settings

SERVICE_PREFIXES = ("taskyard-api", "taskyard-data-worker", "taskyard-email-worker")


def s3_values(**s3: Any) -> dict[str, Any]:
    values = copy.deepcopy(chartlib.S3_VALUES)
    values["storage"]["s3"].update(s3)
    return values


def storage_users(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API and worker Deployments: every pod that reads or writes files."""
    return [
        d
        for d in chartlib.by_kind(objects, "Deployment")
        if d["metadata"]["name"] == "taskyard-api" or "-worker-" in d["metadata"]["name"]
    ]


def test_every_file_user_reads_the_s3_settings(render, monkeypatch: pytest.MonkeyPatch) -> None:
    objects = render("s3")
    users = storage_users(objects)
    assert len(users) == 10  # the API and the nine workers
    for deployment in users:
        env = chartlib.resolve_env(deployment["spec"]["template"]["spec"]["containers"][0], objects)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.storage_url == "s3://taskyard-files/prod"
        assert settings.s3_region == "eu-west-1"
        assert settings.s3_endpoint_url == "https://s3.example.com"
        assert settings.s3_addressing_style == "auto"
        assert env["AWS_ACCESS_KEY_ID"] == "AKIATESTKEY"
        assert env["AWS_SECRET_ACCESS_KEY"] == "s3-secret-from-user"


def test_no_files_volume_is_claimed_or_mounted(render) -> None:
    objects = render("s3")
    assert not chartlib.by_kind(objects, "PersistentVolumeClaim")
    for name, spec in chartlib.pod_specs(objects):
        assert not any(v.get("name") == "files" for v in spec.get("volumes") or []), name
        for container in chartlib.all_containers(spec):
            mounts = container.get("volumeMounts") or []
            assert not any(m["name"] == "files" for m in mounts), name


def test_the_chart_owns_a_secret_for_given_credentials(render) -> None:
    secret = chartlib.named(render("s3"), "Secret", "taskyard-s3")
    assert chartlib.secret_data(secret) == {
        "AWS_ACCESS_KEY_ID": "AKIATESTKEY",
        "AWS_SECRET_ACCESS_KEY": "s3-secret-from-user",
    }


def test_an_existing_secret_is_referenced_not_copied(helm) -> None:
    values = s3_values(
        accessKeyId="",
        secretAccessKey="",
        existingSecret="team-s3",
        accessKeyIdKey="id",
        secretAccessKeyKey="secret",
    )
    objects = chartlib.helm_template(helm, values)
    assert not [s for s in chartlib.by_kind(objects, "Secret") if "s3" in s["metadata"]["name"]]
    for deployment in storage_users(objects):
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in env
            if e["name"].startswith("AWS_") and "valueFrom" in e
        }
        assert refs == {
            "AWS_ACCESS_KEY_ID": {"name": "team-s3", "key": "id"},
            "AWS_SECRET_ACCESS_KEY": {"name": "team-s3", "key": "secret"},
        }


def test_without_credentials_the_pod_identity_is_used(helm) -> None:
    objects = chartlib.helm_template(helm, s3_values(accessKeyId="", secretAccessKey=""))
    assert not [s for s in chartlib.by_kind(objects, "Secret") if "s3" in s["metadata"]["name"]]
    for deployment in storage_users(objects):
        env = deployment["spec"]["template"]["spec"]["containers"][0].get("env") or []
        assert not [e for e in env if e["name"].startswith("AWS_")]


def test_s3_for_a_compatible_store_with_path_addressing(helm) -> None:
    values = s3_values(endpointUrl="http://minio.storage:9000", addressingStyle="path", region="")
    config = chartlib.named(chartlib.helm_template(helm, values), "ConfigMap", "taskyard-config")[
        "data"
    ]
    assert config["TASKYARD_S3_ENDPOINT_URL"] == "http://minio.storage:9000"
    assert config["TASKYARD_S3_ADDRESSING_STYLE"] == "path"
    assert config["TASKYARD_S3_REGION"] == ""


@pytest.mark.parametrize(
    ("s3", "message"),
    [
        ({"bucket": ""}, "storage.s3.bucket is required"),
        ({"secretAccessKey": ""}, "go together"),
        ({"addressingStyle": "sideways"}, "addressingStyle"),
        ({"bucket": "a/b"}, "bucket"),
        ({"endpointUrl": "minio:9000"}, "endpointUrl"),
    ],
)
def test_s3_values_that_cannot_work_are_refused(helm, s3: dict[str, Any], message: str) -> None:
    result = chartlib.helm_template_raw(helm, s3_values(**s3))
    assert result.returncode != 0
    assert message in result.stderr
