"""The two chart defects a host-network run could not see, caught the way a cluster
catches them: a KEDA host that resolves only inside the release's namespace, and a
ReadWriteMany claim on a default StorageClass that provisions ReadWriteOnce only."""

from __future__ import annotations

import copy
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from kubesim.dns import CLUSTER_DOMAIN
from kubesim.stack import NAMESPACE, Stack

pytestmark = pytest.mark.cluster
DEFECT_NAMESPACE = "kubesim-defects"


def management_url(stack: Stack, scaled: dict) -> tuple[dict, str]:
    """The TriggerAuthentication of a ScaledObject and the host URL it gives KEDA."""
    ref = scaled["spec"]["triggers"][0]["authenticationRef"]["name"]
    auth = stack.cluster.get("TriggerAuthentication", NAMESPACE, ref)
    assert auth, ref
    target = next(t for t in auth["spec"]["secretTargetRef"] if t["parameter"] == "host")
    secret = stack.cluster.secret(NAMESPACE, target["name"])
    assert secret
    return auth, secret[target["key"]].decode()


def with_host(url: str, host: str) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{credentials}{host}{port}", parts.path, parts.query, ""))


def auth_with_url(stack: Stack, auth: dict, url: str, name: str) -> dict:
    """A copy of the TriggerAuthentication whose host comes from a new Secret holding url."""
    stack.cluster.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name},
                "stringData": {"host": url},
            }
        ],
        NAMESPACE,
    )
    patched = copy.deepcopy(auth)
    patched["spec"]["secretTargetRef"] = [{"parameter": "host", "name": name, "key": "host"}]
    return patched


def test_a_short_keda_host_leaves_the_scaled_object_not_ready(stack: Stack):
    scaled = stack.cluster.of_kind("ScaledObject", NAMESPACE)[0]
    auth, url = management_url(stack, scaled)
    short = (urlsplit(url).hostname or "").split(".")[0]
    fqdn = f"{short}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}"

    ready, message = stack.keda.check(
        scaled, auth_with_url(stack, auth, with_host(url, short), "kubesim-short")
    )
    assert not ready, f"a host of {short!r} must not resolve from namespace keda"
    assert "lookup" in message

    # The same URL with the FQDN reaches the management API (once the worker declared its queue).
    fqdn_auth = auth_with_url(stack, auth, with_host(url, fqdn), "kubesim-fqdn")
    deadline = time.monotonic() + 60
    while not (found := stack.keda.check(scaled, fqdn_auth))[0] and time.monotonic() < deadline:
        time.sleep(1)
    assert found[0], found[1]


def test_every_rendered_scaled_object_is_ready(stack: Stack):
    """The chart as rendered: KEDA reaches RabbitMQ's management API for every ScaledObject."""
    scaled_objects = stack.cluster.of_kind("ScaledObject", NAMESPACE)
    assert scaled_objects
    # Ready once each worker has declared its queue (a missing queue is a 404 to KEDA too).
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        states = [stack.keda.state(s["metadata"]["name"]) for s in scaled_objects]
        if all(s.polls > 0 and s.ready for s in states):
            break
        time.sleep(1)
    not_ready = {s.name: s.message for s in states if not s.ready}
    assert not not_ready, f"ScaledObjects Ready=False: {not_ready}"


def test_a_read_write_many_claim_on_the_default_class_stays_pending(stack: Stack):
    """The rendered claims made ReadWriteMany, with a Deployment that mounts one: the claim
    stays Pending and the pod is never scheduled."""
    claims = stack.cluster.of_kind("PersistentVolumeClaim", NAMESPACE)
    assert claims, "the render has no claim"
    claim = copy.deepcopy(claims[0])
    claim["spec"]["accessModes"] = ["ReadWriteMany"]
    claim["metadata"].pop("namespace", None)
    name = claim["metadata"]["name"]
    user = next(
        d
        for d in stack.cluster.of_kind("Deployment", NAMESPACE)
        if any(
            (v.get("persistentVolumeClaim") or {}).get("claimName") == name
            for v in d["spec"]["template"]["spec"].get("volumes") or []
        )
    )
    deployment = copy.deepcopy(user)
    deployment["metadata"].pop("namespace", None)
    deployment["spec"]["replicas"] = 1
    stack.cluster.apply([claim, deployment], DEFECT_NAMESPACE)

    found = stack.cluster.storage.get(DEFECT_NAMESPACE, name)
    assert found and found.phase == "Pending", found
    assert "ReadWriteOnce" in found.reason
    deployment_name = deployment["metadata"]["name"]

    def reported_unschedulable() -> bool:
        pods = stack.cluster.pods_of("Deployment", DEFECT_NAMESPACE, deployment_name)
        return bool(pods) and "Unschedulable" in pods[0].reason

    stack.cluster.wait(
        reported_unschedulable,
        30,
        "the pod to be reported Pending",
    )
    pod = stack.cluster.pods_of("Deployment", DEFECT_NAMESPACE, deployment["metadata"]["name"])[0]
    assert pod.phase == "Pending" and not pod.ip, pod.reason


def test_every_rendered_claim_binds(stack: Stack):
    pending = {
        c.name: c.reason
        for c in stack.cluster.storage.claims.values()
        if c.namespace == NAMESPACE and c.phase != "Bound"
    }
    assert not pending, f"claims Pending on a default StorageClass like kind's: {pending}"
