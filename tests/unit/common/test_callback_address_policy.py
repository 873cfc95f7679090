"""The SSRF guard of completion callbacks: which resolved addresses a callback may go to."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest

from support.unanswered_lookups import unanswered_lookups
from taskyard_common.callbacks import address_policy
from taskyard_common.callbacks.address_policy import (
    CallbackRefused,
    Unresolvable,
    check_url,
    refusal,
)

NONE: frozenset[str] = frozenset()


def addresses(*texts: str) -> tuple[address_policy.IPAddress, ...]:
    return tuple(ipaddress.ip_address(text) for text in texts)


@pytest.mark.parametrize(
    ("host", "resolved", "allowed_hosts", "refused_because"),
    [
        ("hooks.example.com", ("93.184.216.34",), NONE, None),
        ("hooks.example.com", ("2606:2800:220:1:248:1893:25c8:1946",), NONE, None),
        ("hooks.example.com", ("127.0.0.1",), NONE, "loopback"),
        ("hooks.example.com", ("127.8.9.10",), NONE, "loopback"),
        ("hooks.example.com", ("::1",), NONE, "loopback"),
        ("hooks.example.com", ("10.1.2.3",), NONE, "private"),
        ("hooks.example.com", ("172.16.0.1",), NONE, "private"),
        ("hooks.example.com", ("192.168.1.1",), NONE, "private"),
        ("hooks.example.com", ("fd00:ec2::254",), NONE, "private"),
        ("hooks.example.com", ("169.254.169.254",), NONE, "link-local"),
        ("hooks.example.com", ("fe80::1",), NONE, "link-local"),
        ("hooks.example.com", ("224.0.0.1",), NONE, "multicast"),
        ("hooks.example.com", ("ff02::1",), NONE, "multicast"),
        ("hooks.example.com", ("0.0.0.0",), NONE, "unspecified"),
        ("hooks.example.com", ("::",), NONE, "unspecified"),
        ("hooks.example.com", ("240.0.0.1",), NONE, "reserved"),
        ("hooks.example.com", ("100.64.0.1",), NONE, "private"),
        ("hooks.example.com", ("fec0::1",), NONE, "site-local"),
        ("hooks.example.com", ("::ffff:100.64.0.1",), NONE, "private"),
        ("hooks.example.com", ("::ffff:127.0.0.1",), NONE, "loopback"),
        ("hooks.example.com", ("::ffff:169.254.169.254",), NONE, "link-local"),
        ("hooks.example.com", ("::ffff:10.0.0.1",), NONE, "private"),
        ("hooks.example.com", ("2002:a00:1::",), NONE, "private"),  # 6to4 of 10.0.0.1
        # One bad address among good ones is enough: the client may pick any of them.
        ("hooks.example.com", ("93.184.216.34", "10.0.0.1"), NONE, "private"),
        ("hooks.example.com", (), NONE, "no address"),
        ("metadata.google.internal", ("93.184.216.34",), NONE, "metadata"),
        ("Metadata.Google.Internal.", ("93.184.216.34",), NONE, "metadata"),
        ("instance-data", ("93.184.216.34",), NONE, "metadata"),
        # TASKYARD_CALLBACK_ALLOWED_HOSTS lets a host resolve anywhere.
        ("receiver.internal", ("10.0.0.7",), frozenset({"receiver.internal"}), None),
        ("Receiver.Internal", ("127.0.0.1",), frozenset({"receiver.internal"}), None),
        ("other.internal", ("10.0.0.7",), frozenset({"receiver.internal"}), "private"),
    ],
)
def test_refusal_table(
    host: str, resolved: tuple[str, ...], allowed_hosts: frozenset[str], refused_because: str | None
) -> None:
    reason = refusal(host, addresses(*resolved), allowed_hosts)
    if refused_because is None:
        assert reason is None
    else:
        assert reason is not None and refused_because in reason
        # A host name's resolved address stays in the server's log, out of the reason.
        assert all(text not in reason for text in resolved)


def test_an_ip_literal_is_echoed_in_the_reason() -> None:
    assert refusal("10.0.0.1", addresses("10.0.0.1"), NONE) == "10.0.0.1 is a private address"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://93.184.216.34/x", "http or https"),
        ("http://user:pw@93.184.216.34/x", "credentials"),
        ("http:///x", "no host"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://localhost/hook", "loopback"),
    ],
)
def test_check_url_refuses(url: str, message: str) -> None:
    with pytest.raises(CallbackRefused, match=message):
        check_url(url, NONE)


def test_check_url_takes_the_url_apart() -> None:
    target = check_url("https://93.184.216.34/hooks/done?x=1", NONE)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "93.184.216.34",
        443,
        "/hooks/done?x=1",
    )
    assert target.addresses == addresses("93.184.216.34")
    assert check_url("http://93.184.216.34:8080", NONE).path == "/"


def test_an_allowed_host_may_be_loopback() -> None:
    target = check_url("http://localhost:9/hook", frozenset({"localhost"}))
    assert all(address.is_loopback for address in target.addresses)


def test_a_name_that_does_not_resolve_is_unresolvable(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_name(*_args: object, **_kwargs: object) -> list[object]:
        raise address_policy.socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(address_policy.socket, "getaddrinfo", no_such_name)
    with pytest.raises(Unresolvable, match="does not resolve"):
        check_url("https://hooks.example.com/x", NONE)


def test_a_lookup_that_does_not_answer_is_unresolvable_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = time.monotonic()
    with (
        unanswered_lookups(monkeypatch, lookup_timeout_seconds=0.2),
        pytest.raises(Unresolvable, match="does not resolve in time"),
    ):
        check_url("https://slow-1.example.com/x", NONE)
    assert time.monotonic() - started < 2


def test_a_request_budget_bounds_all_its_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    address_policy.start_lookup_budget(0.5)
    try:
        with unanswered_lookups(monkeypatch, lookup_timeout_seconds=0.2):
            for index in range(50):
                with pytest.raises(Unresolvable, match="in time"):
                    check_url(f"https://budget-{index}.example.com/x", NONE)
    finally:
        address_policy.end_lookup_budget()
    assert time.monotonic() - started < 1.5


def test_a_host_name_is_resolved_once_while_its_answer_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def public(host: str, port: int, **_kwargs: object) -> list[object]:
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(address_policy.socket, "getaddrinfo", public)
    for _ in range(100):
        target = check_url("https://cached-once.example.com/x", NONE)
        assert target.addresses == addresses("93.184.216.34")
    assert calls == ["cached-once.example.com"]
