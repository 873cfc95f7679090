"""Prometheus: worker metrics ports, who may scrape (NetworkPolicies), and the optional
Prometheus Operator objects (ServiceMonitors for API and Flower, a PodMonitor for the
workers).

No Prometheus Operator CRD schema is available here (only KEDA's are, in
../shared/keda-crds), so ServiceMonitor and PodMonitor are checked structurally:
a small strict JSON schema of the fields the chart uses (names and types as in the
monitoring.coreos.com/v1 API), plus checks that their selectors, ports and Secret
references resolve against the rendered Services, pods and Secrets.
"""

from __future__ import annotations

import chartlib
import jsonschema
import pytest

from taskyard_common.settings import Settings
from taskyard_common.topology import QUEUE_NAMES

METRICS_PORT = 9101
MONITORS_ON = {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}}
PROMETHEUS = chartlib.PROMETHEUS_PEER
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor")

# -- structural schema of the monitoring.coreos.com/v1 objects the chart renders -------

_STRING = {"type": "string", "minLength": 1}
_DURATION = {
    "type": "string",
    # Prometheus' duration format, as the CRDs' pattern.
    "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
    "(([0-9]+)s)?(([0-9]+)ms)?)$",
}
_SECRET_KEY = {
    "type": "object",
    "properties": {"name": _STRING, "key": _STRING, "optional": {"type": "boolean"}},
    "required": ["name", "key"],
    "additionalProperties": False,
}
_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array"},
    },
    "additionalProperties": False,
    "minProperties": 1,
}
_ENDPOINT = {
    "type": "object",
    "properties": {
        "port": _STRING,
        "path": {"type": "string", "pattern": "^/"},
        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
        "interval": _DURATION,
        "scrapeTimeout": _DURATION,
        "basicAuth": {
            "type": "object",
            "properties": {"username": _SECRET_KEY, "password": _SECRET_KEY},
            "required": ["username", "password"],
            "additionalProperties": False,
        },
        "authorization": {
            "type": "object",
            "properties": {"type": _STRING, "credentials": _SECRET_KEY},
            "required": ["credentials"],
            "additionalProperties": False,
        },
    },
    "required": ["port"],
    "additionalProperties": False,
}


def _monitor_schema(kind: str, endpoints_field: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "properties": {"name": _STRING, "labels": {"type": "object"}},
                "required": ["name"],
            },
            "spec": {
                "type": "object",
                "properties": {
                    "selector": _SELECTOR,
                    "namespaceSelector": {
                        "type": "object",
                        "properties": {
                            "any": {"type": "boolean"},
                            "matchNames": {"type": "array", "items": _STRING},
                        },
                        "additionalProperties": False,
                    },
                    endpoints_field: {"type": "array", "items": _ENDPOINT, "minItems": 1},
                },
                "required": ["selector", endpoints_field],
                "additionalProperties": False,
            },
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }


MONITOR_SCHEMAS = {
    "ServiceMonitor": _monitor_schema("ServiceMonitor", "endpoints"),
    "PodMonitor": _monitor_schema("PodMonitor", "podMetricsEndpoints"),
}


def structural_errors(obj: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(MONITOR_SCHEMAS[obj["kind"]])
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]


def render_monitoring(helm, values=None, crds=False, check_crds=False):
    monitoring = {"checkCrds": check_crds, **MONITORS_ON}
    merged = {"monitoring": monitoring}
    for key, value in (values or {}).items():
        if key == "monitoring":
            merged["monitoring"] = {**monitoring, **value}
        else:
            merged[key] = value
    return chartlib.helm_template(helm, merged, monitoring_crds=crds)


def monitors(objects):
    return {(o["kind"], o["metadata"]["name"]): o for o in objects if o["kind"] in MONITOR_KINDS}


def selects(selector: dict, labels: dict) -> bool:
    assert not selector.get("matchExpressions"), "only matchLabels is used by the chart"
    return selector["matchLabels"].items() <= labels.items()


# -- worker metrics --------------------------------------------------------------------


def test_settings_read_the_variables_the_chart_sets(monkeypatch):
    """The names the chart writes are the ones taskyard_common's Settings reads."""
    monkeypatch.setenv("TASKYARD_WORKER_METRICS_PORT", str(METRICS_PORT))
    monkeypatch.setenv("TASKYARD_WORKER_METRICS_ADDRESS", "0.0.0.0")
    settings = Settings(_env_file=None)
    assert settings.worker_metrics_port == METRICS_PORT
    assert settings.worker_metrics_address == "0.0.0.0"


@pytest.mark.parametrize("scenario", sorted(chartlib.SCENARIOS))
def test_every_worker_serves_metrics(render, scenario):
    objects = render(scenario)
    workers = chartlib.worker_deployments(objects)
    assert len(workers) == len(QUEUE_NAMES) == 9
    for deployment in workers:
        name = deployment["metadata"]["name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TASKYARD_WORKER_METRICS_PORT"] == str(METRICS_PORT), name
        assert env["TASKYARD_WORKER_METRICS_ADDRESS"] == "0.0.0.0", name
        assert container["ports"] == [
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}
        ], name


def test_metrics_port_zero_serves_nothing(helm):
    objects = chartlib.helm_template(helm, {"workers": {"defaults": {"metrics": {"port": 0}}}})
    for deployment in chartlib.worker_deployments(objects):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TASKYARD_WORKER_METRICS_PORT"] == "0"
        assert "TASKYARD_WORKER_METRICS_ADDRESS" not in env
        assert "ports" not in container
    # Nothing to scrape: the workers' NetworkPolicy admits nobody.
    policy = chartlib.named(objects, "NetworkPolicy", "taskyard-workers")
    assert policy["spec"]["ingress"] == []


def test_metrics_port_per_queue_override(helm):
    objects = chartlib.helm_template(
        helm,
        {
            "workers": {
                "defaults": {"metrics": {"port": 0}},
                "overrides": {"file.low": {"metrics": {"port": 9200}}},
            }
        },
    )
    ports = {}
    for deployment in chartlib.worker_deployments(objects):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports[deployment["metadata"]["name"]] = [
            p["containerPort"] for p in container.get("ports", [])
        ]
    assert ports.pop("taskyard-file-worker-low") == [9200]
    assert all(not p for p in ports.values())
    # The policy names the port, so it follows each pod's own number.
    policy = chartlib.named(objects, "NetworkPolicy", "taskyard-workers")
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": "metrics", "protocol": "TCP"}]


# -- NetworkPolicies -------------------------------------------------------------------


def _ingress(objects, name):
    return chartlib.named(objects, "NetworkPolicy", name)["spec"]["ingress"]


def test_flower_policy_port_exists_on_the_flower_pod(default_objects):
    # The default policies themselves (Prometheus only to Flower and the workers, the API
    # open) are asserted in test_security.py::test_network_policies.
    (rule,) = _ingress(default_objects, "taskyard-flower")
    flower_pod = chartlib.named(default_objects, "Deployment", "taskyard-flower")
    ports = {p["name"] for p in flower_pod["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {p["port"] for p in rule["ports"]} == ports == {"http"}


# The `helm test` Pod, admitted beside the listed clients (test_rollouts.py).
HELM_TEST = {
    "podSelector": {
        "matchLabels": {
            "app.kubernetes.io/component": "test",
            "app.kubernetes.io/instance": "taskyard",
            "app.kubernetes.io/name": "taskyard",
        }
    }
}


def test_restricted_api_admits_prometheus(helm):
    client = {"podSelector": {"matchLabels": {"app": "frontend"}}}
    objects = chartlib.helm_template(helm, {"api": {"networkPolicy": {"ingressFrom": [client]}}})
    assert _ingress(objects, "taskyard-api") == [
        {"ports": [{"port": "http", "protocol": "TCP"}], "from": [client, PROMETHEUS, HELM_TEST]}
    ]


def test_prometheus_selector_is_configurable(helm):
    selector = {
        "namespaceSelector": {"matchLabels": {"team": "observability"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    client = {"ipBlock": {"cidr": "10.0.0.0/8"}}
    # Helm merges maps with the default: null drops the default namespace label.
    given = {
        "namespaceSelector": {
            "matchLabels": {"team": "observability", "kubernetes.io/metadata.name": None}
        },
        "podSelector": selector["podSelector"],
    }
    objects = chartlib.helm_template(
        helm,
        {
            "monitoring": {"prometheusSelector": given},
            "api": {"networkPolicy": {"ingressFrom": [client]}},
        },
    )
    assert _ingress(objects, "taskyard-workers")[0]["from"] == [selector]
    assert _ingress(objects, "taskyard-flower")[0]["from"] == [selector]
    assert _ingress(objects, "taskyard-api")[0]["from"] == [client, selector, HELM_TEST]


def test_prometheus_can_be_left_out_of_the_policies(helm):
    objects = chartlib.helm_template(
        helm, {"monitoring": {"networkPolicy": {"allowPrometheus": False}}}
    )
    assert _ingress(objects, "taskyard-workers") == []
    assert _ingress(objects, "taskyard-flower") == []


# -- ServiceMonitor / PodMonitor -------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(set(chartlib.SCENARIOS) - {"monitoring"}))
def test_no_monitors_by_default(render, scenario):
    assert not monitors(render(scenario))


def test_no_monitors_when_disabled_even_with_the_crds(helm):
    assert not monitors(chartlib.helm_template(helm, monitoring_crds=True))


def test_monitors_need_the_crds_unless_check_is_off(helm):
    assert not monitors(render_monitoring(helm, check_crds=True))
    served = monitors(render_monitoring(helm, check_crds=True, crds=True))
    offline = monitors(render_monitoring(helm, check_crds=False))
    expected = {
        ("ServiceMonitor", "taskyard-api"),
        ("ServiceMonitor", "taskyard-flower"),
        ("PodMonitor", "taskyard-workers"),
    }
    assert set(served) == set(offline) == expected


def test_monitors_are_structurally_valid_and_resolve(render):
    objects = render("monitoring")
    found = monitors(objects)
    assert len(found) == 3
    services = {s["metadata"]["name"]: s for s in chartlib.by_kind(objects, "Service")}
    secrets = {
        s["metadata"]["name"]: chartlib.secret_data(s) for s in chartlib.by_kind(objects, "Secret")
    }
    for (kind, name), obj in found.items():
        assert not structural_errors(obj), (kind, name, structural_errors(obj))
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == chartlib.RELEASE
        assert obj["spec"]["namespaceSelector"] == {"matchNames": [chartlib.NAMESPACE]}

    # ServiceMonitors select exactly their component's Service, on a port it has.
    for component in ("api", "flower"):
        monitor = found[("ServiceMonitor", f"taskyard-{component}")]
        chosen = [
            s
            for s in services.values()
            if selects(monitor["spec"]["selector"], s["metadata"]["labels"])
        ]
        assert [s["metadata"]["name"] for s in chosen] == [f"taskyard-{component}"]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in chosen[0]["spec"]["ports"]}

    # The API's /metrics is open by default: no credentials sent.
    assert "authorization" not in found[("ServiceMonitor", "taskyard-api")]["spec"]["endpoints"][0]

    # Flower: basic auth from the Flower Secret, matching what Flower is started with.
    (endpoint,) = found[("ServiceMonitor", "taskyard-flower")]["spec"]["endpoints"]
    auth = endpoint["basicAuth"]
    user = secrets[auth["username"]["name"]][auth["username"]["key"]]
    password = secrets[auth["password"]["name"]][auth["password"]["key"]]
    flower = chartlib.named(objects, "Deployment", "taskyard-flower")
    env = chartlib.resolve_env(flower["spec"]["template"]["spec"]["containers"][0], objects)
    assert env["TASKYARD_FLOWER_BASIC_AUTH"] == f"{user}:{password}"

    # PodMonitor: the nine task worker pods on their `metrics` port, and the callback worker,
    # which serves no metrics (metrics.port 0: no such port, nothing scraped); nothing else.
    monitor = found[("PodMonitor", "taskyard-workers")]
    pods = [
        d["spec"]["template"]
        for d in chartlib.by_kind(objects, "Deployment") + chartlib.by_kind(objects, "StatefulSet")
    ]
    chosen = [p for p in pods if selects(monitor["spec"]["selector"], p["metadata"]["labels"])]
    assert len(chosen) == 10
    assert all(p["metadata"]["labels"]["app.kubernetes.io/component"] == "worker" for p in chosen)
    chosen = [p for p in chosen if "taskyard.io/task-type" in p["metadata"]["labels"]]
    assert len(chosen) == 9
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    for pod in chosen:
        assert "metrics" in {p["name"] for p in pod["spec"]["containers"][0].get("ports", [])}


def test_structural_check_catches_mistakes(render):
    """Negative control for the structural schema."""
    monitor = monitors(render("monitoring"))[("ServiceMonitor", "taskyard-api")]
    monitor["spec"]["endpoints"][0]["bearerTokenSecrets"] = {"name": "x"}
    assert structural_errors(monitor)
    pod_monitor = monitors(render("monitoring"))[("PodMonitor", "taskyard-workers")]
    pod_monitor["spec"]["endpoints"] = pod_monitor["spec"].pop("podMetricsEndpoints")
    assert structural_errors(pod_monitor)


def test_api_monitor_sends_the_api_key_when_metrics_need_auth(helm):
    objects = render_monitoring(helm, {"config": {"metricsRequireAuth": True}})
    (endpoint,) = chartlib.named(objects, "ServiceMonitor", "taskyard-api")["spec"]["endpoints"]
    assert not structural_errors(chartlib.named(objects, "ServiceMonitor", "taskyard-api"))
    credentials = endpoint["authorization"]["credentials"]
    assert endpoint["authorization"]["type"] == "Bearer"
    keys = chartlib.secret_data(chartlib.named(objects, "Secret", credentials["name"]))
    token = keys[credentials["key"]]
    # The generated Secret holds one key, so the whole value is a valid bearer token.
    assert token and "\n" not in token
    api = chartlib.named(objects, "Deployment", "taskyard-api")
    (volume,) = [v for v in api["spec"]["template"]["spec"]["volumes"] if v["name"] == "api-keys"]
    assert volume["secret"]["secretName"] == credentials["name"]


def test_monitors_with_existing_secrets(helm):
    objects = render_monitoring(
        helm,
        {
            **chartlib.EXISTING_SECRETS_VALUES,
            "config": {"metricsRequireAuth": True},
            "flower": {
                "auth": {
                    "existingSecret": "my-flower",
                    "usernameKey": "user",
                    "passwordKey": "pass",
                }
            },
            "monitoring": {
                "serviceMonitor": {
                    "enabled": True,
                    "labels": {"release": "kube-prometheus-stack"},
                    "api": {"bearerTokenSecret": "prometheus-token", "bearerTokenSecretKey": "t"},
                }
            },
        },
    )
    api = chartlib.named(objects, "ServiceMonitor", "taskyard-api")
    flower = chartlib.named(objects, "ServiceMonitor", "taskyard-flower")
    assert api["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert api["spec"]["endpoints"][0]["authorization"]["credentials"] == {
        "name": "prometheus-token",
        "key": "t",
    }
    assert flower["spec"]["endpoints"][0]["basicAuth"] == {
        "username": {"name": "my-flower", "key": "user"},
        "password": {"name": "my-flower", "key": "pass"},
    }
    for obj in (api, flower):
        assert not structural_errors(obj)


def test_no_flower_monitor_without_flower(helm):
    found = monitors(render_monitoring(helm, {"flower": {"enabled": False}}))
    assert set(found) == {("ServiceMonitor", "taskyard-api"), ("PodMonitor", "taskyard-workers")}


def test_notes_warn_when_monitors_lack_the_crds(helm):
    notes = chartlib.install_notes(
        helm, "monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true"
    )
    assert "ServiceMonitor and PodMonitor objects but this cluster does not serve" in notes
