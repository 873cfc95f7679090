"""The pod network and Services, as a CNI bridge and kube-proxy give them.

One Docker bridge network holds every pod (a cluster's pod network is flat: namespaces
separate names, not routes). The lower half of its subnet is for pods; ClusterIPs come
from the upper half: each Service is a small proxy container at its ClusterIP (the host
reaches it too) that forwards each connection to a Ready endpoint's targetPort (named ports resolved
from the pod's containers). A Service without Ready endpoints refuses connections, as
kube-proxy's REJECT rule does. With several Ready endpoints any one is picked.
"""

from __future__ import annotations

import ipaddress
import json
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

Endpoint = tuple[str, int]


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {result.stderr.strip()}")
    return result.stdout.strip()


def used_subnets() -> list[ipaddress.IPv4Network]:
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    found = []
    for line in routes.splitlines():
        head = line.split()[0]
        if "/" in head:
            found.append(ipaddress.IPv4Network(head, strict=False))
    return found


class PodNetwork:
    def __init__(self, name: str, bridge: str):
        self.name = name
        self.bridge = bridge
        taken = used_subnets()
        for _ in range(50):
            subnet = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.0.0/16")
            if not any(subnet.overlaps(other) for other in taken):
                break
        else:
            raise RuntimeError("no free 10.x.0.0/16 for the pod network")
        self.subnet = subnet
        hosts = subnet.network_address
        self.gateway = str(hosts + 1)
        self.pod_range = ipaddress.IPv4Network(f"{hosts}/17")
        self._next_service = int(hosts) + (1 << 15) + 10
        docker(
            "network", "create", "--driver", "bridge",
            "--subnet", str(subnet), "--ip-range", str(self.pod_range), "--gateway", self.gateway,
            "--opt", f"com.docker.network.bridge.name={bridge}",
            "--label", f"kubesim.network={name}",
            name,
        )  # fmt: skip

    def allocate_service_ip(self) -> str:
        """A ClusterIP: outside the pods' --ip-range, inside the subnet."""
        address = str(ipaddress.IPv4Address(self._next_service))
        self._next_service += 1
        return address

    def remove(self) -> None:
        docker("network", "rm", self.name, check=False)


# kube-proxy's part for one Service: run in its own container whose address is the
# ClusterIP; endpoints come from a JSON file the harness rewrites when readiness changes.
PROXY_SCRIPT = r"""
import json, random, socket, sys, threading
FOLDER, PORTS = sys.argv[1], [int(p) for p in sys.argv[2:]]

def endpoints(port):
    try:
        with open(FOLDER + "/endpoints.json") as handle:
            return json.load(handle).get(str(port), [])
    except (OSError, ValueError):
        return []

def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    for sock in (sink, source):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def forward(client, port):
    ready = endpoints(port)
    if not ready:
        client.close()
        return
    host, target = random.choice(ready)
    try:
        upstream = socket.create_connection((host, target), timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    pump(upstream, client)

def serve(port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(512)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=forward, args=(client, port), daemon=True).start()

for port in PORTS[1:]:
    threading.Thread(target=serve, args=(port,), daemon=True).start()
serve(PORTS[0])
"""


@dataclass
class ServiceProxy:
    """A Service's ClusterIP: forwards each port to a Ready endpoint's targetPort."""

    name: str
    address: str
    ports: list[int]
    folder: Path
    network: str
    image: str
    label: str
    endpoints: dict[int, list[Endpoint]] = field(default_factory=dict)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "proxy.py").write_text(PROXY_SCRIPT)
        self.write({})
        docker(
            "run", "--detach", "--name", self.name, "--network", self.network, "--ip", self.address,
            "--label", self.label, "--read-only", "--cap-drop", "ALL", "--user", "65534:65534",
            "--cap-add", "NET_BIND_SERVICE",
            "--mount", f"type=bind,src={self.folder},dst=/kubesim,readonly",
            "--entrypoint", "python3", self.image, "/kubesim/proxy.py", "/kubesim",
            *[str(p) for p in self.ports],
        )  # fmt: skip

    def write(self, endpoints: dict[int, list[Endpoint]]) -> None:
        if endpoints == self.endpoints and (self.folder / "endpoints.json").exists():
            return
        self.endpoints = endpoints
        temporary = self.folder / "endpoints.json.new"
        temporary.write_text(json.dumps({str(k): v for k, v in endpoints.items()}))
        temporary.chmod(0o644)
        temporary.rename(self.folder / "endpoints.json")
