"""Who sees what: a key sees its own items, an admin every item; the open API is an admin."""

from __future__ import annotations

import pytest

from support.api_app import MakeClient
from taskyard_api import auth
from taskyard_api.auth import OPEN_CALLER, Caller

ALICE = Caller("alice", is_admin=False)
ROOT = Caller("root", is_admin=True)


@pytest.mark.parametrize(
    ("caller", "owner", "sees"),
    [
        (ALICE, "alice", True),
        (ALICE, "bob", False),
        (ALICE, "anonymous", False),
        (ALICE, "Alice", False),
        (ROOT, "alice", True),
        (ROOT, "root", True),
        (ROOT, "anonymous", True),
        (OPEN_CALLER, "anonymous", True),
        (OPEN_CALLER, "alice", True),
    ],
)
def test_visibility(caller: Caller, owner: str, sees: bool) -> None:
    assert caller.can_see(owner) is sees


@pytest.mark.parametrize(
    ("caller", "owner_filter"), [(ALICE, "alice"), (ROOT, None), (OPEN_CALLER, None)]
)
def test_owner_filter(caller: Caller, owner_filter: str | None) -> None:
    assert caller.owner_filter == owner_filter


def test_the_presented_key_names_the_caller(make_client: MakeClient) -> None:
    client = make_client(api_keys="alice:a-key,root:r-key,bare-key", admin_api_keys="root")
    with client.application.test_request_context("/api/tasks"):
        assert auth.caller_for_key("a-key") == ALICE
        assert auth.caller_for_key("r-key") == ROOT
        bare = auth.caller_for_key("bare-key")
        assert bare is not None and bare.name.startswith("key-") and not bare.is_admin
        assert auth.caller_for_key("A-KEY") is None
    with client.application.test_request_context(
        "/api/tasks", headers={"Authorization": "Bearer a-key"}
    ):
        assert auth.current_caller() == ALICE
        auth.set_current_caller(ROOT)
        assert auth.current_caller() == ROOT


def test_with_no_keys_every_caller_is_the_open_caller(make_client: MakeClient) -> None:
    client = make_client()
    with client.application.test_request_context("/api/tasks"):
        assert auth.current_caller() == Caller("anonymous", is_admin=True)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"api_keys": "ci:k1,ci:k2"}, "two different keys"),
        ({"api_keys": "ci:k1", "admin_api_keys": "cj"}, "TASKYARD_ADMIN_API_KEYS"),
        ({"admin_api_keys": "ci"}, "TASKYARD_ADMIN_API_KEYS"),
    ],
)
def test_a_bad_key_set_stops_start_up(
    settings: dict[str, str], complaint: str, make_client: MakeClient
) -> None:
    with pytest.raises(ValueError, match=complaint):
        make_client(**settings)
