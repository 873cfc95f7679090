"""Which addresses a callback may be sent to: the SSRF guard.

A callback URL names a host the caller chose; without this guard a caller could make
Taskyard POST into its own network (RabbitMQ's management API, Redis, the cloud metadata
service). `refusal` is a pure decision over the addresses the host resolved to; `resolve`
does the lookup once, so the delivery connects to exactly the address that was checked
(a second lookup could answer differently: DNS rebinding).

Lookups are bounded, because a submit waits for them: each runs on a small shared thread
pool and is given LOOKUP_TIMEOUT_SECONDS, a host name's answer is kept LOOKUP_CACHE_SECONDS
(a batch naming one host resolves it once), and a request that set a budget
(`start_lookup_budget`, the API does per request) spends at most that on lookups in all.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from taskyard_common.logs import get_logger

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Where no callback worker runs (TASKYARD_CALLBACKS_ENABLED false) no address may be called.
CALLBACKS_TURNED_OFF = "callbacks are turned off on this server (TASKYARD_CALLBACKS_ENABLED)"

SCHEME_PORTS = {"http": 80, "https": 443}
# Names the clouds give their metadata service (they resolve to link-local addresses there,
# but a resolver elsewhere may say otherwise).
METADATA_HOST_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
# Not in Python's is_private or is_reserved for every version: AWS's IPv6 metadata address
# (fd00:ec2::254 is ULA, already refused) and the carrier-grade NAT range.
EXTRA_REFUSED_NETWORKS = (ipaddress.ip_network("100.64.0.0/10"),)

log = get_logger("taskyard.callback")

LOOKUP_TIMEOUT_SECONDS = 2.0
LOOKUP_CACHE_SECONDS = 30.0
LOOKUP_CACHE_MAX_HOSTS = 4096
LOOKUP_THREADS = 8
# What one API request may spend on lookups in all (a batch names up to 1000 hosts).
REQUEST_LOOKUP_BUDGET_SECONDS = 5.0


class CallbackRefused(ValueError):
    """The URL may not be called; the message says why (shown to the client at submit)."""


class Unresolvable(CallbackRefused):
    """The host did not resolve (maybe for now only: a delivery tries again)."""


@dataclass(frozen=True)
class Target:
    """A callback URL taken apart, with the addresses its host resolved to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]


def normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def address_refusal(address: IPAddress) -> str | None:
    """The class of address `address` is ("private", "loopback", …) when a callback may
    not go to it; None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return address_refusal(embedded)
        if address.teredo is not None:
            return address_refusal(address.teredo[1])
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        # fec0::/10, deprecated, yet neither private nor non-global for Python 3.11.
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("private", any(address in network for network in EXTRA_REFUSED_NETWORKS)),
        ("not globally routable", not address.is_global),
    )
    for reason, refused in checks:
        if refused:
            return reason
    return None


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def refusal(
    host: str, addresses: tuple[IPAddress, ...], allowed_hosts: frozenset[str]
) -> str | None:
    """Why a callback to `host`, resolved to `addresses`, is refused; None when it may go.

    A host in `allowed_hosts` (TASKYARD_CALLBACK_ALLOWED_HOSTS) may resolve to anything;
    any other is refused if it is a metadata name, resolves to nothing, or resolves to one
    address that is not public (all are checked: the client picks among them). The reason
    names the class of address only, not the address a host name resolved to (that would
    tell a client about the internal network); an IP literal is the client's own.
    """
    name = normal_host(host)
    if name in allowed_hosts:
        return None
    if name in METADATA_HOST_NAMES:
        return f"{name} is a cloud metadata host"
    if not addresses:
        return f"{name} resolves to no address"
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            if is_ip_literal(name):
                return f"{name} is a {reason} address"
            return f"{name} resolves to a {reason} address"
    return None


class _Lookups:
    """getaddrinfo on a bounded pool, each host's pending or finished answer kept a while."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="callback-lookup")
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, int], tuple[float, Future[tuple[IPAddress, ...]]]] = {}

    def answer(self, host: str, port: int) -> Future[tuple[IPAddress, ...]]:
        key, now = (normal_host(host), port), time.monotonic()
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]
            if len(self._answers) >= LOOKUP_CACHE_MAX_HOSTS:
                self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
                while len(self._answers) >= LOOKUP_CACHE_MAX_HOSTS:
                    del self._answers[next(iter(self._answers))]
            future = self._pool.submit(_getaddrinfo, host, port)
            self._answers[key] = (now + LOOKUP_CACHE_SECONDS, future)
            return future


_lookups = _Lookups()
_lookup_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "callback_lookup_deadline", default=None
)


def _new_lookups_after_fork() -> None:
    # A forked child (a prefork worker) inherits the pool's bookkeeping but not its threads.
    global _lookups
    _lookups = _Lookups()


os.register_at_fork(after_in_child=_new_lookups_after_fork)


def start_lookup_budget(seconds: float | None = None) -> None:
    """From now on, this context's lookups spend at most `seconds` in all
    (REQUEST_LOOKUP_BUDGET_SECONDS by default)."""
    budget = REQUEST_LOOKUP_BUDGET_SECONDS if seconds is None else seconds
    _lookup_deadline.set(time.monotonic() + budget)


def end_lookup_budget(_error: BaseException | None = None) -> None:
    """The context's lookups unbounded again (save each one's own timeout)."""
    _lookup_deadline.set(None)


def _getaddrinfo(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise Unresolvable(f"{host} does not resolve: {error}") from None
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone (fe80::1%eth0): the address is what counts.
        seen.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]), None)
    return tuple(seen)


def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address `host` resolves to, in the resolver's order; an IP literal as itself.

    Raises Unresolvable when the name does not resolve, or not within
    LOOKUP_TIMEOUT_SECONDS or what is left of this context's lookup budget."""
    if is_ip_literal(host):
        return (ipaddress.ip_address(host.strip("[]")),)
    timeout = LOOKUP_TIMEOUT_SECONDS
    deadline = _lookup_deadline.get()
    if deadline is not None:
        timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise Unresolvable(f"{host} does not resolve in time (this request's lookups ran out)")
    try:
        return _lookups.answer(host, port).result(timeout=timeout)
    except FutureTimeout:
        raise Unresolvable(f"{host} does not resolve in time") from None


def check_url(url: str, allowed_hosts: frozenset[str]) -> Target:
    """The URL's target, resolved and checked; raises CallbackRefused."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEME_PORTS:
        raise CallbackRefused("the scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("credentials in the URL are not sent; leave them out")
    host = parts.hostname
    if not host:
        raise CallbackRefused("the URL has no host")
    try:
        port = parts.port or SCHEME_PORTS[parts.scheme]
    except ValueError as error:
        raise CallbackRefused(str(error)) from None
    addresses = resolve(host, port)
    reason = refusal(host, addresses, allowed_hosts)
    if reason is not None:
        log.warning(
            "callback_url_refused",
            host=host,
            addresses=[str(address) for address in addresses],
            reason=reason,
        )
        allowed = "" if normal_host(host) in allowed_hosts else " (TASKYARD_CALLBACK_ALLOWED_HOSTS)"
        raise CallbackRefused(f"refused: {reason}{allowed}")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, host, port, path, addresses)
