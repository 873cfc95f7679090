"""The receiver docs/callbacks.md shows: served for real, sent a request Taskyard signs
as the callback worker does, and a forged one."""

from __future__ import annotations

import threading
import time
from http.server import HTTPServer

import requests

from support.callback_receiver import documented_receiver
from taskyard_callback_worker.tasks import request_headers

SECRET = "docs-secret"
OWNER = "demo"
BODY = b'{"id":"0b5b2c1e-0000-4000-8000-000000000000","owner":"demo","status":"SUCCESS"}'


def test_the_documented_receiver_accepts_a_signed_delivery_and_refuses_a_forged_one() -> None:
    receiver = documented_receiver()["Receiver"]
    receiver.secret = SECRET
    receiver.owner = OWNER
    server = HTTPServer(("127.0.0.1", 0), receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        headers = request_headers(SECRET, "task.succeeded", "d-1", BODY)
        assert requests.post(url, data=BODY, headers=headers, timeout=5).status_code == 204
        # The same delivery again (a retry) is answered 2xx again.
        assert requests.post(url, data=BODY, headers=headers, timeout=5).status_code == 204
        forged = request_headers("not-the-secret", "task.succeeded", "d-2", BODY)
        assert requests.post(url, data=BODY, headers=forged, timeout=5).status_code == 401
        tampered = BODY.replace(b"SUCCESS", b"FAILED")
        assert requests.post(url, data=tampered, headers=headers, timeout=5).status_code == 401
        # Signed by Taskyard for another owner's task: someone else named this URL.
        theirs = BODY.replace(b'"demo"', b'"someone-else"')
        signed = request_headers(SECRET, "task.succeeded", "d-4", theirs)
        assert requests.post(url, data=theirs, headers=signed, timeout=5).status_code == 403
        odd = {**headers, "Taskyard-Signature": headers["Taskyard-Signature"] + "\u00e9"}
        odd_bytes = {k: v.encode("latin-1") for k, v in odd.items()}
        assert requests.post(url, data=BODY, headers=odd_bytes, timeout=5).status_code == 401
    finally:
        server.shutdown()
        server.server_close()


def test_the_documented_check_refuses_an_old_timestamp() -> None:
    verify = documented_receiver()["verify_signature"]
    signature = request_headers(SECRET, "task.failed", "d-3", BODY)["Taskyard-Signature"]
    assert verify(SECRET, signature, BODY)
    assert not verify(SECRET, signature, BODY, now=time.time() + 3600)
    assert not verify(SECRET, "t=nonsense", BODY)
    assert not verify(SECRET, signature + "\u00e9", BODY)
