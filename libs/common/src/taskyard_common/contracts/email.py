"""The email payload: one message, rendered from sandboxed Jinja2 templates."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, EmailStr, Field, model_validator

from taskyard_common.contracts.common import FileId, StrictModel

MAX_RECIPIENTS = 100
MAX_SUBJECT_CHARS = 998
MAX_BODY_CHARS = 1_000_000
MAX_ATTACHMENTS = 20


def _single_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain CR or LF")
    return value


HeaderText = Annotated[str, AfterValidator(_single_line)]
Address = Annotated[EmailStr, AfterValidator(_single_line)]


class Attachment(StrictModel):
    file_id: FileId


class EmailPayload(StrictModel):
    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    cc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    reply_to: Address | None = None
    subject: HeaderText = Field(max_length=MAX_SUBJECT_CHARS)
    text: str | None = Field(default=None, max_length=MAX_BODY_CHARS)
    html: str | None = Field(default=None, max_length=MAX_BODY_CHARS)
    context: dict[str, Any] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)

    @model_validator(mode="after")
    def _limits(self) -> EmailPayload:
        if len(self.to) + len(self.cc) + len(self.bcc) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients in all")
        if self.text is None and self.html is None:
            raise ValueError("give text, html or both")
        return self
