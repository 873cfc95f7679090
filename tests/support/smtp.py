"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from support.servers import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes = b""  # the DATA exactly as received


@dataclass
class CatchingHandler:
    messages: list[Received] = field(default_factory=list)
    # A test may set a reply to send instead of accepting, e.g. "550 5.1.1 no such user";
    # `fail_next` counts how many DATA commands get it before the server accepts again.
    reject_reply: str | None = None
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # RCPT TO replies by recipient address (lower case), e.g. {"x@example.com": "550 5.1.1 no"}:
    # those recipients are refused, the others accepted as usual.
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    # Fault injection: hold every DATA reply this long (a slow server), and answer a
    # share of DATA commands with a transient 451, counting each one.
    delay_seconds: float = 0.0
    transient_failure_rate: float = 0.0
    injected_failures: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(1234))

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self.lock:
            refusal = self.refuse_recipients.get(address.lower())
        if refusal:
            return refusal
        # What aiosmtpd does without a RCPT hook.
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        with self.lock:
            if self.transient_failure_rate and self.rng.random() < self.transient_failure_rate:
                self.injected_failures += 1
                return "451 4.3.0 injected transient failure"
            if self.reject_reply and self.fail_next > 0:
                self.fail_next -= 1
                return self.reject_reply
            parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
            self.messages.append(
                Received(
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    parsed,  # type: ignore[arg-type]
                    envelope.original_content or b"",
                )
            )
        return "250 OK"


class SmtpCatcher:
    def __init__(
        self,
        controller: Controller,
        handler: CatchingHandler,
        port: int,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.controller = controller
        self.handler = handler
        self.port = port
        self.options = dict(options or {})  # what `restart` starts the server with again

    @classmethod
    def start(cls, port: int | None = None, **smtp_options: Any) -> SmtpCatcher:
        """`smtp_options` go to aiosmtpd's Controller and SMTP: ssl_context (implicit TLS),
        tls_context and require_starttls (STARTTLS), authenticator, auth_require_tls..."""
        handler = CatchingHandler()
        chosen = port or free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=chosen, **smtp_options)
        controller.start()
        return cls(controller, handler, chosen, smtp_options)

    def restart(self) -> None:
        """Listen again on the same port with the same handler (and messages) after `stop`."""
        self.stop()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    @contextmanager
    def down(self) -> Iterator[None]:
        """Nothing listens on the port while the block runs: connections are refused."""
        self.stop()
        try:
            yield
        finally:
            self.restart()

    @contextmanager
    def rejecting(self, reply: str, times: int) -> Iterator[CatchingHandler]:
        """Answer the next `times` DATA commands with `reply`; back to accepting afterwards."""
        with self.handler.lock:
            self.handler.reject_reply, self.handler.fail_next = reply, times
        try:
            yield self.handler
        finally:
            with self.handler.lock:
                self.handler.reject_reply, self.handler.fail_next = None, 0

    @contextmanager
    def refusing(self, replies: dict[str, str]) -> Iterator[CatchingHandler]:
        """Refuse these recipients at RCPT TO (address -> reply) while the block runs."""
        with self.handler.lock:
            self.handler.refuse_recipients = {k.lower(): v for k, v in replies.items()}
        try:
            yield self.handler
        finally:
            with self.handler.lock:
                self.handler.refuse_recipients = {}

    def wait_for(self, timeout_seconds: float = 10, **headers: Any) -> Received:
        """The one message with these headers (e.g. message_id="<...>"), waiting for it."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            found = self.find(**headers)
            if found:
                assert len(found) == 1, f"{len(found)} messages match {headers}"
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no message with {headers} in {timeout_seconds}s")
            time.sleep(0.05)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self.controller.stop()

    def find(self, **headers: Any) -> list[Received]:
        return [
            m
            for m in self.messages
            if all(str(m.message.get(k.replace("_", "-"))) == v for k, v in headers.items())
        ]
