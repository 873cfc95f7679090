"""TASKYARD_API_KEYS entries: `name:key` or a bare key; a malformed set stops start-up."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from taskyard_common.settings import Settings, bare_key_name, parse_api_keys

BARE = "s3cret-bare-key"
BARE_NAME = "key-" + hashlib.sha256(BARE.encode()).hexdigest()[:8]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], {}),
        (["", "  "], {}),
        (["ci:k1"], {"ci": "k1"}),
        ([" ci : k1 "], {"ci": "k1"}),
        ([BARE], {BARE_NAME: BARE}),
        (["ci:k1", "ops:k2", BARE], {"ci": "k1", "ops": "k2", BARE_NAME: BARE}),
        # A key may hold ':' once it is named: the name ends at the first one.
        (["ci:k1:with:colons"], {"ci": "k1:with:colons"}),
        # The same entry twice (environment and file) is one key.
        (["ci:k1", "ci:k1"], {"ci": "k1"}),
        (["A.b_c-9:k"], {"A.b_c-9": "k"}),
    ],
)
def test_entries_parse_into_named_keys(entries: list[str], expected: dict[str, str]) -> None:
    assert parse_api_keys(entries) == expected


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        (["ci:"], "empty"),
        ([":k1"], "name ''"),
        (["anonymous:k1"], "anonymous"),
        (["-ci:k1"], "name '-ci'"),
        (["c i:k1"], "name 'c i'"),
        (["c/i:k1"], "name 'c/i'"),
        (["x" * 65 + ":k1"], "name"),
        (["ci:k1", "ci:k2"], "two different keys"),
        (["ci:k1", "ops:k1"], "named both"),
        (["k1", f"{bare_key_name('k1')}:k2"], "two different keys"),
    ],
)
def test_malformed_entries_are_refused(entries: list[str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_api_keys(entries)


def test_keys_come_from_the_environment_and_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text("ops:k2\n\n k3 \n", encoding="utf-8")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, api_keys="ci:k1, ,", api_keys_file=str(key_file)
    )
    assert settings.named_api_keys() == {"ci": "k1", "ops": "k2", bare_key_name("k3"): "k3"}


def test_admin_names_must_name_configured_keys() -> None:
    settings = Settings(_env_file=None, admin_api_keys=" ops , ")  # type: ignore[call-arg]
    assert settings.admin_key_names(["ci", "ops"]) == {"ops"}
    with pytest.raises(ValueError, match="names no configured API key: ops"):
        settings.admin_key_names(["ci"])
