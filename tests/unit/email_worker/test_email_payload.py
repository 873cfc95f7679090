"""The email payload model: what the API accepts (and the worker parses again)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from taskyard_common.contracts import PAYLOAD_MODELS, SubmitRequest
from taskyard_common.contracts.email import MAX_RECIPIENTS, EmailPayload


def payload(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"to": ["ada@example.com"], "subject": "Hi {{ name }}", "text": "x"}
    base.update(changes)
    return base


def errors(body: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        EmailPayload.model_validate(body)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_minimal_payload_and_defaults() -> None:
    parsed = EmailPayload.model_validate(payload())
    assert parsed.cc == [] and parsed.bcc == [] and parsed.reply_to is None
    assert parsed.html is None and parsed.context == {} and parsed.attachments == []


def test_submission_round_trip_is_stable() -> None:
    body = payload(
        cc=["Bob@Example.COM"],
        bcc=["carol@example.org"],
        reply_to="help@example.com",
        html="<p>{{ name }}</p>",
        context={"name": "Ada", "n": [1, {"a": None}]},
        attachments=[{"file_id": "0" * 32}],
    )
    submitted = SubmitRequest.model_validate({"type": "email", "payload": body}).root
    stored = submitted.model_dump(mode="json")["payload"]
    assert stored["cc"] == ["Bob@example.com"]  # the domain is normalised, the local part kept
    again = PAYLOAD_MODELS["email"].validate_python(stored)
    assert again.model_dump(mode="json") == stored


def test_internationalised_domain_goes_out_as_idna() -> None:
    parsed = EmailPayload.model_validate(payload(to=["ada@bücher.example"]))
    assert parsed.to == ["ada@xn--bcher-kva.example"]


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("subject", "Hello\r\nBcc: victim@example.com", ("subject",)),
        ("subject", "Hello\nthere", ("subject",)),
        ("subject", "Hello\rthere", ("subject",)),
        ("to", ["ada@example.com\r\nBcc: victim@example.com"], ("to", 0)),
        ("cc", ["ok@example.com", "bob@example.com\nX: y"], ("cc", 1)),
        ("bcc", ["bob@example.com\r"], ("bcc", 0)),
        ("reply_to", "help@example.com\r\nBcc: victim@example.com", ("reply_to",)),
    ],
)
def test_line_breaks_in_header_values_are_refused(field: str, value: Any, loc: tuple[Any]) -> None:
    found = errors(payload(**{field: value}))
    assert found == [(loc, "Value error, must not contain CR or LF")]


@pytest.mark.parametrize("bad", ["Hello\x00", "Hello\x1b[31m", "Hello\u2028there", "a\x85b"])
def test_other_control_characters_in_the_subject_are_refused(bad: str) -> None:
    assert errors(payload(subject=bad))[0][0] == ("subject",)


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "ada@",
        "@example.com",
        "ada@localhost",
        "a b@example.com",
        "Ada <ada@example.com>",
        "ada@example..com",
    ],
)
def test_invalid_addresses_are_refused(address: str) -> None:
    found = errors(payload(to=[address]))
    assert found[0][0] == ("to", 0)
    assert "not a valid email address" in found[0][1]


def test_recipient_limits() -> None:
    many = [f"u{i}@example.com" for i in range(MAX_RECIPIENTS)]
    EmailPayload.model_validate(payload(to=many))
    assert errors(payload(to=[*many, "one@example.com"]))[0][0] == ("to",)
    found = errors(payload(to=many[:50], cc=many[50:], bcc=["one@example.com"]))
    assert found == [((), "Value error, at most 100 recipients in all (to, cc and bcc)")]
    assert errors(payload(to=[]))[0][0] == ("to",)


def test_body_size_and_presence() -> None:
    assert errors(payload(text=None))[0][1] == "Value error, give text, html or both"
    assert errors(payload(text="x" * 500_001))[0][0] == ("text",)
    assert errors(payload(subject="x" * 999))[0][0] == ("subject",)


@pytest.mark.parametrize("field", ["subject", "text", "html"])
def test_template_syntax_errors_are_validation_errors(field: str) -> None:
    found = errors(payload(**{field: "Hello {{ name "}))
    assert found[0][0] == (field,)
    assert found[0][1].startswith("Value error, template error:")
    assert "(line 1)" in found[0][1]


def test_unknown_fields_and_bad_attachment_ids_are_refused() -> None:
    assert errors(payload(headers={"X": "y"}))[0][0] == ("headers",)
    assert errors(payload(attachments=[{"file_id": "../etc/passwd"}]))[0][0] == (
        "attachments",
        0,
        "file_id",
    )


def test_recipients_are_deduplicated_in_order() -> None:
    parsed = EmailPayload.model_validate(
        payload(
            to=["a@example.com", "b@example.com"],
            cc=["A@example.com"],
            bcc=["c@example.com", "b@example.com"],
        )
    )
    assert parsed.recipients() == ["a@example.com", "b@example.com", "c@example.com"]
