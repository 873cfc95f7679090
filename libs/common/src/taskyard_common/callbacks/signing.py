"""The Taskyard-Signature header of a callback: `t=<unix seconds>,v1=<hex HMAC-SHA256>` of
"<t>.<body>" keyed with TASKYARD_CALLBACK_SIGNING_SECRET. The timestamp inside the signed
text lets a receiver refuse replays of an old delivery."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Taskyard-Signature"
EVENT_HEADER = "Taskyard-Event"
DELIVERY_HEADER = "Taskyard-Delivery"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
