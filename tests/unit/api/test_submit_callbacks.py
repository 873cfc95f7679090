"""callback_url on submit: refused with a 422 naming the field when it may not be called,
shown in the OpenAPI document. No servers: a request that passed validation gets a 503."""

from __future__ import annotations

import time
from typing import Any

import pytest

from support.api_app import MakeClient
from support.unanswered_lookups import unanswered_lookups
from taskyard_common.callbacks import address_policy

BODY = {"type": "data", "payload": {"input": {"records": [{"x": 1}]}}}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:192.168.0.1]/hook", "private"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("ftp://93.184.216.34/hook", "URL scheme should be 'http' or 'https'"),
        ("not a url", "Input should be a valid URL"),
    ],
)
def test_a_callback_url_that_may_not_be_called_is_422(
    make_client: MakeClient, url: str, message: str
) -> None:
    response = make_client().post("/api/tasks", json={**BODY, "callback_url": url})
    assert response.status_code == 422, response.text
    detail = response.get_json()["error"]["details"][0]
    assert detail["loc"] == ["callback_url"]
    assert message in detail["msg"]


def test_a_batch_item_points_at_its_callback_url(make_client: MakeClient) -> None:
    items: list[dict[str, Any]] = [
        {**BODY, "callback_url": "https://93.184.216.34/ok"},
        {**BODY, "callback_url": "http://192.168.1.10/hook"},
    ]
    response = make_client().post("/api/tasks/batch", json={"tasks": items})
    assert response.status_code == 422, response.text
    assert response.get_json()["error"]["details"][0]["loc"] == ["tasks", 1, "callback_url"]


def test_a_public_callback_url_passes_validation(make_client: MakeClient) -> None:
    response = make_client().post(
        "/api/tasks", json={**BODY, "callback_url": "https://93.184.216.34/hooks/done"}
    )
    assert response.status_code == 503, response.text


@pytest.mark.usefixtures("callbacks_turned_off")
def test_a_callback_url_is_422_while_callbacks_are_turned_off(make_client: MakeClient) -> None:
    client = make_client()
    good = "https://93.184.216.34/hooks/done"
    response = client.post("/api/tasks", json={**BODY, "callback_url": good})
    assert response.status_code == 422, response.text
    assert response.get_json()["error"]["details"] == [
        {
            "loc": ["callback_url"],
            "msg": "callbacks are turned off on this server (TASKYARD_CALLBACKS_ENABLED)",
        }
    ]
    batch = {"tasks": [BODY, {**BODY, "callback_url": good}]}
    response = client.post("/api/tasks/batch", json=batch)
    assert response.status_code == 422, response.text
    assert response.get_json()["error"]["details"][0]["loc"] == ["tasks", 1, "callback_url"]
    # Without callback_url a submit still passes validation (503: no servers behind it).
    assert client.post("/api/tasks", json=BODY).status_code == 503


def test_openapi_shows_callback_url_and_the_record_callback(make_client: MakeClient) -> None:
    document = make_client().get("/api/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert "callback_url" in schemas["DataSubmission"]["properties"]
    assert "callback" in schemas["TaskRecord"]["properties"]
    assert set(schemas["CallbackState"]["properties"]) == {
        "url",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "delivered_at",
    }


def test_a_batch_of_hosts_that_never_resolve_is_answered_within_the_lookup_budget(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(address_policy, "REQUEST_LOOKUP_BUDGET_SECONDS", 0.5)
    items = [{**BODY, "callback_url": f"https://never-{i}.example.com/"} for i in range(40)]
    started = time.monotonic()
    with unanswered_lookups(monkeypatch, lookup_timeout_seconds=0.2):
        response = make_client().post("/api/tasks/batch", json={"tasks": items})
    assert time.monotonic() - started < 2
    assert response.status_code == 422, response.text
    assert "does not resolve in time" in response.get_json()["error"]["details"][0]["msg"]
