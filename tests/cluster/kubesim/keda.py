"""KEDA, for ScaledObjects with rabbitmq triggers in http mode, running "in namespace
keda": the management API host is resolved with the keda namespace's search path, so a
short Service name of the release's namespace does not resolve (KEDA reports the
ScaledObject Ready=False and scales nothing).

Follows kedacore/keda:
- pkg/scalers/rabbitmq_scaler.go: parameters from the TriggerAuthentication's
  secretTargetRef (host, username, password) or metadata (host, hostFromEnv), protocol
  auto|http, getVhostAndPathFromURL (vhostName as "/"+url.QueryEscape(vhostName), an
  empty or "/" vhost as "/%2F"), the URL `<host>/api/queues<vhost>/<QueryEscape(queue)>`,
  mode QueueLength = `messages` (ready + unacknowledged), value, activationValue
  (active when messages > activationValue), a 3 s HTTP timeout (KEDA_HTTP_DEFAULT_TIMEOUT).
- pkg/scaling/executor/scale_scaledobjects.go: at zero and active -> max(minReplicaCount, 1);
  inactive for cooldownPeriod since the last active poll and minReplicaCount 0 -> zero;
  otherwise the HPA decides.
- The HPA (k8s pkg/controller/podautoscaler): AverageValue target, desired =
  ceil(metric / value) unless within the 10% tolerance, between max(min, 1) and max;
  scale-up default policy (max of 100% and 4 pods per 15 s); scale-down through
  advanced.horizontalPodAutoscalerConfig.behavior: stabilizationWindowSeconds (highest
  recommendation in the window) and Pods/Percent policies per periodSeconds.
The HPA is evaluated at each poll (a cluster runs it every 15 s; tests shorten
pollingInterval, so the emulation runs both at that pace).
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from . import log
from .cluster import Cluster
from .dns import resolve

KEDA_NAMESPACE = "keda"
HTTP_TIMEOUT_SECONDS = 3.0
TOLERANCE = 0.1


class ScalerError(Exception):
    pass


def go_query_escape(text: str) -> str:
    """Go's url.QueryEscape: space as '+', everything but [A-Za-z0-9-_.~] escaped."""
    return quote(text, safe="").replace("%20", "+")


def vhost_and_path(raw_path: str, vhost_name: str) -> tuple[str, str]:
    """getVhostAndPathFromURL."""
    parts = raw_path.split("/")
    vhost_path = "/" + parts[-1]
    sub = "/".join(p for p in parts[:-1] if p)
    sub_path = "/" + sub if sub else ""
    if vhost_name:
        vhost_path = "/" + go_query_escape(vhost_name)
    if vhost_path in ("", "/", "//"):
        vhost_path = "/%2F"
    return vhost_path, sub_path


def queue_url(host: str, vhost_name: str, queue: str) -> str:
    parsed = urlsplit(host)
    raw_path = parsed.path
    vhost, sub = vhost_and_path(raw_path, vhost_name)
    base = f"{parsed.scheme}://{parsed.netloc}{sub}"
    return f"{base}/api/queues{vhost}/{go_query_escape(queue)}"


@dataclass
class Trigger:
    host: str
    username: str
    password: str
    queue: str
    vhost_name: str
    mode: str
    value: float
    activation: float
    protocol: str


def trigger_of(
    cluster: Cluster,
    namespace: str,
    scaled: dict[str, Any],
    auth_override: dict[str, Any] | None = None,
) -> Trigger:
    trigger = scaled["spec"]["triggers"][0]
    if trigger["type"] != "rabbitmq":
        raise ScalerError(f"trigger type {trigger['type']} is not emulated")
    meta = trigger.get("metadata") or {}
    params: dict[str, str] = {}
    ref = trigger.get("authenticationRef")
    if ref:
        auth = auth_override or cluster.get("TriggerAuthentication", namespace, ref["name"])
        if auth is None:
            raise ScalerError(f'TriggerAuthentication "{ref["name"]}" not found')
        for target in auth["spec"].get("secretTargetRef") or []:
            secret = cluster.secret(namespace, target["name"])
            if secret is None or target["key"] not in secret:
                raise ScalerError(f"secret {target['name']}/{target['key']} not found")
            params[target["parameter"]] = secret[target["key"]].decode()
    host = params.get("host") or meta.get("host", "")
    if not host:
        raise ScalerError("no host setting given")
    protocol = meta.get("protocol", "auto")
    if protocol == "auto":
        protocol = "http" if host.startswith(("http://", "https://")) else "amqp"
    if protocol != "http":
        raise ScalerError(f"protocol {protocol} is not emulated (http only)")
    mode = meta.get("mode", "QueueLength")
    if mode != "QueueLength":
        raise ScalerError(f"mode {mode} is not emulated")
    return Trigger(
        host=host,
        username=params.get("username", ""),
        password=params.get("password", ""),
        queue=meta["queueName"],
        vhost_name=meta.get("vhostName", ""),
        mode=mode,
        value=float(meta.get("value", meta.get("queueLength", 20))),
        activation=float(meta.get("activationValue", 0)),
        protocol=protocol,
    )


def queue_messages(cluster: Cluster, trigger: Trigger) -> int:
    """GET the queue from the management API, resolving its host from namespace keda."""
    url = urlsplit(queue_url(trigger.host, trigger.vhost_name, trigger.queue))
    user = unquote(url.username or "") or trigger.username
    password = unquote(url.password or "") or trigger.password
    if trigger.username and trigger.password:
        user, password = trigger.username, trigger.password
    hostname = url.hostname or ""
    try:
        address = resolve((cluster.dns_address, 53), hostname, KEDA_NAMESPACE)
    except OSError as error:
        raise ScalerError(f"dial tcp: lookup {hostname}: {error}") from error
    port = url.port or (443 if url.scheme == "https" else 80)
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = cls(address, port, timeout=HTTP_TIMEOUT_SECONDS)
    path = url.path + (f"?{url.query}" if url.query else "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        connection.request(
            "GET",
            path,
            headers={"Host": url.netloc.rsplit("@", 1)[-1], "Authorization": f"Basic {token}"},
        )
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise ScalerError(f"error requesting RabbitMQ API: {error}") from error
    finally:
        connection.close()
    if response.status != 200:
        raise ScalerError(
            f"error requesting RabbitMQ API status: {response.status}, response: {body[:200]!r}"
        )
    return int(json.loads(body).get("messages", 0))


def hpa_desired(current: int, metric: float, target: float, low: int, high: int) -> int:
    """The HPA's replica count for an AverageValue external metric (a pure decision)."""
    if current == 0:
        return max(low, 0)
    ratio = metric / (target * current)
    desired = current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(metric / target)
    return max(low, min(high, desired))


@dataclass
class State:
    name: str
    namespace: str
    ready: bool = False
    active: bool = False
    message: str = "not polled yet"
    last_active: float | None = None
    next_poll: float = 0.0
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_downs: list[tuple[float, int]] = field(default_factory=list)
    scale_ups: list[tuple[float, int]] = field(default_factory=list)
    history: list[tuple[float, int]] = field(default_factory=list)
    polls: int = 0


def limit_scale_down(
    current: int, recommended: int, behavior: dict[str, Any], state: State, now: float
) -> int:
    down = behavior.get("scaleDown") or {}
    window = float(down.get("stabilizationWindowSeconds", 300))
    state.recommendations = [(t, r) for t, r in state.recommendations if now - t < window]
    state.recommendations.append((now, recommended))
    stabilized = max(r for _, r in state.recommendations)
    if stabilized >= current:
        return current
    policies = down.get("policies") or [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    floors = []
    for policy in policies:
        period = float(policy["periodSeconds"])
        removed = sum(n for t, n in state.scale_downs if now - t < period)
        start = current + removed
        if policy["type"] == "Pods":
            floors.append(start - int(policy["value"]))
        else:
            floors.append(math.ceil(start * (1 - int(policy["value"]) / 100)))
    select = down.get("selectPolicy", "Max")
    floor = min(floors) if select == "Max" else max(floors)
    return max(stabilized, floor, 0)


def limit_scale_up(
    current: int, desired: int, behavior: dict[str, Any], state: State, now: float
) -> int:
    up = behavior.get("scaleUp") or {}
    policies = up.get("policies") or [
        {"type": "Percent", "value": 100, "periodSeconds": 15},
        {"type": "Pods", "value": 4, "periodSeconds": 15},
    ]
    ceilings = []
    for policy in policies:
        period = float(policy["periodSeconds"])
        added = sum(n for t, n in state.scale_ups if now - t < period)
        start = current - added
        if policy["type"] == "Pods":
            ceilings.append(start + int(policy["value"]))
        else:
            ceilings.append(math.ceil(start * (1 + int(policy["value"]) / 100)))
    select = up.get("selectPolicy", "Max")
    ceiling = max(ceilings) if select == "Max" else min(ceilings)
    return min(desired, max(ceiling, current))


class Keda:
    """The operator: polls every ScaledObject of a namespace and scales its target."""

    def __init__(self, cluster: Cluster, namespace: str):
        self.cluster = cluster
        self.namespace = namespace
        self.states: dict[str, State] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="keda")
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def state(self, name: str) -> State:
        with self._lock:
            return self.states.setdefault(name, State(name, self.namespace))

    def _loop(self) -> None:
        while not self._stop.is_set():
            for scaled in self.cluster.of_kind("ScaledObject", self.namespace):
                state = self.state(scaled["metadata"]["name"])
                if time.monotonic() >= state.next_poll:
                    state.next_poll = time.monotonic() + float(
                        scaled["spec"].get("pollingInterval", 30)
                    )
                    try:
                        self.poll(scaled, state)
                    except Exception as error:
                        log(f"keda {state.name}: {error!r}")
            self._stop.wait(0.25)

    def poll(self, scaled: dict[str, Any], state: State) -> None:
        spec = scaled["spec"]
        target = spec["scaleTargetRef"]["name"]
        try:
            trigger = trigger_of(self.cluster, self.namespace, scaled)
            messages = queue_messages(self.cluster, trigger)
        except ScalerError as error:
            if state.ready or state.polls == 0:
                log(f"keda {state.name}: Ready=False: {error}")
            state.ready, state.message = False, str(error)
            state.polls += 1
            return
        state.polls += 1
        if not state.ready:
            log(f"keda {state.name}: Ready=True")
        state.ready, state.message = True, f"{messages} messages"
        now = time.monotonic()
        low = int(spec.get("minReplicaCount", 0))
        high = int(spec.get("maxReplicaCount", 100))
        state.active = messages > trigger.activation
        if state.active:
            state.last_active = now
        workload = self.cluster.workloads[("Deployment", self.namespace, target)]
        current = workload.replicas
        if current == 0:
            if state.active:
                self._set(state, target, max(low, 1), now)
            return
        cooldown = float(spec.get("cooldownPeriod", 300))
        # KEDA scales a ScaledObject that was never active to zero at once.
        cooled = state.last_active is None or now - state.last_active >= cooldown
        if not state.active and low == 0 and cooled:
            self._set(state, target, 0, now)
            state.recommendations.clear()
            return
        behavior = ((spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}).get(
            "behavior"
        ) or {}
        desired = hpa_desired(current, messages, trigger.value, max(low, 1), high)
        if desired > current:
            desired = limit_scale_up(current, desired, behavior, state, now)
            state.recommendations.append((now, desired))
        elif desired < current or state.recommendations:
            desired = limit_scale_down(current, desired, behavior, state, now)
        self._set(state, target, desired, now)

    def _set(self, state: State, target: str, replicas: int, now: float) -> None:
        current = self.cluster.workloads[("Deployment", self.namespace, target)].replicas
        if replicas == current:
            return
        if replicas < current:
            state.scale_downs.append((now, current - replicas))
        else:
            state.scale_ups.append((now, replicas - current))
        state.history.append((now, replicas))
        self.cluster.scale(self.namespace, target, replicas)

    def check(
        self, scaled: dict[str, Any], auth_override: dict[str, Any] | None = None
    ) -> tuple[bool, str]:
        """One poll of a ScaledObject's scaler without scaling: (Ready, message)."""
        try:
            trigger = trigger_of(self.cluster, self.namespace, scaled, auth_override)
            return True, f"{queue_messages(self.cluster, trigger)} messages"
        except ScalerError as error:
            return False, str(error)
