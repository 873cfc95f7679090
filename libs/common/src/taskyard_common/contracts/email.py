"""The email payload: one message, rendered from sandboxed Jinja2 templates.

The API validates a submission with this model (a bad address, a header with a
line break or a template syntax error is a 422) and the email worker parses the
stored payload with it again before it renders and sends.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator

from taskyard_common.contracts.common import FileId, StrictModel
from taskyard_common.email_templates import check_template

MAX_RECIPIENTS = 100
MAX_SUBJECT_CHARS = 998
MAX_BODY_CHARS = 500_000
MAX_ATTACHMENTS = 20
# CR, LF, the other C0 controls (tab is fine) and DEL, and what Unicode treats as line breaks.
_BREAKER_CHARS = r"\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029"
HEADER_BREAKERS = re.compile(f"[{_BREAKER_CHARS}]")
HEADER_TEXT_PATTERN = f"^[^{_BREAKER_CHARS}]*$"  # for the JSON schema


def _single_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain CR or LF")
    if HEADER_BREAKERS.search(value):
        raise ValueError("must not contain control characters or line separators")
    return value


def _address(value: str) -> str:
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from error
    # An internationalised domain goes out in its ASCII (IDNA) form when the local part allows.
    return checked.ascii_email or checked.normalized


HeaderText = Annotated[str, AfterValidator(_single_line)]
Address = Annotated[
    str,
    AfterValidator(_single_line),
    AfterValidator(_address),
    WithJsonSchema({"type": "string", "format": "email", "examples": ["ada@example.com"]}),
]


class Attachment(StrictModel):
    """A file uploaded with POST /api/files; it is attached with its stored name and type."""

    file_id: FileId


class EmailPayload(StrictModel):
    """One message. `subject`, `text` and `html` are Jinja2 templates rendered with `context`."""

    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    cc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    reply_to: Address | None = None
    subject: HeaderText = Field(
        max_length=MAX_SUBJECT_CHARS,
        json_schema_extra={"pattern": HEADER_TEXT_PATTERN},
    )
    text: str | None = Field(default=None, max_length=MAX_BODY_CHARS)
    html: str | None = Field(default=None, max_length=MAX_BODY_CHARS)
    context: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)

    @field_validator("subject")
    @classmethod
    def _subject_template(cls, value: str) -> str:
        return check_template(value, "subject")

    @field_validator("text")
    @classmethod
    def _text_template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, "text")

    @field_validator("html")
    @classmethod
    def _html_template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, "html")

    @model_validator(mode="after")
    def _limits(self) -> EmailPayload:
        if len(self.to) + len(self.cc) + len(self.bcc) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients in all (to, cc and bcc)")
        if self.text is None and self.html is None:
            raise ValueError("give text, html or both")
        return self

    def recipients(self) -> list[str]:
        """Every envelope recipient once, in order: to, cc, then bcc."""
        seen: dict[str, str] = {}
        for address in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(address.lower(), address)
        return list(seen.values())
