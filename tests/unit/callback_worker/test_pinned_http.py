"""One POST to the checked address, with the URL's name as Host; the request a delivery
sends (signed body without `callback`). An in-process HTTP server on loopback."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from taskyard_callback_worker import pinned_http
from taskyard_callback_worker.tasks import request_body, request_headers
from taskyard_common.callbacks.address_policy import Target
from taskyard_common.callbacks.signing import signature_header
from taskyard_common.records import CallbackState, TaskRecord

seen: list[dict[str, Any]] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        seen.append(
            {"path": self.path, "host": self.headers["Host"], "body": self.rfile.read(length)}
        )
        self.send_response(302)  # a redirect: not followed, just an answer
        self.send_header("Location", "http://169.254.169.254/")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen.clear()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_posts_to_the_checked_address_with_the_name_as_host(port: int) -> None:
    target = Target(
        "http", "hooks.example.com", port, "/done?x=1", (ipaddress.ip_address("127.0.0.1"),)
    )
    assert pinned_http.post(target, b"{}", {"Content-Type": "application/json"}, 5) == 302
    assert seen == [{"path": "/done?x=1", "host": f"hooks.example.com:{port}", "body": b"{}"}]


def test_tries_the_next_checked_address_when_one_refuses(port: int) -> None:
    addresses = (ipaddress.ip_address("::1"), ipaddress.ip_address("127.0.0.1"))
    target = Target("http", "localhost", port, "/", addresses)
    assert pinned_http.post(target, b"{}", {}, 5) == 302


def test_no_address_that_answers_raises(port: int) -> None:
    target = Target("http", "localhost", 9, "/", (ipaddress.ip_address("127.0.0.1"),))
    with pytest.raises(OSError):
        pinned_http.post(target, b"{}", {}, 5)


def test_the_request_is_the_record_without_callback_signed() -> None:
    record = TaskRecord(
        id="t1",
        type="data",
        priority="normal",
        queue="data.normal",
        status="SUCCESS",
        max_retries=5,
        created_at="2026-01-01T00:00:00.000Z",
        callback=CallbackState(url="https://hooks.example.com/"),
    )
    body = request_body(record)
    assert b'"callback"' not in body and b'"status":"SUCCESS"' in body
    headers = request_headers("s3cret", "task.succeeded", "d-1", body)
    assert headers["Taskyard-Event"] == "task.succeeded"
    assert headers["Taskyard-Delivery"] == "d-1"
    timestamp = int(headers["Taskyard-Signature"].split(",")[0].removeprefix("t="))
    assert headers["Taskyard-Signature"] == signature_header("s3cret", timestamp, body)
