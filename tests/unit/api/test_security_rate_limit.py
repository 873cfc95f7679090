"""Rate limits per API key: 429 with Retry-After and the error shape; probes never limited."""

from __future__ import annotations

from typing import Any

import pytest

from support.api_app import MakeClient
from taskyard_api import rate_limit

KEY = "k-0123456789abcdef"
OTHER_KEY = "k-fedcba9876543210"
PROTECTED = "/api/tasks/not-a-uuid"  # answers 404 without asking Redis


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _assert_429(response: Any, window_seconds: int = 60) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert set(error) == {"code", "message", "details"}
    assert 1 <= int(response.headers["Retry-After"]) <= window_seconds


def test_the_limit_answers_429_with_retry_after(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY, rate_limit="3/minute")
    for _ in range(3):
        assert client.get(PROTECTED, headers=_bearer(KEY)).status_code == 404
    _assert_429(client.get(PROTECTED, headers=_bearer(KEY)))
    # One budget per caller across every route, whatever the method.
    _assert_429(client.post("/api/tasks", json={}, headers=_bearer(KEY)))
    _assert_429(client.get("/api/openapi.json", headers=_bearer(KEY)))


def test_each_key_has_its_own_budget(make_client: MakeClient) -> None:
    client = make_client(api_keys=f"{KEY},{OTHER_KEY}", rate_limit="2/minute")
    for _ in range(2):
        client.get(PROTECTED, headers=_bearer(KEY))
    _assert_429(client.get(PROTECTED, headers=_bearer(KEY)))
    assert client.get(PROTECTED, headers=_bearer(OTHER_KEY)).status_code == 404


def test_wrong_keys_are_limited_by_address_so_guessing_is_bounded(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY, rate_limit="3/minute")
    guesser = {"REMOTE_ADDR": "10.0.0.7"}
    for attempt in range(3):
        response = client.get(PROTECTED, headers=_bearer(f"guess-{attempt}"), environ_base=guesser)
        assert response.status_code == 401
    _assert_429(client.get(PROTECTED, headers=_bearer("guess-9"), environ_base=guesser))
    # The right key, from the same address, still has its own budget.
    assert client.get(PROTECTED, headers=_bearer(KEY), environ_base=guesser).status_code == 404


def test_without_keys_callers_are_told_apart_by_address(make_client: MakeClient) -> None:
    client = make_client(rate_limit="2/minute")
    first, second = {"REMOTE_ADDR": "10.0.0.1"}, {"REMOTE_ADDR": "10.0.0.2"}
    for attempt in range(2):
        client.get(PROTECTED, environ_base=first, headers=_bearer(f"made-up-{attempt}"))
    # A made-up bearer token does not buy a fresh budget when keys are off.
    _assert_429(client.get(PROTECTED, environ_base=first, headers=_bearer("made-up-new")))
    assert client.get(PROTECTED, environ_base=second).status_code == 404


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_probes_and_metrics_are_never_limited(path: str, make_client: MakeClient) -> None:
    client = make_client(rate_limit="1/minute")
    client.get(PROTECTED)
    _assert_429(client.get(PROTECTED))
    for _ in range(5):
        assert client.get(path).status_code == 200


def test_the_limit_can_be_turned_off(make_client: MakeClient) -> None:
    client = make_client(rate_limit="off")
    for _ in range(20):
        assert client.get(PROTECTED).status_code == 404


def test_several_limits_can_be_combined(make_client: MakeClient) -> None:
    client = make_client(rate_limit="100/hour;2/minute")
    for _ in range(2):
        client.get(PROTECTED)
    _assert_429(client.get(PROTECTED))


@pytest.mark.parametrize("value", ["lots", "10 per fortnight", "/minute"])
def test_a_bad_limit_stops_start_up(value: str, make_client: MakeClient) -> None:
    with pytest.raises(ValueError, match="TASKYARD_RATE_LIMIT"):
        make_client(rate_limit=value)


def test_buckets_are_named_by_the_key_name_never_the_key(make_client: MakeClient) -> None:
    client = make_client(api_keys=f"ci:{KEY}")
    app = client.application
    with app.test_request_context(PROTECTED, headers=_bearer(KEY)):
        assert rate_limit.rate_limit_key() == "key:ci"
    with app.test_request_context(
        PROTECTED, headers=_bearer("wrong"), environ_base={"REMOTE_ADDR": "10.1.2.3"}
    ):
        assert rate_limit.rate_limit_key() == "addr:10.1.2.3"


def test_an_unreachable_counter_store_falls_back_to_memory(make_client: MakeClient) -> None:
    # Nothing listens on port 1: the limiter must neither fail the request nor stop limiting.
    client = make_client(rate_limit="2/minute", rate_limit_storage_url="redis://127.0.0.1:1/0")
    statuses = [client.get(PROTECTED).status_code for _ in range(3)]
    assert statuses == [404, 404, 429]
    assert client.get("/healthz").status_code == 200
