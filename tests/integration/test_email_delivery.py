"""Email tasks end to end: API -> RabbitMQ -> real email worker -> aiosmtpd on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from support.client import ApiClient
from support.stack import Stack

PDF_BYTES = b"%PDF-1.7\n\x00\x01\x02\xff binary \r\n bytes %%EOF\n"
CSV_BYTES = "region,amount\neu,10\nüber,3\n".encode()


@pytest.fixture(scope="module")
def client(stack: Stack) -> ApiClient:
    return ApiClient(stack.base_url)


def submit(client: ApiClient, payload: dict[str, Any], **fields: Any) -> str:
    record = client.submit({"type": "email", "payload": payload, **fields})
    assert record["status"] == "QUEUED"
    task_id: str = record["id"]
    return task_id


def error_of(record: dict[str, Any]) -> dict[str, Any]:
    error = record["error"] or {}
    return {key: error.get(key) for key in ("type", "message", "retryable")}


def statuses(record: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in record["history"]]


def message_id_of(task_id: str) -> str:
    # Stable per task (see taskyard_email_worker.message.make_message_id); the stack's
    # TASKYARD_SMTP_FROM is the default taskyard@localhost.
    return f"<taskyard.{task_id}@localhost>"


def test_delivers_headers_both_bodies_and_attachments(stack: Stack, client: ApiClient) -> None:
    pdf = client.upload("report.pdf", PDF_BYTES, "application/pdf")
    csv = client.upload("rows.csv", CSV_BYTES, "text/csv")
    task_id = submit(
        client,
        {
            "to": ["ada@example.com", "alan@example.com"],
            "cc": ["grace@example.com"],
            "bcc": ["hidden@example.com"],
            "reply_to": "support@example.com",
            "subject": "Report for {{ name }}",
            "text": "Hello {{ name }},\nyour report is attached.\n",
            "html": "<p>Hello <b>{{ name }}</b>, your report is attached.</p>",
            "context": {"name": "Ada"},
            "attachments": [{"file_id": pdf["id"]}, {"file_id": csv["id"]}],
        },
        priority="high",
    )

    record = client.wait_for(task_id)
    assert record["status"] == "SUCCESS", record
    result = record["result"]
    assert result == {
        "message_id": message_id_of(task_id),
        "recipients": [
            "ada@example.com",
            "alan@example.com",
            "grace@example.com",
            "hidden@example.com",
        ],
    }
    received = stack.smtp.wait_for(message_id=result["message_id"])
    assert received.mail_from == "taskyard@localhost"
    assert received.rcpt_tos == result["recipients"]
    message = received.message
    assert message["Message-ID"] == result["message_id"]
    assert message["From"] == "taskyard@localhost"
    assert message["To"] == "ada@example.com, alan@example.com"
    assert message["Cc"] == "grace@example.com"
    assert message["Reply-To"] == "support@example.com"
    assert message["Subject"] == "Report for Ada"
    assert message["Date"]
    assert message["Bcc"] is None
    assert b"hidden@example.com" not in received.raw

    assert message.get_content_type() == "multipart/mixed"
    body, *attachments = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    plain, html = body.iter_parts()  # type: ignore[attr-defined]
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().replace("\r\n", "\n") == ("Hello Ada,\nyour report is attached.\n")
    assert html.get_content_type() == "text/html"
    assert "<p>Hello <b>Ada</b>, your report is attached.</p>" in html.get_content()

    assert [a.get_content_type() for a in attachments] == ["application/pdf", "text/csv"]
    assert [a.get_filename() for a in attachments] == ["report.pdf", "rows.csv"]
    assert [a.get_content_disposition() for a in attachments] == ["attachment", "attachment"]
    assert [a.get_payload(decode=True) for a in attachments] == [PDF_BYTES, CSV_BYTES]


def test_renders_templates_and_escapes_context_in_html(stack: Stack, client: ApiClient) -> None:
    context = {
        "name": "<script>alert('x')</script> & Co",
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "<B>", "qty": 1}],
    }
    task_id = submit(
        client,
        {
            "to": ["ada@example.com"],
            "subject": "Order for {{ name }} ({{ items|length }} items)",
            "text": "{% for i in items %}{{ i.qty }} x {{ i.sku }}\n{% endfor %}Thanks, {{ name }}",
            "html": "<ul>{% for i in items %}<li>{{ i.qty }} x {{ i.sku }}</li>{% endfor %}</ul>"
            "<p>Thanks, {{ name }}</p>",
            "context": context,
        },
    )
    record = client.wait_for(task_id)
    assert record["status"] == "SUCCESS", record
    message = stack.smtp.wait_for(message_id=record["result"]["message_id"]).message
    assert message["Subject"] == "Order for <script>alert('x')</script> & Co (2 items)"
    plain, html = message.iter_parts()
    assert plain.get_content().replace("\r\n", "\n") == (
        "2 x A-1\n1 x <B>\nThanks, <script>alert('x')</script> & Co\n"
    )
    assert html.get_content().strip() == (
        "<ul><li>2 x A-1</li><li>1 x &lt;B&gt;</li></ul>"
        "<p>Thanks, &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co</p>"
    )


def test_missing_variable_fails_at_once_and_clearly(stack: Stack, client: ApiClient) -> None:
    task_id = submit(
        client,
        {
            "to": ["ada@example.com"],
            "subject": "Hello {{ name }}",
            "html": "<p>Hello {{ name }}</p>\n<p>Total: {{ order.total }}</p>",
            "context": {"name": "Ada"},
        },
    )
    record = client.wait_for(task_id)
    assert record["status"] == "FAILED", record
    assert record["attempts"] == 1
    assert error_of(record) == {
        "type": "TemplateError",
        "message": "cannot render the html template: 'order' is undefined (line 2)",
        "retryable": False,
    }
    assert "RETRYING" not in statuses(record)
    assert stack.smtp.find(message_id=message_id_of(task_id)) == []


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("subject", "Hello\r\nBcc: victim@example.com", ["payload", "subject"]),
        ("subject", "Hello\nX-Injected: 1", ["payload", "subject"]),
        ("to", ["ada@example.com\r\nBcc: victim@example.com"], ["payload", "to", 0]),
        ("cc", ["grace@example.com\nBcc: victim@example.com"], ["payload", "cc", 0]),
        ("bcc", ["x@example.com\r"], ["payload", "bcc", 0]),
        ("reply_to", "support@example.com\r\nBcc: victim@example.com", ["payload", "reply_to"]),
    ],
)
def test_header_injection_is_rejected_with_422(
    client: ApiClient, field: str, value: Any, loc: list[Any]
) -> None:
    payload = {"to": ["ada@example.com"], "subject": "Hi", "text": "x", field: value}
    response = client.post("/api/tasks", json={"type": "email", "payload": payload})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {"loc": loc, "msg": "Value error, must not contain CR or LF"} in error["details"]


@pytest.mark.parametrize(
    ("changes", "loc", "text"),
    [
        ({"html": "<p>{{ name </p>"}, ["payload", "html"], "template error"),
        ({"subject": "{% if x %}Hi"}, ["payload", "subject"], "template error"),
        ({"to": ["not-an-address"]}, ["payload", "to", 0], "not a valid email address"),
        (
            {
                "to": [f"u{i}@example.com" for i in range(60)],
                "cc": [f"c{i}@example.com" for i in range(41)],
            },
            ["payload"],
            "at most 100",
        ),
        ({"text": None}, ["payload"], "give text, html or both"),
        (
            {"attachments": [{"file_id": "../../etc/passwd"}]},
            ["payload", "attachments", 0, "file_id"],
            "pattern",
        ),
    ],
)
def test_bad_payloads_are_rejected_with_422(
    client: ApiClient, changes: dict[str, Any], loc: list[Any], text: str
) -> None:
    payload = {"to": ["ada@example.com"], "subject": "Hi", "text": "x", **changes}
    response = client.post("/api/tasks", json={"type": "email", "payload": payload})
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert any(d["loc"] == loc and text in d["msg"] for d in details), details


def test_4xx_reply_is_retried_until_the_server_accepts(stack: Stack, client: ApiClient) -> None:
    with stack.smtp.rejecting("451 4.3.0 try later", times=1000):
        task_id = submit(
            client, {"to": ["ada@example.com"], "subject": "Retry me", "text": "x"}, max_retries=10
        )
        record = client.wait_for(task_id, {"RETRYING", "SUCCESS", "FAILED"}, timeout_seconds=30)
        assert record["status"] == "RETRYING", record
        assert record["next_retry_at"]
        assert error_of(record) == {
            "type": "SMTPDataError",
            "message": "message refused: 451 4.3.0 try later",
            "retryable": True,
        }
    record = client.wait_for(task_id, timeout_seconds=30)
    assert record["status"] == "SUCCESS", record
    assert_retried_history(record)
    stack.smtp.wait_for(message_id=record["result"]["message_id"])


def assert_retried_history(record: dict[str, Any]) -> None:
    seen = statuses(record)
    assert record["attempts"] >= 2
    assert seen[:3] == ["QUEUED", "RECEIVED", "PROCESSING"]
    assert seen[-2:] == ["PROCESSING", "SUCCESS"]
    assert seen.count("PROCESSING") == record["attempts"]
    assert seen.count("RETRYING") == record["attempts"] - 1
    # Every attempt that failed went PROCESSING -> RETRYING -> PROCESSING.
    middle = seen[2:-1]
    assert middle == ["PROCESSING", "RETRYING"] * (record["attempts"] - 1) + ["PROCESSING"]


def test_smtp_server_down_then_up(stack: Stack, client: ApiClient) -> None:
    with stack.smtp.down():  # nothing listens on the stack's SMTP port: connection refused
        task_id = submit(
            client,
            {"to": ["ada@example.com"], "subject": "Down then up", "text": "x"},
            priority="low",
            max_retries=10,
        )
        record = client.wait_for(task_id, {"RETRYING", "SUCCESS", "FAILED"}, timeout_seconds=30)
        assert record["status"] == "RETRYING", record
        assert record["next_retry_at"]
        assert record["error"]["type"] == "ConnectionRefusedError"
        assert record["error"]["retryable"] is True
        assert f"127.0.0.1:{stack.smtp.port}" in record["error"]["message"]
    record = client.wait_for(task_id, timeout_seconds=30)
    assert record["status"] == "SUCCESS", record
    assert_retried_history(record)
    stack.smtp.wait_for(message_id=record["result"]["message_id"])


def test_550_reply_fails_after_one_attempt(stack: Stack, client: ApiClient) -> None:
    with stack.smtp.rejecting("550 5.1.1 no such user", times=1):
        task_id = submit(client, {"to": ["nobody@example.com"], "subject": "Bounce", "text": "x"})
        record = client.wait_for(task_id)
    assert record["status"] == "FAILED", record
    assert record["attempts"] == 1
    assert error_of(record) == {
        "type": "SMTPDataError",
        "message": "message refused: 550 5.1.1 no such user",
        "retryable": False,
    }
    assert statuses(record) == ["QUEUED", "RECEIVED", "PROCESSING", "FAILED"]
    assert record["next_retry_at"] is None


def test_refused_recipients_are_listed_while_the_others_get_the_message(
    stack: Stack, client: ApiClient
) -> None:
    with stack.smtp.refusing({"ghost@example.com": "550 5.1.1 no such user"}):
        task_id = submit(
            client,
            {
                "to": ["ada@example.com", "ghost@example.com"],
                "bcc": ["audit@example.com"],
                "subject": "Some",
                "text": "x",
            },
        )
        record = client.wait_for(task_id)
    assert record["status"] == "SUCCESS", record
    assert record["result"]["recipients"] == ["ada@example.com", "audit@example.com"]
    assert record["result"]["refused"] == [
        {"address": "ghost@example.com", "code": 550, "message": "5.1.1 no such user"}
    ]
    received = stack.smtp.wait_for(message_id=record["result"]["message_id"])
    assert received.rcpt_tos == ["ada@example.com", "audit@example.com"]


def test_every_recipient_refused_is_a_permanent_failure(stack: Stack, client: ApiClient) -> None:
    with stack.smtp.refusing({"ghost@example.com": "550 5.1.1 no such user"}):
        task_id = submit(client, {"to": ["ghost@example.com"], "subject": "None", "text": "x"})
        record = client.wait_for(task_id)
    assert record["status"] == "FAILED", record
    assert record["attempts"] == 1
    assert error_of(record) == {
        "type": "SMTPRecipientsRefused",
        "message": "every recipient was refused: ghost@example.com: 550 5.1.1 no such user",
        "retryable": False,
    }


def with_attachments(*file_ids: str) -> dict[str, Any]:
    return {
        "to": ["ada@example.com"],
        "subject": "Files",
        "text": "x",
        "attachments": [{"file_id": file_id} for file_id in file_ids],
    }


def test_an_unknown_attachment_is_refused_at_submit(client: ApiClient) -> None:
    uploaded = client.upload("kept.txt", b"kept", "text/plain")
    payload = with_attachments(uploaded["id"], "f" * 32)
    error = client.submit({"type": "email", "payload": payload}, expect=422)["error"]
    assert error["details"] == [
        {"loc": ["payload", "attachments", 1, "file_id"], "msg": f"no file {'f' * 32}"}
    ]


def test_an_attachment_deleted_before_sending_fails_at_once(client: ApiClient) -> None:
    uploaded = client.upload("gone.txt", b"soon gone", "text/plain")
    payload = with_attachments(uploaded["id"])
    scheduled = client.submit({"type": "email", "payload": payload, "delay_seconds": 2})
    task_id = scheduled["id"]
    assert client.delete(f"/api/files/{uploaded['id']}").status_code == 204
    record = client.wait_for(task_id)
    assert record["status"] == "FAILED", record
    assert record["attempts"] == 1
    assert error_of(record) == {
        "type": "AttachmentNotFound",
        "message": f"attachment {uploaded['id']} not found",
        "retryable": False,
    }
