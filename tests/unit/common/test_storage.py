from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from taskyard_common.storage import FileNotFound, FileStore, FileTooLarge, is_file_id


def test_stream_round_trip_on_a_local_folder(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}")
    data = b"x" * (3 * 1024 * 1024 + 5)
    stored = store.save_stream(io.BytesIO(data), name="../../a/b.txt", content_type="text/plain")
    assert is_file_id(stored.id)
    assert stored.name == "b.txt"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert store.stat(stored.id) == stored
    assert b"".join(store.iter_chunks(stored.id)) == data
    assert str(tmp_path) in (store.local_path(stored.id) or "")


def test_in_memory_filesystem_works_too() -> None:
    store = FileStore("memory://taskyard-test")
    stored = store.save_bytes(b"hello", name="h.txt", content_type="text/plain")
    with store.open(stored.id) as handle:
        assert handle.read() == b"hello"
    assert store.local_path(stored.id) is None


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "0" * 31, "G" * 32, ""])
def test_path_like_ids_never_reach_the_filesystem(tmp_path: Path, bad: str) -> None:
    store = FileStore(f"file://{tmp_path}")
    with pytest.raises(FileNotFound):
        store.stat(bad)
    with pytest.raises(FileNotFound), store.open(bad):
        pass


def test_size_limit_removes_the_partial_file(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}")
    with pytest.raises(FileTooLarge):
        store.save_stream(io.BytesIO(b"x" * 100), name="a", content_type=None, max_bytes=10)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
