"""Building the message and classifying SMTP failures: no servers needed."""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from taskyard_common.contracts.email import EmailPayload
from taskyard_common.retry import PermanentError, TransientError, is_retryable
from taskyard_common.settings import Settings
from taskyard_common.storage import FileStore
from taskyard_email_worker.message import (
    MAX_ATTACHMENT_BYTES,
    AttachmentData,
    RenderedEmail,
    TemplateFailed,
    build_message,
    load_attachments,
    make_message_id,
    parse_sender,
    render_email,
)
from taskyard_email_worker.smtp import SmtpConfig, classify
from taskyard_email_worker.tasks import send_email

SENDER = parse_sender("Taskyard <noreply@example.com>")
CONFIG = SmtpConfig(host="smtp.example.com", port=25)


def email(**changes: Any) -> EmailPayload:
    base: dict[str, Any] = {
        "to": ["ada@example.com"],
        "subject": "Hi {{ name }}",
        "context": {"name": "Ada"},
    }
    base.update(changes)
    if "text" not in base and "html" not in base:
        base["text"] = "Hello {{ name }}"
    return EmailPayload.model_validate(base)


def wire(message: EmailMessage) -> EmailMessage:
    """The message as a receiver parses it back from the bytes sent."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_text_only_message() -> None:
    payload = email()
    message = wire(
        build_message(payload, render_email(payload), sender=SENDER, message_id="<m1@example.com>")
    )
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hello Ada\n"
    assert message["Subject"] == "Hi Ada"
    assert message["From"] == "Taskyard <noreply@example.com>"
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"] == "<m1@example.com>"
    assert message["Date"]
    assert message["Cc"] is None and message["Reply-To"] is None


def test_html_only_message() -> None:
    payload = email(html="<p>{{ name }}</p>")
    message = wire(build_message(payload, render_email(payload), sender=SENDER, message_id="<m@x>"))
    assert message.get_content_type() == "text/html"
    assert message.get_content().strip() == "<p>Ada</p>"


def test_text_and_html_make_multipart_alternative_and_bcc_stays_hidden() -> None:
    payload = email(
        text="Hi {{ name }}",
        html="<p>Hi {{ name }}</p>",
        cc=["bob@example.com"],
        bcc=["secret@example.com"],
        reply_to="help@example.com",
        context={"name": "Ada & <Bob>"},
    )
    built = build_message(
        payload,
        render_email(payload),
        sender=SENDER,
        message_id="<m@x>",
        date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    raw = built.as_bytes(policy=policy.SMTP)
    assert b"secret@example.com" not in raw
    message = wire(built)
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().strip() == "Hi Ada & <Bob>"
    assert html.get_content_type() == "text/html"
    assert html.get_content().strip() == "<p>Hi Ada &amp; &lt;Bob&gt;</p>"
    assert message["Cc"] == "bob@example.com"
    assert message["Reply-To"] == "help@example.com"
    assert message["Date"] == "Fri, 02 Jan 2026 03:04:05 +0000"


def test_attachments_make_multipart_mixed_with_their_types() -> None:
    payload = email(text="t", html="<b>h</b>")
    attachments = [
        AttachmentData("report.pdf", "application", "pdf", b"%PDF-1.7\x00\xff"),
        AttachmentData("rows.csv", "text", "csv", "a,b\nü,2\n".encode(), "utf-8"),
        AttachmentData("naïve name.txt", "text", "plain", b"plain"),
    ]
    message = wire(
        build_message(
            payload,
            render_email(payload),
            sender=SENDER,
            message_id="<m@x>",
            attachments=attachments,
        )
    )
    assert message.get_content_type() == "multipart/mixed"
    body, *files = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [f.get_filename() for f in files] == ["report.pdf", "rows.csv", "naïve name.txt"]
    assert [f.get_content_type() for f in files] == ["application/pdf", "text/csv", "text/plain"]
    assert [f.get_payload(decode=True) for f in files] == [a.data for a in attachments]
    assert files[1].get_content_charset() == "utf-8"
    assert all(f.get_content_disposition() == "attachment" for f in files)


def test_long_lines_and_non_ascii_survive_transport() -> None:
    text = "é" * 3000 + "\n" + "x" * 5000 + "\n"
    payload = email(text=text, subject="Grüße {{ name }}")
    built = build_message(payload, render_email(payload), sender=SENDER, message_id="<m@x>")
    raw = built.as_bytes(policy=policy.SMTP)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = wire(built)
    assert message.get_content() == text
    assert message["Subject"] == "Grüße Ada"


def test_missing_variable_is_a_permanent_template_error() -> None:
    with pytest.raises(TemplateFailed) as caught:
        render_email(email(html="<p>{{ order.total }}</p>", context={"name": "Ada"}))
    assert not is_retryable(caught.value)
    assert caught.value.error_type == "TemplateError"
    assert str(caught.value) == "cannot render the html template: 'order' is undefined (line 1)"


def test_rendered_subject_with_a_line_break_is_refused() -> None:
    with pytest.raises(TemplateFailed, match="rendered subject contains a line break"):
        render_email(email(context={"name": "x\r\nBcc: victim@example.com"}))


def test_message_id_is_stable_per_task_and_uses_the_sender_domain() -> None:
    assert make_message_id("t-1", SENDER) == "<taskyard.t-1@example.com>"
    assert make_message_id("t-1", SENDER) == make_message_id("t-1", SENDER)
    assert make_message_id("t-1", parse_sender("taskyard@localhost")).endswith("@localhost>")


@pytest.mark.parametrize("bad", ["", "no address", "a@b.c\r\nBcc: x@y.z"])
def test_unusable_sender_setting_is_permanent(bad: str) -> None:
    with pytest.raises(PermanentError, match="TASKYARD_SMTP_FROM"):
        parse_sender(bad)


def test_load_attachments_from_storage(tmp_path: Path) -> None:
    files = FileStore(f"file://{tmp_path}")
    pdf = files.save_bytes(b"%PDF\x00\x01", name="a.pdf", content_type="application/pdf")
    csv = files.save_bytes(b"a,b\n", name="b.csv", content_type="text/csv; charset=utf-8")
    odd = files.save_bytes(b"x", name="c.eml", content_type="message/rfc822")
    junk = files.save_bytes(b"y", name="d", content_type="not a type")
    payload = email(attachments=[{"file_id": f.id} for f in (pdf, csv, odd, junk)])
    loaded = load_attachments(payload, files)
    assert [(a.filename, a.maintype, a.subtype, a.charset, a.data) for a in loaded] == [
        ("a.pdf", "application", "pdf", None, b"%PDF\x00\x01"),
        ("b.csv", "text", "csv", "utf-8", b"a,b\n"),
        ("c.eml", "application", "octet-stream", None, b"x"),
        ("d", "application", "octet-stream", None, b"y"),
    ]


def test_missing_or_too_large_attachments_are_permanent(tmp_path: Path) -> None:
    files = FileStore(f"file://{tmp_path}")
    with pytest.raises(PermanentError, match="not found") as caught:
        load_attachments(email(attachments=[{"file_id": "a" * 32}]), files)
    assert caught.value.error_type == "AttachmentNotFound"
    big = files.save_bytes(
        b"0" * (MAX_ATTACHMENT_BYTES // 2 + 1), name="big", content_type="application/octet-stream"
    )
    with pytest.raises(PermanentError, match="larger than"):
        load_attachments(email(attachments=[{"file_id": big.id}] * 2), files)


def reply(code: int, text: str) -> tuple[int, bytes]:
    return code, text.encode()


@pytest.mark.parametrize(
    ("error", "retryable", "error_type", "message"),
    [
        (
            smtplib.SMTPDataError(*reply(550, "5.1.1 no such user")),
            False,
            "SMTPDataError",
            "message refused: 550 5.1.1 no such user",
        ),
        (
            smtplib.SMTPDataError(*reply(451, "4.3.0 try later")),
            True,
            "SMTPDataError",
            "message refused: 451 4.3.0 try later",
        ),
        (
            smtplib.SMTPRecipientsRefused({"a@x.io": reply(550, "5.1.1 unknown")}),
            False,
            "SMTPRecipientsRefused",
            "every recipient was refused: a@x.io: 550 5.1.1 unknown",
        ),
        (
            smtplib.SMTPRecipientsRefused(
                {"a@x.io": reply(550, "no"), "b@x.io": reply(450, "busy")}
            ),
            True,
            "SMTPRecipientsRefused",
            "every recipient was refused: a@x.io: 550 no; b@x.io: 450 busy",
        ),
        (
            smtplib.SMTPSenderRefused(553, b"5.7.1 not yours", "n@example.com"),
            False,
            "SMTPSenderRefused",
            "sender n@example.com refused: 553 5.7.1 not yours",
        ),
        (
            smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"),
            False,
            "SMTPAuthenticationError",
            "authentication failed: 535 5.7.8 bad credentials",
        ),
        (
            smtplib.SMTPAuthenticationError(454, b"4.7.0 temporary"),
            True,
            "SMTPAuthenticationError",
            "authentication failed: 454 4.7.0 temporary",
        ),
        (
            smtplib.SMTPConnectError(421, b"4.3.2 busy"),
            True,
            "SMTPConnectError",
            "SMTP server smtp.example.com:25 refused the connection: 421 4.3.2 busy",
        ),
        (
            smtplib.SMTPConnectError(554, b"no service"),
            False,
            "SMTPConnectError",
            "SMTP server smtp.example.com:25 refused the connection: 554 no service",
        ),
        (
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
            True,
            "SMTPServerDisconnected",
            "SMTP server smtp.example.com:25 disconnected: Connection unexpectedly closed",
        ),
        (
            smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
            False,
            "SMTPNotSupportedError",
            "the SMTP server does not support this: STARTTLS extension not supported by server.",
        ),
        (
            ConnectionRefusedError(111, "Connection refused"),
            True,
            "ConnectionRefusedError",
            "cannot talk to SMTP server smtp.example.com:25: [Errno 111] Connection refused",
        ),
        (
            TimeoutError("timed out"),
            True,
            "TimeoutError",
            "cannot talk to SMTP server smtp.example.com:25: timed out",
        ),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            False,
            "SSLCertVerificationError",
            None,
        ),
    ],
)
def test_classify(
    error: BaseException, retryable: bool, error_type: str, message: str | None
) -> None:
    classified = classify(error, CONFIG)
    assert isinstance(classified, TransientError if retryable else PermanentError)
    assert classified.error_type == error_type
    if message is not None:
        assert str(classified) == message


class _Context:
    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = settings
        self.task_id = "task-1"
        self.files = FileStore(f"file://{tmp_path}")


def test_without_an_smtp_host_the_task_fails_clearly(tmp_path: Path) -> None:
    settings = Settings(smtp_host="", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(PermanentError, match="SMTP is not configured") as caught:
        send_email(email(), _Context(settings, tmp_path))  # type: ignore[arg-type]
    assert caught.value.error_type == "SMTPNotConfigured"


def test_rendered_email_is_a_plain_value() -> None:
    rendered = render_email(email(html="<i>{{ name }}</i>"))
    assert rendered == RenderedEmail(subject="Hi Ada", text=None, html="<i>Ada</i>")
