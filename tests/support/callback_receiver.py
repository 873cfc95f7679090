"""A real HTTP receiver of completion callbacks (on loopback for the integration tests, at
the pod network's gateway for the cluster tests).

It checks every signature with the receiver code docs/callbacks.md shows (the block marked
`python receiver`, loaded from the page), records what it got, and answers by its path:
`/fail-<n>/...` answers 500 to the first n POSTs of that path, then 204; `/down/...` always
answers 500; anything else 204.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.doc_examples import REPO_ROOT, parse_blocks
from support.stack import CALLBACK_RECEIVER_HOST, CALLBACK_SIGNING_SECRET

DOC = REPO_ROOT / "docs" / "callbacks.md"
_FAIL_FIRST = re.compile(r"^/fail-(\d+)/")


def documented_receiver() -> dict[str, Any]:
    """The namespace of the documented receiver block: verify_signature, Receiver, ..."""
    (block,) = [
        b
        for b in parse_blocks(DOC, DOC.read_text())
        if b.language == "python" and b.mark == "receiver"
    ]
    namespace: dict[str, Any] = {"__name__": "documented_receiver"}
    exec(compile(block.code, block.where, "exec"), namespace)
    return namespace


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool


@dataclass
class CallbackReceiver:
    port: int
    url_host: str
    # The signing secret to check with (settable: a cluster's is known once it is installed).
    secret: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.url_host}:{self.port}{path}"

    def posts(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@contextmanager
def running_receiver(
    bind_host: str = "127.0.0.1",
    url_host: str = CALLBACK_RECEIVER_HOST,
    secret: str = CALLBACK_SIGNING_SECRET,
) -> Iterator[CallbackReceiver]:
    verify = documented_receiver()["verify_signature"]
    state: dict[str, CallbackReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = state["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            valid = verify(receiver.secret, self.headers.get("Taskyard-Signature", ""), body)
            with receiver.lock:
                receiver.received.append(Received(self.path, dict(self.headers), body, valid))
                seen = sum(1 for r in receiver.received if r.path == self.path)
            failing = _FAIL_FIRST.match(self.path)
            fails = self.path.startswith("/down/") or (
                failing is not None and seen <= int(failing[1])
            )
            self.send_response(500 if fails else 204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer((bind_host, 0), Handler)
    state["receiver"] = CallbackReceiver(server.server_address[1], url_host, secret)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["receiver"]
    finally:
        server.shutdown()
        server.server_close()
