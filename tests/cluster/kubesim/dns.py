"""Cluster DNS, as CoreDNS serves it to pods: `<svc>.<ns>.svc.cluster.local` (the Service's
ClusterIP, or its Ready endpoints when headless) and `<pod>.<svc>.<ns>.svc.cluster.local`
for StatefulSet pods. Names are resolved the way a pod's resolver does it with the
resolv.conf the kubelet writes (search `<ns>.svc.cluster.local svc.cluster.local
cluster.local`, ndots:5): a short `<svc>` is found only from its own namespace.

The server answers A queries over UDP; everything else under no known name is NXDOMAIN,
so a pod can reach nothing by name that a cluster would not give it.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
from collections.abc import Callable

CLUSTER_DOMAIN = "cluster.local"
NDOTS = 5
TTL_SECONDS = 1
TYPE_A = 1
CLASS_IN = 1
RCODE_NXDOMAIN = 3


def search_domains(namespace: str) -> list[str]:
    return [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]


def candidates(name: str, namespace: str) -> list[str]:
    """The names a pod's resolver asks for, in order (glibc's search and ndots rules)."""
    if name.endswith("."):
        return [name.rstrip(".")]
    searched = [f"{name}.{domain}" for domain in search_domains(namespace)]
    return [name, *searched] if name.count(".") >= NDOTS else [*searched, name]


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_name(message: bytes, offset: int) -> tuple[str, int]:
    labels: list[str] = []
    while True:
        length = message[offset]
        if length == 0:
            return ".".join(labels), offset + 1
        labels.append(message[offset + 1 : offset + 1 + length].decode(errors="replace"))
        offset += 1 + length


def answer(query: bytes, lookup: Callable[[str], list[str] | None]) -> bytes:
    """The response to one DNS query message."""
    query_id, flags, qdcount = struct.unpack("!HHH", query[:6])
    name, end = decode_name(query, 12)
    qtype, _qclass = struct.unpack("!HH", query[end : end + 4])
    question = query[12 : end + 4]
    addresses = lookup(name.lower())
    rcode = RCODE_NXDOMAIN if addresses is None else 0
    records = b""
    count = 0
    if addresses and qtype == TYPE_A:
        for address in addresses:
            records += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL_SECONDS, 4)
            records += socket.inet_aton(address)
            count += 1
    response_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    header = struct.pack("!HHHHHH", query_id, response_flags, 1 if qdcount else 0, count, 0, 0)
    return header + question + records


class ClusterDNS:
    """The records, and a UDP server answering from them."""

    def __init__(self, bind_address: str, port: int = 53):
        self._records: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.address = bind_address
        self.port = port
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((bind_address, port))
        self._thread = threading.Thread(target=self._serve, daemon=True, name="kubesim-dns")
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._socket.close()

    def set(self, name: str, addresses: list[str]) -> None:
        with self._lock:
            self._records[name.lower()] = list(addresses)

    def remove(self, name: str) -> None:
        with self._lock:
            self._records.pop(name.lower(), None)

    def lookup(self, name: str) -> list[str] | None:
        """Addresses of a fully qualified name; [] when it exists with none Ready."""
        with self._lock:
            found = self._records.get(name.lower().rstrip("."))
        return None if found is None else list(found)

    def _serve(self) -> None:
        while not self._closed:
            try:
                query, peer = self._socket.recvfrom(4096)
            except OSError:
                return
            try:
                self._socket.sendto(answer(query, self.lookup), peer)
            except (OSError, IndexError, struct.error):
                continue


class NameNotFound(OSError):
    pass


def query(server: tuple[str, int], name: str, timeout: float = 2.0) -> list[str] | None:
    """One A query: the addresses, or None for NXDOMAIN."""
    query_id = threading.get_ident() & 0xFFFF
    message = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    message += encode_name(name) + struct.pack("!HH", TYPE_A, CLASS_IN)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message, server)
        response, _ = sock.recvfrom(4096)
    flags, _qd, ancount = struct.unpack("!HHH", response[2:8])
    if flags & 0x000F == RCODE_NXDOMAIN:
        return None
    _name, offset = decode_name(response, 12)
    offset += 4
    addresses = []
    for _ in range(ancount):
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", response[offset + 2 : offset + 12])
        offset += 12
        if rtype == TYPE_A and length == 4:
            addresses.append(socket.inet_ntoa(response[offset : offset + 4]))
        offset += length
    return addresses


def resolve(server: tuple[str, int], name: str, namespace: str) -> str:
    """The address a pod of `namespace` connects to for `name`, or NameNotFound."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    for candidate in candidates(name, namespace):
        addresses = query(server, candidate)
        if addresses:
            return addresses[0]
    raise NameNotFound(f"lookup {name} from namespace {namespace}: no such host")
