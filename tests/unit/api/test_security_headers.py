"""Security headers on every response, and an OpenAPI document that tells the whole truth."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from support.api_app import MakeClient

KEY = "k-0123456789abcdef"


@pytest.fixture
def client(make_client: MakeClient) -> FlaskClient:
    return make_client(api_keys=KEY)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def _assert_baseline(response: Any) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/tasks/not-a-uuid", 404),
        ("POST", "/api/tasks", 415),
        ("GET", "/api/files/0123456789abcdef0123456789abcdef", 404),
        ("PUT", "/api/tasks", 405),
        ("GET", "/api/nothing", 404),
        ("GET", "/api/openapi.json", 200),
    ],
)
def test_api_responses_are_never_cached_or_sniffed(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method, headers=_auth())
    assert response.status_code == status
    _assert_baseline(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_errors_before_routing_carry_the_headers_too(client: FlaskClient) -> None:
    response = client.get("/api/tasks/not-a-uuid")  # 401 from the key check
    assert response.status_code == 401
    _assert_baseline(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_downloaded_file_cannot_run_in_a_browser(client: FlaskClient) -> None:
    page = b"<html><script>alert(1)</script></html>"
    upload = client.post(
        "/api/files",
        headers=_auth(),
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(page), "x.html", "text/html")},
    )
    assert upload.status_code == 201, upload.get_data(as_text=True)
    response = client.get(f"/api/files/{upload.get_json()['id']}", headers=_auth())
    assert response.status_code == 200
    _assert_baseline(response)
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"


def test_probes_are_not_marked_no_store_and_docs_may_run_their_scripts(
    client: FlaskClient,
) -> None:
    health = client.get("/healthz")
    _assert_baseline(health)
    assert "no-store" not in health.headers.get("Cache-Control", "")
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    _assert_baseline(docs)
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_the_document_declares_every_error_the_app_can_answer(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        assert responses["422"]["content"]["application/json"]["schema"] == error_ref, where
        if path in ("/healthz", "/readyz"):
            assert operation["security"] == [] and "401" not in responses, where
            assert "429" not in responses, where
            continue
        assert responses["401"]["content"]["application/json"]["schema"] == error_ref, where
        if path != "/metrics":
            assert "Retry-After" in responses["429"]["headers"], where
            assert "Retry-After" in responses["503"]["headers"], where


def test_the_idempotency_header_is_documented_by_its_real_name(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    submit = document["paths"]["/api/tasks"]["post"]
    assert [p["name"] for p in submit["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
