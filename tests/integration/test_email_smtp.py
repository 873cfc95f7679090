"""The SMTP client against a real aiosmtpd on loopback: STARTTLS, implicit TLS, login,
timeouts and refused connections. In process, no RabbitMQ or Redis needed."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from support.servers import free_port
from support.smtp import SmtpCatcher
from taskyard_common.retry import PermanentError, TransientError
from taskyard_email_worker.smtp import Refusal, SmtpConfig, send

USER, PASSWORD = "mailer", "s3cret-pass"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def catcher_factory() -> Iterator[Any]:
    started: list[SmtpCatcher] = []

    def start(**options: Any) -> SmtpCatcher:
        catcher = SmtpCatcher.start(**options)
        started.append(catcher)
        return catcher

    yield start
    for catcher in started:
        catcher.stop()


def message(subject: str = "hello") -> EmailMessage:
    built = EmailMessage()
    built["From"] = "noreply@example.com"
    built["To"] = "ada@example.com"
    built["Subject"] = subject
    built["Message-ID"] = f"<{subject}@example.com>"
    built.set_content("body\n")
    return built


def config(port: int, **changes: Any) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, timeout_seconds=5, **changes)


def test_plain_smtp(catcher_factory: Any) -> None:
    catcher = catcher_factory()
    refused = send(
        message(),
        "noreply@example.com",
        ["ada@example.com", "bob@example.com"],
        config(catcher.port),
    )
    assert refused == []
    received = catcher.wait_for(message_id="<hello@example.com>")
    assert received.mail_from == "noreply@example.com"
    assert received.rcpt_tos == ["ada@example.com", "bob@example.com"]


def test_starttls_and_login(catcher_factory: Any, certificate: Certificate) -> None:
    catcher = catcher_factory(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    send(
        message("tls"),
        "noreply@example.com",
        ["ada@example.com"],
        config(catcher.port, starttls=True, username=USER, password=PASSWORD),
        ssl_context=certificate.client_context(),
    )
    catcher.wait_for(message_id="<tls@example.com>")


def test_implicit_tls_and_login(catcher_factory: Any, certificate: Certificate) -> None:
    catcher = catcher_factory(
        ssl_context=certificate.server_context(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    send(
        message("smtps"),
        "noreply@example.com",
        ["ada@example.com"],
        config(catcher.port, ssl=True, username=USER, password=PASSWORD),
        ssl_context=certificate.client_context(),
    )
    catcher.wait_for(message_id="<smtps@example.com>")


def test_wrong_password_is_permanent(catcher_factory: Any, certificate: Certificate) -> None:
    catcher = catcher_factory(
        tls_context=certificate.server_context(),
        authenticator=authenticator,
    )
    with pytest.raises(PermanentError) as caught:
        send(
            message(),
            "noreply@example.com",
            ["ada@example.com"],
            config(catcher.port, starttls=True, username=USER, password="wrong"),
            ssl_context=certificate.client_context(),
        )
    assert caught.value.error_type == "SMTPAuthenticationError"
    assert str(caught.value).startswith("authentication failed: 535")
    assert catcher.messages == []


def test_untrusted_certificate_is_permanent(catcher_factory: Any, certificate: Certificate) -> None:
    catcher = catcher_factory(tls_context=certificate.server_context())
    with pytest.raises(PermanentError) as caught:
        send(
            message(),
            "noreply@example.com",
            ["ada@example.com"],
            config(catcher.port, starttls=True),
        )  # the default context does not know our CA
    assert caught.value.error_type == "SSLCertVerificationError"


def test_starttls_required_but_not_offered_is_permanent(catcher_factory: Any) -> None:
    catcher = catcher_factory()
    with pytest.raises(PermanentError) as caught:
        send(
            message(),
            "noreply@example.com",
            ["ada@example.com"],
            config(catcher.port, starttls=True),
        )
    assert caught.value.error_type == "SMTPNotSupportedError"
    assert "STARTTLS" in str(caught.value)


def test_refused_connection_is_transient() -> None:
    port = free_port()
    with pytest.raises(TransientError) as caught:
        send(message(), "noreply@example.com", ["ada@example.com"], config(port))
    assert caught.value.error_type == "ConnectionRefusedError"
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_silent_server_times_out_transiently() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TransientError) as caught:
            send(
                message(),
                "noreply@example.com",
                ["ada@example.com"],
                SmtpConfig(host="127.0.0.1", port=port, timeout_seconds=0.5),
            )
    assert time.monotonic() - started < 3
    assert caught.value.error_type in {"TimeoutError", "SMTPServerDisconnected"}


def test_4xx_and_5xx_data_replies(catcher_factory: Any) -> None:
    catcher = catcher_factory()
    with catcher.rejecting("451 4.3.0 try later", times=1), pytest.raises(TransientError) as soft:
        send(message(), "noreply@example.com", ["ada@example.com"], config(catcher.port))
    assert str(soft.value) == "message refused: 451 4.3.0 try later"
    with catcher.rejecting("554 5.6.0 bad content", times=1), pytest.raises(PermanentError) as hard:
        send(message(), "noreply@example.com", ["ada@example.com"], config(catcher.port))
    assert str(hard.value) == "message refused: 554 5.6.0 bad content"
    assert catcher.messages == []


def test_some_recipients_refused(catcher_factory: Any) -> None:
    catcher = catcher_factory()
    with catcher.refusing(
        {
            "ghost@example.com": "550 5.1.1 no such user",
            "busy@example.com": "452 4.2.2 mailbox full",
        }
    ):
        refused = send(
            message("some"),
            "noreply@example.com",
            ["ada@example.com", "ghost@example.com", "busy@example.com"],
            config(catcher.port),
        )
    assert refused == [
        Refusal("ghost@example.com", 550, "5.1.1 no such user"),
        Refusal("busy@example.com", 452, "4.2.2 mailbox full"),
    ]
    assert catcher.wait_for(message_id="<some@example.com>").rcpt_tos == ["ada@example.com"]
