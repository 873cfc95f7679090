"""RabbitMQ and Valkey (the chart's Redis) as the chart runs them: the Secret's password
works on every boot, memory settings follow the container limits, a chart bump alone
does not restart them."""

from __future__ import annotations

import json
import shutil
import subprocess

import chartlib
import pytest
import yaml

GIB = 1024**3
MIB = 1024**2


def rabbitmq_conf(objects) -> dict[str, str]:
    text = chartlib.named(objects, "ConfigMap", "taskyard-rabbitmq")["data"]["taskyard.conf"]
    settings = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    return settings


WAL_KEYS = ("raft.wal_max_size_bytes", "quorum_queue.wal_max_size_bytes")


def wal_size(conf: dict[str, str]) -> int:
    (key,) = [k for k in WAL_KEYS if k in conf]
    return int(conf[key])


def valkey_conf(objects) -> dict[str, str]:
    text = chartlib.named(objects, "ConfigMap", "taskyard-redis")["data"]["valkey.conf"]
    settings = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            settings[key] = value
    return settings


def pod_spec(objects, name):
    return chartlib.named(objects, "StatefulSet", name)["spec"]["template"]["spec"]


def init_container(objects, name):
    (found,) = [
        c for c in pod_spec(objects, "taskyard-rabbitmq")["initContainers"] if c["name"] == name
    ]
    return found


# --- RabbitMQ: the user and password are imported on every boot ----------------------


def test_rabbitmq_imports_its_user_on_every_boot(default_objects):
    conf = rabbitmq_conf(default_objects)
    assert conf["definitions.import_backend"] == "local_filesystem"
    assert conf["definitions.skip_if_unchanged"] == "false"
    path = conf["definitions.local.path"]
    spec = pod_spec(default_objects, "taskyard-rabbitmq")
    server = spec["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in server["volumeMounts"]}
    folder = path.rsplit("/", 1)[0]
    assert mounts[folder] == "definitions"
    volume = next(v for v in spec["volumes"] if v["name"] == "definitions")
    assert volume["emptyDir"]["medium"] == "Memory"  # it holds the password
    # The default user applies only to an empty node; nothing relies on it any more.
    assert not any(e["name"].startswith("RABBITMQ_DEFAULT_") for e in server.get("env") or [])
    writer = init_container(default_objects, "definitions")
    assert writer["command"][-1] == path
    assert {m["mountPath"] for m in writer["volumeMounts"]} >= {folder, "/etc/rabbitmq-config"}


def run_definitions_writer(objects, tmp_path, env):
    script = chartlib.named(objects, "ConfigMap", "taskyard-rabbitmq")["data"][
        "write-definitions.sh"
    ]
    (tmp_path / "write-definitions.sh").write_text(script)
    target = tmp_path / "definitions.json"
    result = subprocess.run(
        ["sh", str(tmp_path / "write-definitions.sh"), str(target)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, target


@pytest.mark.parametrize("password", ["Zq3Jr8vW2kLx9mN4pB7tY6cH1dF5gS0a", "we\"ird\\pa$s w`o'rd{}"])
def test_definitions_carry_the_secrets_password(default_objects, tmp_path, password):
    writer = init_container(default_objects, "definitions")
    env = chartlib.resolve_env(writer, default_objects)
    env["RABBITMQ_PASSWORD"] = password  # as an existingSecret may hold it
    result, target = run_definitions_writer(default_objects, tmp_path, env)
    assert result.returncode == 0, result.stderr
    definitions = json.loads(target.read_text())
    assert definitions["users"] == [
        {"name": "taskyard", "password": password, "tags": ["administrator"]}
    ]
    assert definitions["vhosts"] == [{"name": "/"}]
    assert definitions["permissions"] == [
        {"user": "taskyard", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
    ]


def test_definitions_writer_uses_the_rendered_secret(default_objects, tmp_path):
    writer = init_container(default_objects, "definitions")
    env = chartlib.resolve_env(writer, default_objects)
    secret = chartlib.secrets_by_name(default_objects)["taskyard-rabbitmq"]
    result, target = run_definitions_writer(default_objects, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["users"][0]["password"] == secret["password"]


def test_definitions_writer_refuses_control_characters(default_objects, tmp_path):
    env = {"RABBITMQ_USERNAME": "taskyard", "RABBITMQ_PASSWORD": "a\nb", "RABBITMQ_VHOST": "/"}
    result, target = run_definitions_writer(default_objects, tmp_path, env)
    assert result.returncode != 0
    assert "control characters" in result.stderr
    assert not target.exists()


def test_notes_advice_matches_what_survives(helm):
    notes = chartlib.install_notes(helm)
    assert "take their password from the Secrets on every\nstart" in notes
    assert "kubectl --namespace taskyard delete pvc -l app.kubernetes.io/instance=taskyard" in notes
    assert "delete them by hand to start afresh" not in notes


# --- memory sized from the container limits -------------------------------------------


@pytest.mark.parametrize(
    ("limit", "watermark", "wal"),
    [
        ("1Gi", int(0.6 * GIB), GIB // 8),
        ("512Mi", int(0.6 * 512 * MIB), 64 * MIB),
        ("2G", int(0.6 * 2e9), int(2e9 / 8)),
        ("8Gi", int(0.6 * 8 * GIB), 512 * MIB),  # RabbitMQ's default WAL size is the cap
        (3 * GIB, int(0.6 * 3 * GIB), 3 * GIB // 8),
    ],
)
def test_rabbitmq_memory_follows_the_limit(helm, limit, watermark, wal):
    objects = chartlib.helm_template(
        helm, {"rabbitmq": {"resources": {"limits": {"memory": limit}}}}
    )
    conf = rabbitmq_conf(objects)
    assert abs(int(conf["vm_memory_high_watermark.absolute"]) - watermark) <= 1
    assert abs(wal_size(conf) - wal) <= 1


def test_default_rabbitmq_wal_fits_four_times_in_the_alarm_headroom(default_objects):
    conf = rabbitmq_conf(default_objects)
    limit = GIB  # values.yaml rabbitmq.resources.limits.memory
    assert wal_size(conf) * 4 <= limit
    assert int(conf["vm_memory_high_watermark.absolute"]) < limit


@pytest.mark.parametrize(
    ("tag", "key"),
    [
        ("3.13-management", "raft.wal_max_size_bytes"),
        ("4.1.4-management", "raft.wal_max_size_bytes"),
        ("4.2-management", "raft.wal_max_size_bytes"),
        # from 4.3 the quorum queues' Ra system has its own key; raft.* no longer reaches it
        ("4.3-management", "quorum_queue.wal_max_size_bytes"),
        ("4.3.5", "quorum_queue.wal_max_size_bytes"),
        ("latest", "quorum_queue.wal_max_size_bytes"),
    ],
)
def test_wal_size_key_matches_the_rabbitmq_version(helm, tag, key):
    objects = chartlib.helm_template(helm, {"rabbitmq": {"image": {"tag": tag}}})
    conf = rabbitmq_conf(objects)
    assert [k for k in WAL_KEYS if k in conf] == [key]


@pytest.mark.parametrize(
    ("limit", "maxmemory"), [("512Mi", int(0.6 * 512 * MIB)), ("256Mi", int(0.6 * 256 * MIB))]
)
def test_valkey_maxmemory_follows_the_limit(helm, limit, maxmemory):
    objects = chartlib.helm_template(helm, {"redis": {"resources": {"limits": {"memory": limit}}}})
    conf = valkey_conf(objects)
    assert abs(int(conf["maxmemory"]) - maxmemory) <= 1
    assert conf["maxmemory-policy"] == "noeviction"


@pytest.mark.parametrize("scenario", ["default", "kind", "minimal"])
def test_every_render_bounds_valkey_memory(render, scenario):
    objects = render(scenario)
    conf = valkey_conf(objects)
    container = pod_spec(objects, "taskyard-redis")["containers"][0]
    limit = container["resources"]["limits"]["memory"]
    units = {"Mi": MIB, "Gi": GIB}
    limit_bytes = int(limit[:-2]) * units[limit[-2:]]
    assert 0 < int(conf["maxmemory"]) < limit_bytes
    assert conf["maxmemory-policy"] == "noeviction"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"rabbitmq": {"resources": {"limits": None}}},
            "rabbitmq.resources.limits.memory is required",
        ),
        ({"redis": {"resources": {"limits": None}}}, "redis.resources.limits.memory is required"),
        ({"redis": {"resources": {"limits": {"memory": "lots"}}}}, "is not a memory quantity"),
    ],
)
def test_memory_limits_are_required(helm, values, message):
    result = chartlib.helm_template_raw(helm, values)
    assert result.returncode != 0
    assert message in result.stderr


# --- Valkey -------------------------------------------------------------------------------


def test_redis_component_runs_valkey(default_objects):
    spec = pod_spec(default_objects, "taskyard-redis")
    server = spec["containers"][0]
    assert server["image"].startswith("valkey/valkey:8")
    assert server["command"] == ["valkey-server"]
    config_mount = next(m for m in server["volumeMounts"] if m["name"] == "config")
    assert server["args"][0] == f"{config_mount['mountPath']}/valkey.conf"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "valkey-cli" in " ".join(server[probe]["exec"]["command"])
    env = {e["name"] for e in server["env"]}
    assert "REDISCLI_AUTH" in env  # what valkey-cli 8 reads
    # The contract's names stay: the Service and the URL say redis.
    urls = chartlib.secrets_by_name(default_objects)["taskyard-connections"]
    assert urls["redis-url"].startswith("redis://")


# --- a chart bump alone does not restart the servers ------------------------------------


def test_chart_bump_leaves_server_pods_unchanged(helm, tmp_path):
    bumped = tmp_path / "taskyard"
    shutil.copytree(chartlib.CHART_DIR, bumped)
    chart = yaml.safe_load((bumped / "Chart.yaml").read_text())
    chart["version"] = "99.0.0"
    chart["appVersion"] = "99.0.0"
    (bumped / "Chart.yaml").write_text(yaml.safe_dump(chart))
    args, _ = chartlib.template_args()
    before = chartlib.helm_template(helm)
    after_args = [str(bumped) if a == str(chartlib.CHART_DIR) else a for a in args]
    result = chartlib.helm_run(helm, *after_args)
    after = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    for name in ("taskyard-rabbitmq", "taskyard-redis"):
        old = chartlib.named(before, "StatefulSet", name)["spec"]["template"]
        new = chartlib.named(after, "StatefulSet", name)["spec"]["template"]
        assert old == new, name
        assert "helm.sh/chart" not in new["metadata"]["labels"]
        assert "app.kubernetes.io/version" not in new["metadata"]["labels"]
    # The Taskyard pods do roll: their image tag is the appVersion.
    api_before = chartlib.named(before, "Deployment", "taskyard-api")["spec"]["template"]
    api_after = chartlib.named(after, "Deployment", "taskyard-api")["spec"]["template"]
    assert api_before != api_after


def test_config_change_still_restarts_the_servers(helm):
    base = chartlib.helm_template(helm)
    changed = chartlib.helm_template(
        helm, {"rabbitmq": {"extraConfig": "heartbeat = 30"}, "redis": {"extraConfig": "hz 20"}}
    )
    for name in ("taskyard-rabbitmq", "taskyard-redis"):
        old = chartlib.named(base, "StatefulSet", name)["spec"]["template"]["metadata"]
        new = chartlib.named(changed, "StatefulSet", name)["spec"]["template"]["metadata"]
        assert old["annotations"]["checksum/config"] != new["annotations"]["checksum/config"]
