"""`taskyard.email.send`: render the templates, attach the files, send over SMTP."""

from __future__ import annotations

from typing import Any

from taskyard_common.contracts.email import EmailPayload
from taskyard_common.logs import get_logger
from taskyard_common.retry import PermanentError
from taskyard_common.settings import Settings
from taskyard_common.task_runtime import TaskContext
from taskyard_email_worker.message import (
    build_message,
    load_attachments,
    make_message_id,
    parse_sender,
    render_email,
)
from taskyard_email_worker.smtp import SmtpConfig, send


def send_email(payload: EmailPayload, context: TaskContext) -> dict[str, Any]:
    """Result: `{"message_id", "recipients" (accepted), "refused"?: [{"address", "code",
    "message"}]}`; `refused` lists recipients the server refused while it took the others."""
    settings = context.settings
    if not settings.smtp_host.strip():
        raise PermanentError(
            "SMTP is not configured: set TASKYARD_SMTP_HOST", error_type="SMTPNotConfigured"
        )
    sender = parse_sender(settings.smtp_from)
    rendered = render_email(payload)
    attachments = load_attachments(payload, context.files)
    message_id = make_message_id(context.task_id, sender)
    message = build_message(
        payload, rendered, sender=sender, message_id=message_id, attachments=attachments
    )
    recipients = payload.recipients()
    refused = send(message, sender.address, recipients, SmtpConfig.from_settings(settings))
    refused_addresses = {r.address for r in refused}
    accepted = [r for r in recipients if r not in refused_addresses]
    context.log.info(
        "email_sent",
        message_id=message_id,
        recipients=len(accepted),
        refused=len(refused),
        attachments=len(attachments),
    )
    result: dict[str, Any] = {"message_id": message_id, "recipients": accepted}
    if refused:
        result["refused"] = [r.as_dict() for r in refused]
    return result


def warn_when_smtp_unset(settings: Settings) -> None:
    if not settings.smtp_host.strip():
        get_logger("taskyard.email").warning(
            "smtp_not_configured", hint="set TASKYARD_SMTP_HOST; email tasks fail until then"
        )
