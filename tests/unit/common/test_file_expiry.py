"""When a stored file has expired, and where it sorts in the newest-first index: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskyard_common.storage import StoredFile, is_expired
from taskyard_common.storage.layout import entry_file_id, expiry, index_entry

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
FILE_ID = "ab" * 16


@pytest.mark.parametrize(
    ("expires_at", "expired"),
    [
        ("2026-11-30T11:59:59.999Z", True),
        ("2026-11-30T12:00:00.000Z", True),
        ("2026-11-30T12:00:00.001Z", False),
        ("2026-12-07T12:00:00.000Z", False),
        ("2020-01-01T00:00:00+00:00", True),
        # Files stored before expiry existed have none: they stay.
        ("", False),
        ("not a time", False),
    ],
)
def test_expired(expires_at: str, expired: bool) -> None:
    assert is_expired(expires_at, NOW) is expired


@pytest.mark.parametrize(
    ("ttl_seconds", "expires"),
    [
        (1, datetime(2026, 11, 30, 12, 0, 1, tzinfo=UTC)),
        (7 * 24 * 3600, datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)),
    ],
)
def test_expiry_is_creation_plus_the_ttl(ttl_seconds: int, expires: datetime) -> None:
    assert expiry(NOW, ttl_seconds) == expires


def stored_at(created_at: str, file_id: str = FILE_ID) -> StoredFile:
    return StoredFile(file_id, "n", 1, "", "text/plain", created_at, "")


def test_index_entries_sort_newest_first() -> None:
    times = ["1999-01-01T00:00:00.000Z", "2026-11-30T12:00:00.000Z", "2026-11-30T12:00:00.001Z"]
    entries = [index_entry(stored_at(t)) for t in times]
    assert sorted(entries) == entries[::-1]


@pytest.mark.parametrize(
    ("name", "file_id"),
    [
        (index_entry(stored_at("2026-11-30T12:00:00.000Z")), FILE_ID),
        (f"{'1' * 17}-{FILE_ID}", FILE_ID),
        (f"{'1' * 16}-{FILE_ID}", None),
        (f".{'1' * 17}-{FILE_ID}.part", None),
        ("../../etc/passwd", None),
        ("", None),
    ],
)
def test_entry_file_id(name: str, file_id: str | None) -> None:
    assert entry_file_id(name) == file_id
