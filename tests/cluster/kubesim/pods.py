"""Pods, as the kubelet runs them, in Docker.

A pod is a sandbox container holding the network namespace, hostname and resolv.conf
(search path of its namespace, the cluster DNS), and its containers join it with
`--network container:`. Init containers run first, in order, each to completion;
then the containers start, with their probes run from here (startupProbe gates the
others, readiness decides Ready, a failing liveness probe restarts the container).
Volumes: emptyDir is a tmpfs of its sizeLimit mounted on the host, Secret and
ConfigMap volumes are files with their modes (group fsGroup, +0440 as the kubelet's
ownership change does), claims are named Docker volumes group-owned by fsGroup.
The security context maps to --user/--group-add, --read-only, --cap-drop/--cap-add and
no-new-privileges; memory limits to --memory.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import math
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import images, log
from .dns import search_domains
from .storage import Storage

DEFAULT_GRACE_SECONDS = 30
QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")
UNITS = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 0.001,
}  # fmt: skip
VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def quantity(value: str | int) -> float:
    match = QUANTITY.match(str(value))
    if not match or match.group(2) not in UNITS:
        raise ValueError(f"bad quantity {value!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def expand(text: str, env: dict[str, str]) -> str:
    """$(VAR) references as the kubelet expands them; unknown ones stay as written."""
    return VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), text)


class PodError(Exception):
    """The pod cannot start (CreateContainerConfigError and the like)."""


class Node(Protocol):
    """What the kubelet reads from the cluster."""

    prefix: str
    workdir: Path
    storage: Storage
    network_name: str
    dns_address: str
    sandbox_image: str

    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None: ...

    def configmap(self, namespace: str, name: str) -> dict[str, str] | None: ...

    def pod_changed(self, pod: Pod) -> None: ...


def secret_bytes(secret: dict[str, Any]) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return data


@dataclass
class ContainerState:
    spec: dict[str, Any]
    docker_name: str
    restarts: int = 0
    started: bool = False
    ready: bool = False
    exit_code: int | None = None
    stop_exit_code: int | None = None
    pre_stop_error: str = ""


@dataclass
class Pod:
    namespace: str
    name: str
    spec: dict[str, Any]
    labels: dict[str, str]
    node: Node
    owner: str = ""
    template_hash: str = ""
    subdomain: str = ""
    phase: str = "Pending"
    reason: str = ""
    ip: str = ""
    deleting: bool = False
    created: float = field(default_factory=time.monotonic)
    containers: list[ContainerState] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(f"{self.namespace}/{self.name}/{time.time()}".encode()).hexdigest()
        self.sandbox = f"{self.node.prefix}-{self.namespace}-{self.name}"[:50] + "-" + digest[:6]
        self.dir = self.node.workdir / "pods" / f"{self.namespace}-{self.name}-{digest[:6]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"pod-{self.name}")
        self._mounts: list[Path] = []
        self._lock = threading.Lock()
        self.containers = [
            ContainerState(c, f"{self.sandbox}-{c['name']}") for c in self.spec["containers"]
        ]

    # --- state seen by controllers ------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.phase == "Running" and all(c.ready for c in self.containers)

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self.containers)

    def event(self, message: str) -> None:
        self.events.append(message)
        log(f"pod {self.namespace}/{self.name}: {message}")

    def _set(self, phase: str, reason: str = "") -> None:
        if (phase, reason) != (self.phase, self.reason):
            self.phase, self.reason = phase, reason
            self.event(f"{phase}{': ' + reason if reason else ''}")
        self.node.pod_changed(self)

    def start(self) -> None:
        self._thread.start()

    # --- spec helpers -----------------------------------------------------------------
    def security(self, container: dict[str, Any]) -> dict[str, Any]:
        pod = self.spec.get("securityContext") or {}
        own = container.get("securityContext") or {}
        merged = {
            k: pod[k]
            for k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")
            if k in pod
        }
        merged.update(own)
        return merged

    def port_number(self, port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for container in self.spec["containers"]:
            for declared in container.get("ports") or []:
                if declared.get("name") == port:
                    return int(declared["containerPort"])
        raise PodError(f"no container port named {port!r}")

    def field_value(self, path: str) -> str:
        simple = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "status.podIP": self.ip,
            "status.hostIP": self.ip,
            "spec.nodeName": "kubesim-node",
            "spec.serviceAccountName": self.spec.get("serviceAccountName", "default"),
        }
        if path in simple:
            return simple[path]
        match = re.match(r"metadata\.labels\['(.+)'\]", path)
        if match:
            return self.labels.get(match.group(1), "")
        raise PodError(f"fieldRef {path} is not emulated")

    def environment(self, container: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                ref = source["configMapRef"]
                data = self.node.configmap(self.namespace, ref["name"])
                values = dict(data or {})
            else:
                ref = source["secretRef"]
                secret = self.node.secret(self.namespace, ref["name"])
                values = {k: v.decode() for k, v in (secret or {}).items()}
                data = secret  # type: ignore[assignment]
            if data is None and not ref.get("optional"):
                raise PodError(f"envFrom: {ref['name']} not found")
            env.update({prefix + k: v for k, v in values.items()})
        for var in container.get("env") or []:
            if "valueFrom" not in var:
                env[var["name"]] = expand(str(var.get("value", "")), env)
                continue
            ref = var["valueFrom"]
            if "fieldRef" in ref:
                env[var["name"]] = self.field_value(ref["fieldRef"]["fieldPath"])
            elif "resourceFieldRef" in ref:
                resource = ref["resourceFieldRef"]["resource"]
                kind, _, what = resource.partition(".")
                raw = ((container.get("resources") or {}).get(kind) or {}).get(what)
                divisor = quantity(ref["resourceFieldRef"].get("divisor", "1"))
                env[var["name"]] = str(int(quantity(raw) / divisor)) if raw else "0"
            else:
                is_secret = "secretKeyRef" in ref
                key_ref = ref["secretKeyRef"] if is_secret else ref["configMapKeyRef"]
                if is_secret:
                    found = self.node.secret(self.namespace, key_ref["name"])
                    value = found.get(key_ref["key"]) if found else None
                    text = value.decode() if value is not None else None
                else:
                    data = self.node.configmap(self.namespace, key_ref["name"])
                    text = data.get(key_ref["key"]) if data else None
                if text is None:
                    if key_ref.get("optional"):
                        continue
                    raise PodError(f"{var['name']}: {key_ref['name']}/{key_ref['key']} not found")
                env[var["name"]] = text
        return env

    # --- volumes -------------------------------------------------------------------------
    def _fs_group(self) -> int | None:
        value = (self.spec.get("securityContext") or {}).get("fsGroup")
        return int(value) if value is not None else None

    def _write_files(self, folder: Path, data: dict[str, bytes], volume: dict[str, Any]) -> None:
        folder.mkdir(parents=True)
        default_mode = int(volume.get("defaultMode", 0o644))
        items = volume.get("items") or [{"key": key, "path": key} for key in data]
        group = self._fs_group()
        for item in items:
            if item["key"] not in data:
                if volume.get("optional"):
                    continue
                raise PodError(f"volume key {item['key']} not found")
            path = folder / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data[item["key"]])
            mode = int(item.get("mode", default_mode))
            if group is not None:
                os.chown(path, 0, group)
                mode |= 0o440
            path.chmod(mode)
        folder.chmod(0o755)

    def _materialize(self, volume: dict[str, Any]) -> tuple[str, str]:
        """(kind, source) for the docker mount of one pod volume: kind bind or volume."""
        name = volume["name"]
        folder = self.dir / "volumes" / name
        group = self._fs_group()
        if "emptyDir" in volume:
            folder.mkdir(parents=True)
            size = (volume["emptyDir"] or {}).get("sizeLimit")
            options = ["mode=0777"] + ([f"size={int(quantity(size))}"] if size else [])
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                check=True,
                capture_output=True,
            )
            self._mounts.append(folder)
            if group is not None:
                os.chown(folder, 0, group)
                folder.chmod(0o2777)
            return "bind", str(folder)
        if "secret" in volume:
            secret = self.node.secret(self.namespace, volume["secret"]["secretName"])
            if secret is None and not volume["secret"].get("optional"):
                raise PodError(f'secret "{volume["secret"]["secretName"]}" not found')
            self._write_files(folder, secret or {}, volume["secret"])
            return "bind-ro", str(folder)
        if "configMap" in volume:
            data = self.node.configmap(self.namespace, volume["configMap"]["name"])
            if data is None and not volume["configMap"].get("optional"):
                raise PodError(f'configmap "{volume["configMap"]["name"]}" not found')
            encoded = {k: v.encode() for k, v in (data or {}).items()}
            self._write_files(folder, encoded, volume["configMap"])
            return "bind-ro", str(folder)
        if "persistentVolumeClaim" in volume:
            claim_name = volume["persistentVolumeClaim"]["claimName"]
            claim = self.node.storage.get(self.namespace, claim_name)
            assert claim and claim.volume, claim_name
            mountpoint = subprocess.run(
                ["docker", "volume", "inspect", "-f", "{{.Mountpoint}}", claim.volume],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            root = Path(mountpoint)
            # fsGroupChangePolicy OnRootMismatch (and Always) both set the root alike.
            if group is not None and root.stat().st_gid != group:
                for path in [root, *root.rglob("*")]:
                    os.chown(path, -1, group, follow_symlinks=False)
                    if not path.is_symlink():
                        path.chmod(path.stat().st_mode | (0o2070 if path.is_dir() else 0o060))
            return "volume", claim.volume
        raise PodError(f"volume {name}: {sorted(set(volume) - {'name'})} is not emulated")

    def pending_claims(self) -> list[str]:
        """Reasons this pod cannot be scheduled: its claims that are not Bound."""
        reasons = []
        for volume in self.spec.get("volumes") or []:
            if "persistentVolumeClaim" not in volume:
                continue
            name = volume["persistentVolumeClaim"]["claimName"]
            claim = self.node.storage.get(self.namespace, name)
            if claim is None:
                reasons.append(f'persistentvolumeclaim "{name}" not found')
            elif claim.phase != "Bound":
                reasons.append(
                    f'pod has unbound immediate PersistentVolumeClaims ("{name}": {claim.reason})'
                )
        return reasons

    # --- docker ---------------------------------------------------------------------------
    def _run_args(
        self, container: dict[str, Any], name: str, sources: dict[str, tuple[str, str]]
    ) -> list[str]:
        image = images.local_image(container["image"])
        context = self.security(container)
        pod_context = self.spec.get("securityContext") or {}
        args = ["run", "--detach", "--name", name, "--network", f"container:{self.sandbox}"]
        args += ["--label", f"kubesim.run={self.node.prefix}", "--log-opt", "max-size=20m"]
        user = context.get("runAsUser")
        if user is None:
            user = self._image_user(image)
        if context.get("runAsNonRoot") and str(user) in ("", "0", "root"):
            raise PodError(
                f"container {container['name']}: runAsNonRoot and image will run as root"
            )
        if context.get("runAsNonRoot") and not str(user).isdigit():
            raise PodError(
                f"container {container['name']}: image has non-numeric user ({user}), "
                "cannot verify user is non-root"
            )
        if context.get("runAsUser") is not None:
            group = context.get("runAsGroup", context["runAsUser"])
            args += ["--user", f"{context['runAsUser']}:{group}"]
        for extra in [pod_context.get("fsGroup"), *(pod_context.get("supplementalGroups") or [])]:
            if extra is not None:
                args += ["--group-add", str(extra)]
        if context.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        capabilities = context.get("capabilities") or {}
        for cap in capabilities.get("drop") or []:
            args += ["--cap-drop", cap]
        for cap in capabilities.get("add") or []:
            args += ["--cap-add", cap]
        if context.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        limits = (container.get("resources") or {}).get("limits") or {}
        if "memory" in limits:
            args += ["--memory", str(int(quantity(limits["memory"])))]
        if "cpu" in limits:
            args += ["--cpus", f"{quantity(limits['cpu']):.3f}"]
        env = self.environment(container)
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        if container.get("workingDir"):
            args += ["--workdir", container["workingDir"]]
        for mount in container.get("volumeMounts") or []:
            if mount["name"] not in sources:
                raise PodError(f"volumeMount {mount['name']} names no volume")
            kind, source = sources[mount["name"]]
            read_only = mount.get("readOnly") or kind == "bind-ro"
            sub_path = expand(mount.get("subPath", "") or mount.get("subPathExpr", ""), env)
            if kind == "volume":
                if sub_path:
                    raise PodError("subPath on a claim is not emulated")
                spec = f"type=volume,src={source},dst={mount['mountPath']},volume-nocopy"
            else:
                path = Path(source) / sub_path if sub_path else Path(source)
                if sub_path and not path.exists():
                    path.mkdir(parents=True)
                spec = f"type=bind,src={path},dst={mount['mountPath']}"
            args += ["--mount", spec + (",readonly" if read_only else "")]
        command = [expand(c, env) for c in container.get("command") or []]
        arguments = [expand(a, env) for a in container.get("args") or []]
        if command:
            args += ["--entrypoint", command[0], image, *command[1:], *arguments]
        else:
            args += [image, *arguments]
        return args

    @staticmethod
    def _image_user(image: str) -> str:
        return subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Config.User}}", image],
            capture_output=True,
            text=True,
        ).stdout.strip()

    def _docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)

    def _start_sandbox(self) -> None:
        hostname = self.spec.get("hostname") or self.name
        args = [
            "run", "--detach", "--name", self.sandbox, "--network", self.node.network_name,
            "--hostname", hostname, "--label", f"kubesim.run={self.node.prefix}",
            "--dns", self.node.dns_address, "--dns-option", "ndots:5",
        ]  # fmt: skip
        for domain in search_domains(self.namespace):
            args += ["--dns-search", domain]
        if self.subdomain:
            args += ["--domainname", f"{self.subdomain}.{self.namespace}.svc.cluster.local"]
        args += ["--entrypoint", "sleep", self.node.sandbox_image, "infinity"]
        result = self._docker(*args)
        if result.returncode != 0:
            raise PodError(f"sandbox: {result.stderr.strip()}")
        raw = self._docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", self.sandbox)
        self.ip = json.loads(raw.stdout)[self.node.network_name]["IPAddress"]

    def _container_status(self, name: str) -> tuple[bool, int]:
        result = self._docker("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name)
        if result.returncode != 0:
            return False, -1
        running, code = result.stdout.split()
        return running == "true", int(code)

    def _sources(self) -> dict[str, tuple[str, str]]:
        return {v["name"]: self._materialize(v) for v in self.spec.get("volumes") or []}

    # --- lifecycle ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._lifecycle()
        except PodError as error:
            if not self.deleting:
                self._set(
                    "Pending" if self.phase == "Pending" else "Failed",
                    f"CreateContainerConfigError: {error}",
                )
        except Exception as error:  # a harness defect: show it on the pod
            if not self.deleting:
                self._set("Failed", f"kubesim error: {error!r}")
                raise

    def _lifecycle(self) -> None:
        while not self._stop.is_set():
            pending = self.pending_claims()
            if not pending:
                break
            self._set("Pending", "Unschedulable: " + "; ".join(pending))
            self._stop.wait(2)
        if self._stop.is_set():
            return
        self.dir.mkdir(parents=True)
        sources = self._sources()
        self._start_sandbox()
        self._set("Pending", "PodInitializing")
        for init in self.spec.get("initContainers") or []:
            if not self._run_init(init, sources):
                return
        always = self.spec.get("restartPolicy", "Always") == "Always"
        for state in self.containers:
            self._start_container(state, sources)
        self._set("Running")
        threads = [
            threading.Thread(target=self._supervise, args=(s, sources, always), daemon=True)
            for s in self.containers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not self.deleting and not always:
            codes = [c.exit_code for c in self.containers]
            self._set(
                "Succeeded" if all(c == 0 for c in codes) else "Failed", f"exit codes {codes}"
            )

    def _run_init(self, init: dict[str, Any], sources: dict[str, tuple[str, str]]) -> bool:
        name = f"{self.sandbox}-init-{init['name']}"
        backoff = 1.0
        while not self._stop.is_set():
            self._docker("rm", "--force", name)
            result = self._docker(*self._run_args(init, name, sources))
            if result.returncode != 0:
                raise PodError(f"init {init['name']}: {result.stderr.strip()}")
            code = int(self._docker("wait", name, timeout=3600).stdout.strip() or -1)
            if code == 0:
                return True
            logs = self._docker("logs", "--tail", "20", name)
            self._set(
                "Pending",
                f"Init:Error ({init['name']} exit {code}): {(logs.stdout + logs.stderr)[-500:]}",
            )
            if self.spec.get("restartPolicy") == "Never":
                self._set("Failed", f"init {init['name']} exit {code}")
                return False
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30)
        return False

    def _start_container(self, state: ContainerState, sources: dict[str, tuple[str, str]]) -> None:
        self._docker("rm", "--force", state.docker_name)
        result = self._docker(*self._run_args(state.spec, state.docker_name, sources))
        if result.returncode != 0:
            raise PodError(f"{state.spec['name']}: {result.stderr.strip()}")
        state.started = True
        state.ready = False

    def _supervise(
        self, state: ContainerState, sources: dict[str, tuple[str, str]], always: bool
    ) -> None:
        """Probes and restarts of one container until the pod is deleted."""
        backoff = 1.0
        while not self._stop.is_set():
            outcome = ProbeRunner(self, state).run(self._stop)
            if self._stop.is_set():
                return
            state.ready = False
            self.node.pod_changed(self)
            running, code = self._container_status(state.docker_name)
            state.exit_code = code
            if not always:
                if running:
                    self._docker("wait", state.docker_name, timeout=3600)
                    state.exit_code = self._container_status(state.docker_name)[1]
                return
            if outcome == "liveness":
                grace = int(self.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))
                self._docker("stop", "--time", str(grace), state.docker_name, timeout=grace + 60)
            else:
                self.event(f"container {state.spec['name']} exited {code}: back-off {backoff:.0f}s")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)
            if self._stop.is_set():
                return
            state.restarts += 1
            try:
                self._start_container(state, sources)
            except PodError as error:
                if self.deleting:
                    return
                self.event(f"container {state.spec['name']} cannot restart: {error}")
                self._stop.wait(backoff)

    def delete(self, wait: bool = False) -> None:
        """Terminate: SIGTERM to every container, SIGKILL after the grace period."""
        with self._lock:
            if self.deleting:
                return
            self.deleting = True
        self._stop.set()
        for state in self.containers:
            state.ready = False
        self.node.pod_changed(self)
        thread = threading.Thread(target=self._terminate, daemon=True)
        thread.start()
        if wait:
            thread.join()

    def _terminate(self) -> None:
        """Each container: its preStop hook, then SIGTERM, then SIGKILL when the pod's grace
        period (which the hook's time counts against) runs out."""
        grace = int(self.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))
        deadline = time.monotonic() + grace
        stoppers = [
            threading.Thread(target=self._stop_container, args=(state, deadline), daemon=True)
            for state in self.containers
            if state.started
        ]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self._thread.join(timeout=30)
        self.phase = "Terminated"
        self.node.pod_changed(self)

    def _stop_container(self, state: ContainerState, deadline: float) -> None:
        hook = ((state.spec.get("lifecycle") or {}).get("preStop")) or {}
        if hook:
            error = self._run_hook(state, hook, deadline)
            if error:
                state.pre_stop_error = error
                self.event(f"container {state.spec['name']}: FailedPreStopHook: {error}")
        remaining = max(0, math.ceil(deadline - time.monotonic()))
        self._docker("stop", "--time", str(remaining), state.docker_name, timeout=remaining + 120)
        state.stop_exit_code = self._container_status(state.docker_name)[1]

    def _run_hook(self, state: ContainerState, hook: dict[str, Any], deadline: float) -> str:
        """Run a lifecycle hook; the error text, or "" when it succeeded."""
        budget = max(1.0, deadline - time.monotonic())
        try:
            if "exec" in hook:
                result = subprocess.run(
                    ["docker", "exec", state.docker_name, *hook["exec"]["command"]],
                    capture_output=True,
                    text=True,
                    timeout=budget,
                )
                return (
                    ""
                    if result.returncode == 0
                    else f"exit {result.returncode}: {result.stderr[-300:]}"
                )
            if "sleep" in hook:
                time.sleep(min(budget, float(hook["sleep"]["seconds"])))
                return ""
            if "httpGet" in hook:
                get = hook["httpGet"]
                connection = http.client.HTTPConnection(
                    get.get("host") or self.ip, self.port_number(get["port"]), timeout=budget
                )
                connection.request("GET", get.get("path", "/"))
                status = connection.getresponse().status
                return "" if 200 <= status < 400 else f"HTTP {status}"
        except (OSError, subprocess.TimeoutExpired, http.client.HTTPException, PodError) as error:
            return repr(error)
        return f"hook {sorted(hook)} is not emulated"

    def abandon(self) -> None:
        """Stop supervising (the cluster is being torn down)."""
        self.deleting = True
        self._stop.set()

    def cleanup(self) -> None:
        """Remove everything of the pod (after delete)."""
        names = [c.docker_name for c in self.containers]
        names += [f"{self.sandbox}-init-{i['name']}" for i in self.spec.get("initContainers") or []]
        self._docker("rm", "--force", *names, self.sandbox)
        for folder in self._mounts:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self, lines: int = 80) -> str:
        out = [
            f"===== pod {self.namespace}/{self.name} phase={self.phase} {self.reason} ip={self.ip}"
        ]
        out += [f"  event: {e}" for e in self.events[-10:]]
        names = [f"{self.sandbox}-init-{i['name']}" for i in self.spec.get("initContainers") or []]
        names += [c.docker_name for c in self.containers]
        for name in names:
            result = self._docker("logs", "--tail", str(lines), name)
            if result.returncode == 0:
                out.append(f"----- {name}\n{result.stdout}{result.stderr}")
        return "\n".join(out)


class ProbeRunner:
    """Runs one container's probes until it must be restarted or the pod stops.
    Returns "exited" or "liveness"."""

    def __init__(self, pod: Pod, state: ContainerState):
        self.pod = pod
        self.state = state

    def check(self, probe: dict[str, Any]) -> bool:
        timeout = float(probe.get("timeoutSeconds", 1))
        try:
            if "exec" in probe:
                result = subprocess.run(
                    ["docker", "exec", self.state.docker_name, *probe["exec"]["command"]],
                    capture_output=True,
                    timeout=timeout + 2,
                )
                return result.returncode == 0
            if "httpGet" in probe:
                get = probe["httpGet"]
                host = get.get("host") or self.pod.ip
                port = self.pod.port_number(get["port"])
                cls = (
                    http.client.HTTPSConnection
                    if get.get("scheme") == "HTTPS"
                    else http.client.HTTPConnection
                )
                connection = cls(host, port, timeout=timeout)
                headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
                connection.request("GET", get.get("path", "/"), headers=headers)
                status = connection.getresponse().status
                connection.close()
                return 200 <= status < 400
            if "tcpSocket" in probe:
                port = self.pod.port_number(probe["tcpSocket"]["port"])
                with socket.create_connection((self.pod.ip, port), timeout=timeout):
                    return True
        except (OSError, subprocess.TimeoutExpired, http.client.HTTPException):
            return False
        return False

    def run(self, stop: threading.Event) -> str:
        spec = self.state.spec
        startup, liveness, readiness = (
            spec.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")
        )
        started_at = time.monotonic()
        if startup:
            verdict = self._until(startup, stop, started_at, want_success=True)
            if verdict != "ok":
                return verdict
        if not readiness:
            self.state.ready = True
            self.pod.node.pod_changed(self.pod)
        probes = [(p, k) for p, k in ((liveness, "liveness"), (readiness, "readiness")) if p]
        next_at = {k: started_at + float(p.get("initialDelaySeconds", 0)) for p, k in probes}
        if startup:
            next_at = {k: time.monotonic() for _, k in probes}
        failures = {k: 0 for _, k in probes}
        successes = {k: 0 for _, k in probes}
        while not stop.is_set():
            running, _ = self.pod._container_status(self.state.docker_name)
            if not running:
                return "exited"
            now = time.monotonic()
            for probe, kind in probes:
                if now < next_at[kind]:
                    continue
                next_at[kind] = now + float(probe.get("periodSeconds", 10))
                if self.check(probe):
                    failures[kind] = 0
                    successes[kind] += 1
                    enough = successes[kind] >= int(probe.get("successThreshold", 1))
                    if kind == "readiness" and enough and not self.state.ready:
                        self.state.ready = True
                        self.pod.node.pod_changed(self.pod)
                else:
                    successes[kind] = 0
                    failures[kind] += 1
                    if failures[kind] >= int(probe.get("failureThreshold", 3)):
                        if kind == "liveness":
                            self.pod.event(
                                f"container {spec['name']}: liveness probe failed "
                                f"{failures[kind]}x: restarting"
                            )
                            return "liveness"
                        if self.state.ready:
                            self.state.ready = False
                            self.pod.node.pod_changed(self.pod)
            stop.wait(0.5)
        return "stopped"

    def _until(
        self, probe: dict[str, Any], stop: threading.Event, started_at: float, want_success: bool
    ) -> str:
        stop.wait(float(probe.get("initialDelaySeconds", 0)))
        failures = 0
        while not stop.is_set():
            running, _ = self.pod._container_status(self.state.docker_name)
            if not running:
                return "exited"
            began = time.monotonic()
            if self.check(probe):
                return "ok"
            failures += 1
            if failures >= int(probe.get("failureThreshold", 3)):
                self.pod.event(
                    f"container {self.state.spec['name']}: startup probe failed "
                    f"{failures}x: restarting"
                )
                return "liveness"
            stop.wait(max(0.0, float(probe.get("periodSeconds", 10)) - (time.monotonic() - began)))
        return "stopped"
