"""The console's session: a signed (not encrypted) cookie, decoded and checked per request.

It holds the caller's name and a keyed fingerprint of the API key it signed in with, never
the key: each request looks the name's key up again and checks the fingerprint, so a key
removed or replaced in the configuration ends every session made with it. The CSRF token of the
session's forms lives here too; signing in issues a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "taskyard_console"
SALT = "taskyard-console-session"
CSRF_TOKEN_BYTES = 32


@dataclass(frozen=True)
class ConsoleSession:
    csrf_token: str
    # None until a key signed in (or always, when the API has no keys).
    caller: str | None = None
    key_fingerprint: str | None = None


def new_session(caller: str | None = None, key_fingerprint: str | None = None) -> ConsoleSession:
    return ConsoleSession(secrets.token_urlsafe(CSRF_TOKEN_BYTES), caller, key_fingerprint)


def key_fingerprint(secret: str, key: str) -> str:
    """Keyed with the session secret: the cookie's fingerprint tells nothing about the key."""
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def fingerprint_matches(secret: str, fingerprint: str, key: str) -> bool:
    return hmac.compare_digest(key_fingerprint(secret, key), fingerprint)


def encode(secret: str, session: ConsoleSession) -> str:
    serializer = URLSafeTimedSerializer(secret, salt=SALT)
    return serializer.dumps([session.csrf_token, session.caller, session.key_fingerprint])


def decode(secret: str, cookie: str, max_age_seconds: int) -> ConsoleSession | None:
    """The session in a cookie this console signed less than `max_age_seconds` ago, else None."""
    serializer = URLSafeTimedSerializer(secret, salt=SALT)
    try:
        values = serializer.loads(cookie, max_age=max_age_seconds)
    except BadSignature:  # also SignatureExpired, a subclass
        return None
    if (
        not isinstance(values, list)
        or len(values) != 3
        or not isinstance(values[0], str)
        or not all(v is None or isinstance(v, str) for v in values[1:])
    ):
        return None
    return ConsoleSession(values[0], values[1], values[2])


def csrf_token_matches(session: ConsoleSession | None, presented: str | None) -> bool:
    if session is None or not presented:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), presented.encode())
