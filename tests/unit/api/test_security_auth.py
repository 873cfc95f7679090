"""API keys: Bearer keys from the environment and a file, compared in constant time."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pytest

from support.api_app import MakeClient
from taskyard_api import auth

KEY = "k-0123456789abcdef"
OTHER_KEY = "k-fedcba9876543210"
# A route that needs no backend: an id that is not a uuid is a 404 before Redis is asked.
PROTECTED = "/api/tasks/not-a-uuid"


def _assert_401(response: Any) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="taskyard"'
    error = response.get_json()["error"]
    assert error["code"] == "unauthorized"
    assert set(error) == {"code", "message", "details"}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {KEY}x",
        f"Bearer {KEY[:-1]}",
        f"Basic {KEY}",
        KEY,
        f"Bearer {KEY.upper()}",
        "Bearer " + "k" * 10_000,
    ],
)
def test_a_missing_or_wrong_key_is_401(authorization: str | None, make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY)
    headers = {} if authorization is None else {"Authorization": authorization}
    _assert_401(client.get(PROTECTED, headers=headers))
    _assert_401(client.post("/api/tasks", json={"type": "data"}, headers=headers))


@pytest.mark.parametrize("authorization", [f"Bearer {KEY}", f"bearer {KEY}", f"Bearer   {KEY} "])
def test_a_configured_key_passes(authorization: str, make_client: MakeClient) -> None:
    client = make_client(api_keys=f"{KEY}, {OTHER_KEY}")
    assert client.get(PROTECTED, headers={"Authorization": authorization}).status_code == 404


def test_keys_come_from_the_environment_and_a_file(tmp_path: Path, make_client: MakeClient) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"\n  {OTHER_KEY}  \nthird-key-000000\n", encoding="utf-8")
    client = make_client(api_keys=KEY, api_keys_file=str(key_file))
    for key in (KEY, OTHER_KEY, "third-key-000000"):
        assert client.get(PROTECTED, headers={"Authorization": f"Bearer {key}"}).status_code == 404
    _assert_401(client.get(PROTECTED, headers={"Authorization": "Bearer "}))


def test_a_missing_key_file_stops_start_up(tmp_path: Path, make_client: MakeClient) -> None:
    with pytest.raises(FileNotFoundError):
        make_client(api_keys_file=str(tmp_path / "absent"))


@pytest.mark.parametrize("path", ["/healthz", "/api/openapi.json", "/api/docs", "/metrics"])
def test_probes_docs_and_metrics_are_open(path: str, make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY)
    assert client.get(path).status_code == 200


def test_metrics_can_require_a_key(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY, metrics_require_auth=True)
    _assert_401(client.get("/metrics"))
    assert client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


@pytest.mark.parametrize("path", ["/api/docsx", "/api/openapi.json.bak", "/healthz/x"])
def test_open_paths_match_exactly(path: str, make_client: MakeClient) -> None:
    _assert_401(make_client(api_keys=KEY).get(path))


def test_without_keys_every_caller_is_let_in(make_client: MakeClient) -> None:
    client = make_client()
    assert client.get(PROTECTED).status_code == 404
    assert client.get(PROTECTED, headers={"Authorization": "Bearer anything"}).status_code == 404


def test_every_key_is_compared_whichever_matches(
    monkeypatch: pytest.MonkeyPatch, make_client: MakeClient
) -> None:
    compared: list[bytes] = []
    real_compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real_compare(a, b)

    keys = {"alpha": "alpha-key", "beta": "beta-key", "gamma": "gamma-key"}
    client = make_client(api_keys=",".join(f"{n}:{k}" for n, k in keys.items()))
    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    with client.application.test_request_context(PROTECTED):
        for presented, name in (("alpha-key", "alpha"), ("gamma-key", "gamma"), ("nope", None)):
            compared.clear()
            caller = auth.caller_for_key(presented)
            assert (caller and caller.name) == name
            assert len(compared) == len(keys)
