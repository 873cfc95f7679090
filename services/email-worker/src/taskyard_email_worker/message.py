"""From a validated payload to an `EmailMessage`: render, attach, and give it an id."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from taskyard_common.contracts.email import HEADER_BREAKERS, EmailPayload
from taskyard_common.email_templates import RenderSession, TemplateRenderError
from taskyard_common.retry import PermanentError
from taskyard_common.storage import DEFAULT_CONTENT_TYPE, FileNotFound, FileStore

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
_MIME_TYPE = re.compile(r"^([A-Za-z0-9!#$&^_.+-]+)/([A-Za-z0-9!#$&^_.+-]+)$")
_CHARSET = re.compile(r"""charset\s*=\s*"?([A-Za-z0-9_.:+-]{1,40})"?""", re.IGNORECASE)
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str | None
    html: str | None


@dataclass(frozen=True)
class AttachmentData:
    filename: str
    maintype: str
    subtype: str
    data: bytes
    charset: str | None = None


@dataclass(frozen=True)
class Sender:
    header: str  # what the From: header shows, e.g. "Taskyard <noreply@example.com>"
    address: str  # the envelope sender (MAIL FROM)

    @property
    def domain(self) -> str:
        domain = self.address.rpartition("@")[2]
        return domain if _DOMAIN.fullmatch(domain) else "taskyard.invalid"


class TemplateFailed(PermanentError):
    """A template could not be rendered with the given context: the payload must change."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_type="TemplateError")


def parse_sender(value: str) -> Sender:
    """TASKYARD_SMTP_FROM, a bare address or `Name <address>`."""
    _, address = parseaddr(value)
    if HEADER_BREAKERS.search(value) or "@" not in address:
        raise PermanentError(
            f"TASKYARD_SMTP_FROM is not a usable address: {value!r}", error_type="SMTPNotConfigured"
        )
    return Sender(header=value.strip(), address=address)


def make_message_id(task_id: str, sender: Sender) -> str:
    """Stable for a task: a retried or redelivered task sends the same Message-ID again,
    so a receiver can recognise a duplicate of a message it already has."""
    return f"<taskyard.{task_id}@{sender.domain}>"


def render_email(payload: EmailPayload) -> RenderedEmail:
    session = RenderSession(payload.context)
    try:
        subject = session.render(payload.subject, "subject")
        text = None if payload.text is None else session.render(payload.text, "text")
        html = None if payload.html is None else session.render(payload.html, "html")
    except TemplateRenderError as error:
        raise TemplateFailed(f"cannot render the {error.kind} template: {error.detail}") from error
    if HEADER_BREAKERS.search(subject):
        raise TemplateFailed(
            "cannot render the subject template: the rendered subject contains a line break "
            "or a control character (check the context values it uses)"
        )
    return RenderedEmail(subject=subject.strip(), text=text, html=html)


def _content_type(value: str) -> tuple[str, str, str | None]:
    mime, _, params = (value or DEFAULT_CONTENT_TYPE).partition(";")
    match = _MIME_TYPE.fullmatch(mime.strip())
    if not match:
        return "application", "octet-stream", None
    maintype, subtype = match.group(1).lower(), match.group(2).lower()
    if maintype in ("multipart", "message"):
        # Attached as opaque bytes: those types have rules of their own inside a message.
        return "application", "octet-stream", None
    charset = _CHARSET.search(params)
    return maintype, subtype, (charset.group(1) if charset and maintype == "text" else None)


def load_attachments(payload: EmailPayload, files: FileStore) -> list[AttachmentData]:
    loaded: list[AttachmentData] = []
    total = 0
    for attachment in payload.attachments:
        try:
            stored = files.stat(attachment.file_id)
        except FileNotFound as error:
            raise PermanentError(
                f"attachment {attachment.file_id} not found", error_type="AttachmentNotFound"
            ) from error
        total += stored.size
        if total > MAX_ATTACHMENT_BYTES:
            raise PermanentError(
                f"attachments are larger than {MAX_ATTACHMENT_BYTES} bytes in all",
                error_type="AttachmentTooLarge",
            )
        try:
            with files.open(attachment.file_id) as handle:
                data = handle.read(stored.size + 1)
        except FileNotFound as error:
            raise PermanentError(
                f"attachment {attachment.file_id} not found", error_type="AttachmentNotFound"
            ) from error
        if len(data) != stored.size:
            raise PermanentError(
                f"attachment {attachment.file_id} does not match its stored size",
                error_type="AttachmentCorrupt",
            )
        maintype, subtype, charset = _content_type(stored.content_type)
        loaded.append(AttachmentData(stored.name, maintype, subtype, data, charset))
    return loaded


def build_message(
    payload: EmailPayload,
    rendered: RenderedEmail,
    *,
    sender: Sender,
    message_id: str,
    attachments: Sequence[AttachmentData] = (),
    date: datetime | None = None,
) -> EmailMessage:
    """text/plain, text/html or multipart/alternative; multipart/mixed around it with attachments.

    Bcc recipients are envelope recipients only: they never appear in a header.
    """
    message = EmailMessage()
    message["From"] = sender.header
    message["To"] = ", ".join(payload.to)
    if payload.cc:
        message["Cc"] = ", ".join(payload.cc)
    if payload.reply_to:
        message["Reply-To"] = payload.reply_to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id
    if rendered.text is not None:
        message.set_content(rendered.text)
        if rendered.html is not None:
            message.add_alternative(rendered.html, subtype="html")
    elif rendered.html is not None:
        message.set_content(rendered.html, subtype="html")
    for item in attachments:
        params = {"charset": item.charset} if item.charset else None
        message.add_attachment(
            item.data,
            maintype=item.maintype,
            subtype=item.subtype,
            filename=item.filename,
            params=params,
        )
    return message
