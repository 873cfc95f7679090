"""Named API keys in the chart: generated per name, admin names checked, and the file the
API reads holds "name:key" lines that the settings parse as the API will."""

from __future__ import annotations

import importlib.util

import chartlib
import pytest

from taskyard_common.settings import parse_api_keys


def _api_env(objects):
    deployment = chartlib.named(objects, "Deployment", "taskyard-api")
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "api"
    ]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_default_generates_one_admin_key(default_objects):
    keys = chartlib.secrets_by_name(default_objects)["taskyard-api-keys"]
    assert set(keys) == {"api-keys", "key-admin"}
    assert parse_api_keys(keys["api-keys"].splitlines()) == {"admin": keys["key-admin"]}
    assert _api_env(default_objects)["TASKYARD_ADMIN_API_KEYS"] == "admin"


def test_every_generated_name_gets_its_own_key(helm):
    values = {"api": {"apiKeys": {"generatedNames": ["admin", "ci", "ops"], "adminNames": ["ops"]}}}
    objects = chartlib.helm_template(helm, values)
    keys = chartlib.secrets_by_name(objects)["taskyard-api-keys"]
    named = parse_api_keys(keys["api-keys"].splitlines())
    assert named == {name: keys[f"key-{name}"] for name in ("admin", "ci", "ops")}
    assert len(set(named.values())) == 3
    assert _api_env(objects)["TASKYARD_ADMIN_API_KEYS"] == "ops"


def test_no_admin_is_allowed(helm):
    objects = chartlib.helm_template(helm, {"api": {"apiKeys": {"adminNames": []}}})
    assert _api_env(objects)["TASKYARD_ADMIN_API_KEYS"] == ""


def test_an_admin_name_without_a_key_is_refused(helm):
    result = chartlib.helm_template_raw(helm, {"api": {"apiKeys": {"adminNames": ["root"]}}})
    assert result.returncode != 0
    assert '"root" is not in api.apiKeys.generatedNames' in result.stderr


def test_with_an_existing_secret_the_admin_names_are_the_operators(helm):
    values = {"api": {"apiKeys": {"existingSecret": "my-keys", "adminNames": ["root"]}}}
    objects = chartlib.helm_template(helm, values)
    assert "taskyard-api-keys" not in chartlib.secrets_by_name(objects)
    assert _api_env(objects)["TASKYARD_ADMIN_API_KEYS"] == "root"


@pytest.mark.parametrize(
    "set_args",
    [
        "api.apiKeys.generatedNames={bad name}",
        "api.apiKeys.generatedNames={anonymous}",
        "api.apiKeys.generatedNames=null",
        "api.apiKeys.adminNames={-x}",
    ],
)
def test_schema_refuses_bad_names(helm, set_args):
    result = chartlib.helm_template_raw(helm, extra=("--set", set_args))
    assert result.returncode != 0, f"{set_args} was accepted"


@pytest.mark.parametrize(("line", "key"), [("admin:k1:x", "k1:x"), ("bare-key", "bare-key")])
def test_the_helm_test_sends_the_key_of_the_first_line(tmp_path, line, key):
    spec = importlib.util.spec_from_file_location(
        "smoke_test", chartlib.CHART_DIR / "files" / "smoke_test.py"
    )
    assert spec is not None and spec.loader is not None
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    keys_file = tmp_path / "api-keys"
    keys_file.write_text(f"{line}\nother:k2\n", encoding="utf-8")
    smoke.KEYS_FILE = str(keys_file)
    assert smoke.api_key() == key
