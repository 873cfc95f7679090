"""Every address the chart hands out is fully qualified (<service>.<namespace>.svc).

KEDA's operator reads the management URL from its own namespace, where a short Service
name does not resolve; the same Secret feeds the API, Flower and the workers, so every
URL the chart writes is checked, not only KEDA's.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import chartlib
import pytest

URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"']+")
# Scenarios where the chart itself runs RabbitMQ and Redis (the others take the user's URLs).
IN_CLUSTER_SCENARIOS = ["default", "kind", "keda-off", "minimal", "monitoring"]


def fully_qualified(host: str) -> bool:
    return host.endswith(f".{chartlib.NAMESPACE}.svc")


def urls_read_by_keda(objects) -> list[str]:
    """Values of the Secrets the TriggerAuthentications point KEDA at."""
    secrets = chartlib.secrets_by_name(objects)
    urls = []
    for auth in chartlib.by_kind(objects, "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            urls.append(secrets[ref["name"]][ref["key"]])
    return urls


def urls_in_rendered_values(objects) -> list[str]:
    """Every URL in Secrets, ConfigMaps and container env values of the render."""
    texts: list[str] = []
    for secret in chartlib.by_kind(objects, "Secret"):
        texts += chartlib.secret_data(secret).values()
    for configmap in chartlib.by_kind(objects, "ConfigMap"):
        texts += (configmap.get("data") or {}).values()
    for _, spec in chartlib.pod_specs(objects):
        for container in chartlib.all_containers(spec):
            texts += [v["value"] for v in container.get("env") or [] if "value" in v]
    return [url for text in texts for url in URL.findall(text)]


@pytest.mark.parametrize("scenario", IN_CLUSTER_SCENARIOS)
def test_every_in_release_address_is_fully_qualified(render, scenario):
    objects = render(scenario)
    short_names = {s["metadata"]["name"] for s in chartlib.by_kind(objects, "Service")}
    checked = 0
    for url in urls_in_rendered_values(objects):
        host = urlsplit(url).hostname or ""
        if host in short_names or any(host.startswith(f"{name}.") for name in short_names):
            assert fully_qualified(host), url
            checked += 1
    # broker, redis and management URLs, plus the helm test's API URL when rendered
    assert checked >= 3


@pytest.mark.parametrize("scenario", ["default", "kind", "monitoring"])
def test_keda_reads_a_fully_qualified_management_url(render, scenario):
    objects = render(scenario)
    urls = urls_read_by_keda(objects)
    assert urls, "no TriggerAuthentication rendered"
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https"), url
        assert fully_qualified(parts.hostname or ""), url


def test_helm_test_reaches_the_api_by_its_full_name(default_objects):
    pod = chartlib.named(default_objects, "Pod", "taskyard-test-submit-task")
    env = chartlib.resolve_env(pod["spec"]["containers"][0], default_objects)
    assert env["TASKYARD_TEST_API_URL"] == "http://taskyard-api.taskyard.svc:8000"


def test_external_urls_are_passed_through_untouched(render):
    secrets = chartlib.secrets_by_name(render("external"))
    urls = secrets["taskyard-connections"]
    external = chartlib.EXTERNAL_VALUES
    assert urls["broker-url"] == external["externalRabbitmq"]["url"]
    assert urls["rabbitmq-management-url"] == external["externalRabbitmq"]["managementUrl"]
    assert urls["redis-url"] == external["externalRedis"]["url"]
