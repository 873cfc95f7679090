"""Sending one message with smtplib, and which SMTP failures are worth retrying.

Connection failures, timeouts and 4xx replies are transient: the task runtime
retries them with the shared backoff. 5xx replies are permanent: the task fails
at once with the server's code and text in its error.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from taskyard_common.retry import PermanentError, TaskError, TransientError
from taskyard_common.settings import Settings

MAX_REFUSALS_IN_MESSAGE = 5


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    ssl: bool = False
    timeout_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host.strip(),
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
            ssl=settings.smtp_ssl,
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Refusal:
    address: str
    code: int
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"address": self.address, "code": self.code, "message": self.message}


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _by_code(code: int, message: str, error_type: str) -> TaskError:
    if 500 <= code <= 599:
        return PermanentError(message, error_type=error_type)
    return TransientError(message, error_type=error_type)


def classify(error: BaseException, config: SmtpConfig) -> TaskError:
    """The TaskError an SMTP or network failure amounts to (transient or permanent)."""
    name = type(error).__name__
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refusals = [
            Refusal(rcpt, code, _text(reply)) for rcpt, (code, reply) in error.recipients.items()
        ]
        listed = "; ".join(
            f"{r.address}: {r.code} {r.message}" for r in refusals[:MAX_REFUSALS_IN_MESSAGE]
        )
        more = len(refusals) - MAX_REFUSALS_IN_MESSAGE
        if more > 0:
            listed += f"; and {more} more"
        message = f"every recipient was refused: {listed}"
        # Try again when one of them was only deferred (4xx); the others will be refused again.
        if any(not 500 <= r.code <= 599 for r in refusals):
            return TransientError(message, error_type=name)
        return PermanentError(message, error_type=name)
    if isinstance(error, smtplib.SMTPSenderRefused):
        sender = error.sender.decode() if isinstance(error.sender, bytes) else error.sender
        reply = f"{error.smtp_code} {_text(error.smtp_error)}"
        return _by_code(error.smtp_code, f"sender {sender} refused: {reply}", name)
    if isinstance(error, smtplib.SMTPDataError):
        return _by_code(
            error.smtp_code, f"message refused: {error.smtp_code} {_text(error.smtp_error)}", name
        )
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _by_code(
            error.smtp_code,
            f"authentication failed: {error.smtp_code} {_text(error.smtp_error)}",
            name,
        )
    if isinstance(error, smtplib.SMTPConnectError):
        return _by_code(
            error.smtp_code,
            f"SMTP server {config.address} refused the connection: "
            f"{error.smtp_code} {_text(error.smtp_error)}",
            name,
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return _by_code(
            error.smtp_code, f"SMTP error: {error.smtp_code} {_text(error.smtp_error)}", name
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return TransientError(
            f"SMTP server {config.address} disconnected: {error}", error_type=name
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return PermanentError(f"the SMTP server does not support this: {error}", error_type=name)
    if isinstance(error, smtplib.SMTPException):
        return PermanentError(f"SMTP error: {error}", error_type=name)
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = getattr(error, "verify_message", None) or error
        return PermanentError(
            f"TLS certificate of {config.address} not trusted: {reason}", error_type=name
        )
    if isinstance(error, OSError):  # refused, reset, unreachable, DNS, timeouts, TLS failures
        return TransientError(
            f"cannot talk to SMTP server {config.address}: {error}", error_type=name
        )
    raise error


def send(
    message: EmailMessage,
    sender: str,
    recipients: list[str],
    config: SmtpConfig,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> list[Refusal]:
    """Send over one SMTP session; the recipients refused while others were accepted.

    Raises TransientError or PermanentError (see `classify`).
    """
    context = ssl_context or ssl.create_default_context()
    client: smtplib.SMTP | None = None
    try:
        if config.ssl:
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        client.ehlo_or_helo_if_needed()
        if config.starttls and not config.ssl:
            client.starttls(context=context)
            client.ehlo()
        if config.username:
            client.login(config.username, config.password)
        refused = client.send_message(message, from_addr=sender, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as error:
        raise classify(error, config) from error
    finally:
        if client is not None:
            _quit(client)
    return [Refusal(rcpt, code, _text(reply)) for rcpt, (code, reply) in refused.items()]


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye politely; after the message went out, a failure here changes nothing."""
    try:
        if client.sock is not None:
            client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()
