"""Files have owners: each owner's index lists only its files; another's file is not found."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from taskyard_common.storage import FileNotFound, FileStore


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(f"file://{tmp_path}/files")


def _save(store: FileStore, owner: str, name: str) -> str:
    return store.save_bytes(b"x", name=name, content_type="text/plain", owner=owner).id


def test_each_owner_lists_its_own_files_and_pages_them(store: FileStore) -> None:
    alice = [_save(store, "alice", f"a{i}") for i in range(3)]
    bob = [_save(store, "bob", f"b{i}") for i in range(2)]

    # Files of one millisecond list in id order: compare what each page holds, not its order.
    first = store.list_page(limit=2, owner="alice")
    rest = store.list_page(limit=2, cursor=first.next_cursor, owner="alice")
    assert len(first.items) == 2 and len(rest.items) == 1 and rest.next_cursor is None
    assert {f.id for f in first.items + rest.items} == set(alice)
    # A position from alice's list, used in bob's, lists only bob's files.
    assert {
        f.id for f in store.list_page(limit=10, cursor=first.next_cursor, owner="bob").items
    } <= set(bob)
    assert {f.id for f in store.list_page(limit=10, owner="bob").items} == set(bob)
    assert len(store.list_page(limit=10).items) == 5  # an admin's view: every file
    assert store.list_page(limit=10, owner="carol").items == []


def test_another_owners_file_is_not_found(store: FileStore) -> None:
    file_id = _save(store, "alice", "a")
    assert store.stat(file_id, "alice").owner == "alice"
    assert store.stat(file_id).owner == "alice"
    with pytest.raises(FileNotFound):
        store.stat(file_id, "bob")
    with pytest.raises(FileNotFound):
        store.delete(file_id, "bob")
    store.delete(file_id, "alice")
    assert store.list_page(limit=10, owner="alice").items == []
    assert store.list_page(limit=10).items == []


def test_a_store_bound_to_an_owner_reads_and_writes_as_it(store: FileStore) -> None:
    theirs = _save(store, "alice", "a")
    bob = store.owned_by("bob")
    written = bob.save_bytes(b"out", name="out", content_type="text/plain")
    assert written.owner == "bob"
    assert store.stat(written.id).owner == "bob"
    with pytest.raises(FileNotFound):
        bob.stat(theirs)
    with pytest.raises(FileNotFound), bob.open(theirs):
        pass
    with bob.open(written.id) as handle:
        assert handle.read() == b"out"
    assert [f.id for f in bob.list_page(limit=10).items] == [written.id]


def test_purge_deletes_every_owners_expired_files(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}/files", ttl_seconds=60)
    ids = {_save(store, owner, owner) for owner in ("alice", "bob", "anonymous")}
    later = datetime.now().astimezone() + timedelta(hours=1)
    assert {stored.id for stored in store.purge_expired(later)} == ids
    for owner in ("alice", "bob", "anonymous", None):
        assert store.list_page(limit=10, owner=owner).items == []
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()]


def test_an_owner_that_cannot_name_an_index_is_refused(store: FileStore) -> None:
    with pytest.raises(ValueError, match="not an owner name"):
        _save(store, "../x", "a")
    with pytest.raises(ValueError, match="not an owner name"):
        store.list_page(limit=1, owner="a/b")
