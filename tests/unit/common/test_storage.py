"""FileStore's contract, on both backends: a folder and a real S3-protocol server (moto)."""

from __future__ import annotations

import hashlib
import io
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from support.s3 import S3Server
from taskyard_common.file_ids import is_file_id
from taskyard_common.storage import (
    CursorInvalid,
    FileNotFound,
    FilePage,
    FileStore,
    FileTooLarge,
    S3Options,
    StorageMisconfigured,
    StorageUnavailable,
)
from taskyard_common.storage.layout import index_entry
from taskyard_common.storage.s3 import PART_BYTES

# created_at has millisecond precision; files of the same millisecond list in id order.
CLOCK_TICK_SECONDS = 0.002


def s3_store(server: S3Server, bucket: str, prefix: str = "files") -> FileStore:
    return FileStore(
        f"s3://{bucket}/{prefix}",
        S3Options(endpoint_url=server.endpoint_url, region="us-east-1", addressing_style="path"),
    )


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "folder":
        return FileStore(f"file://{tmp_path}/files")
    server: S3Server = request.getfixturevalue("s3_server")
    return s3_store(server, server.new_bucket())


def test_stream_round_trip(store: FileStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    stored = store.save_stream(io.BytesIO(data), name="../../a/b.txt", content_type="text/plain")
    assert is_file_id(stored.id)
    assert stored.name == "b.txt"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert store.stat(stored.id) == stored
    assert b"".join(store.iter_chunks(stored.id)) == data


def test_an_empty_file(store: FileStore) -> None:
    stored = store.save_bytes(b"", name="empty", content_type="text/plain")
    with store.open(stored.id) as handle:
        assert handle.read() == b""
    assert stored.size == 0


def test_a_file_of_several_parts_streams_back_whole(store: FileStore) -> None:
    data = os.urandom(2 * PART_BYTES + 123)
    with store.writer(name="big.bin", content_type=None) as (target, outcome):
        for start in range(0, len(data), 1024 * 1024):
            target.write(data[start : start + 1024 * 1024])
    stored = outcome["stored"]
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == "application/octet-stream"
    digest = hashlib.sha256()
    for chunk in store.iter_chunks(stored.id):
        digest.update(chunk)
    assert digest.hexdigest() == stored.sha256


def test_reads_seek_anywhere(store: FileStore) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    stored = store.save_bytes(data, name="r.bin", content_type="application/octet-stream")
    with store.open(stored.id) as handle:
        assert handle.seekable()
        assert handle.read(10) == data[:10]
        handle.seek(1_000_000)
        assert handle.read(300) == data[1_000_000:1_000_300]
        handle.seek(-7, io.SEEK_END)
        assert handle.read() == data[-7:]
        handle.seek(5)
        assert handle.tell() == 5
        assert handle.read(3) == data[5:8]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "0" * 31, "G" * 32, ""])
def test_path_like_ids_never_reach_the_backend(store: FileStore, bad: str) -> None:
    with pytest.raises(FileNotFound):
        store.stat(bad)
    with pytest.raises(FileNotFound), store.open(bad):
        pass


def test_unknown_ids_are_file_not_found_before_any_byte(store: FileStore) -> None:
    with pytest.raises(FileNotFound):
        store.stat("0" * 32)
    with pytest.raises(FileNotFound):
        store.iter_chunks("0" * 32)


def test_a_blob_missing_behind_its_metadata_is_file_not_found(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}")
    stored = store.save_bytes(b"x", name="x", content_type="text/plain")
    os.remove(tmp_path / stored.id[:2] / stored.id)
    assert store.stat(stored.id) == stored
    with pytest.raises(FileNotFound):
        store.iter_chunks(stored.id)


def test_size_limit_leaves_nothing_behind_in_a_folder(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}")
    with pytest.raises(FileTooLarge):
        store.save_stream(io.BytesIO(b"x" * 100), name="a", content_type=None, max_bytes=10)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_size_limit_leaves_nothing_behind_in_a_bucket(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    store = s3_store(s3_server, bucket)
    too_big = PART_BYTES * 2 + 1
    with pytest.raises(FileTooLarge):
        store.save_stream(
            io.BytesIO(b"x" * too_big), name="a", content_type=None, max_bytes=too_big - 1
        )
    assert s3_server.keys(bucket) == []
    assert not s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_a_bucket_holds_the_layout_under_its_prefix(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    small = s3_store(s3_server, bucket, prefix="team/a").save_bytes(
        b"abc", name="a.txt", content_type="text/plain"
    )
    big = s3_store(s3_server, bucket, prefix="team/a").save_bytes(
        b"y" * (PART_BYTES + 1), name="b", content_type="text/plain"
    )
    assert sorted(s3_server.keys(bucket)) == sorted(
        [f"team/a/{f.id[:2]}/{f.id}{suffix}" for f in (small, big) for suffix in ("", ".json")]
        + [f"team/a/index/{index_entry(f)}" for f in (small, big)]
        + [f"team/a/owners/anonymous/{index_entry(f)}" for f in (small, big)]
    )
    # An ETag ending in -2 is S3's mark of an object sent as a two-part multipart upload.
    head = s3_server.client().head_object(Bucket=bucket, Key=f"team/a/{big.id[:2]}/{big.id}")
    assert head["ETag"].strip('"').endswith("-2")


def test_check_passes_on_a_reachable_store(store: FileStore) -> None:
    store.check()


def test_a_missing_bucket_is_misconfigured(s3_server: S3Server) -> None:
    store = s3_store(s3_server, "taskyard-no-such-bucket")
    with pytest.raises(StorageMisconfigured, match="does not exist"):
        store.check()
    with pytest.raises(StorageMisconfigured, match="does not exist"):
        store.save_bytes(b"x", name="x", content_type="text/plain")
    with pytest.raises(StorageMisconfigured):
        store.stat("0" * 32)


def test_missing_credentials_are_misconfigured(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = s3_store(s3_server, s3_server.new_bucket())
    with pytest.raises(StorageMisconfigured, match="no S3 credentials"):
        store.check()


def test_an_unreachable_endpoint_is_unavailable_and_retryable() -> None:
    from support.servers import free_port
    from taskyard_common.retry import is_retryable

    store = FileStore(
        "s3://bucket/files",
        S3Options(endpoint_url=f"http://127.0.0.1:{free_port()}", addressing_style="path"),
    )
    with pytest.raises(StorageUnavailable) as caught:
        store.stat("0" * 32)
    assert is_retryable(caught.value)
    with pytest.raises(StorageUnavailable):
        store.check()


def test_an_unwritable_folder_fails_the_check(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}/files")
    (tmp_path / "files").chmod(0o500)
    try:
        if os.access(tmp_path / "files", os.W_OK):
            pytest.skip("running as root: permissions do not apply")
        with pytest.raises(StorageMisconfigured, match="not writable"):
            store.check()
    finally:
        (tmp_path / "files").chmod(0o700)


@pytest.mark.parametrize("url", ["memory://x", "/just/a/path", "gs://bucket"])
def test_unknown_storage_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="expected file"):
        FileStore(url)


def test_files_list_newest_first_page_by_page(store: FileStore) -> None:
    ids = []
    for n in range(5):
        ids.append(store.save_bytes(b"x", name=f"{n}.txt", content_type="text/plain").id)
        time.sleep(CLOCK_TICK_SECONDS)
    first = store.list_page(limit=2)
    assert [stored.id for stored in first.items] == ids[::-1][:2]
    assert first.next_cursor is not None
    second = store.list_page(limit=2, cursor=first.next_cursor)
    third = store.list_page(limit=2, cursor=second.next_cursor)
    assert [s.id for s in first.items + second.items + third.items] == ids[::-1]
    assert third.next_cursor is None
    # A full last page hands out a cursor; the page after it is empty.
    full = store.list_page(limit=3, cursor=first.next_cursor)
    assert full.next_cursor is not None
    assert store.list_page(limit=2, cursor=full.next_cursor) == FilePage([], None)


def test_a_cursor_this_store_did_not_hand_out_is_refused(store: FileStore) -> None:
    with pytest.raises(CursorInvalid):
        store.list_page(limit=2, cursor="../../etc")


def test_a_file_carries_its_expiry(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}/files", ttl_seconds=90)
    stored = store.save_bytes(b"x", name="x", content_type="text/plain")
    created = datetime.fromisoformat(stored.created_at)
    assert datetime.fromisoformat(stored.expires_at) - created == timedelta(seconds=90)
    assert store.stat(stored.id).expires_at == stored.expires_at


def test_delete_removes_the_bytes_the_record_and_the_index_entry(store: FileStore) -> None:
    kept = store.save_bytes(b"kept", name="kept", content_type="text/plain")
    gone = store.save_bytes(b"gone", name="gone", content_type="text/plain")
    assert store.delete(gone.id) == gone
    for missing in (store.stat, store.iter_chunks, store.delete):
        with pytest.raises(FileNotFound):
            missing(gone.id)
    assert store.list_page(limit=10).items == [kept]


def test_purge_deletes_only_what_has_expired(tmp_path: Path) -> None:
    store = FileStore(f"file://{tmp_path}/files", ttl_seconds=60)
    old = store.save_bytes(b"old", name="old", content_type="text/plain")
    # A longer TTL later: files keep the expiry they were stored with.
    later = FileStore(f"file://{tmp_path}/files", ttl_seconds=3600)
    young = later.save_bytes(b"young", name="young", content_type="text/plain")
    moment = datetime.fromisoformat(old.expires_at) + timedelta(seconds=1)

    assert [stored.id for stored in later.purge_expired(moment)] == [old.id]
    assert later.list_page(limit=10).items == [young]
    assert list(later.purge_expired(moment)) == []


def test_purge_on_s3_and_a_half_deleted_file(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    store = s3_store(s3_server, bucket)
    stored = store.save_bytes(b"abc", name="a", content_type="text/plain")
    half_deleted = store.save_bytes(b"def", name="b", content_type="text/plain")
    # A delete cut off after the record went (its owner's entry goes first): the index
    # entry and the bytes are left.
    for key in (
        f"files/owners/anonymous/{index_entry(half_deleted)}",
        f"files/{half_deleted.id[:2]}/{half_deleted.id}.json",
    ):
        s3_server.client().delete_object(Bucket=bucket, Key=key)
    assert store.list_page(limit=10).items == [stored]

    far_future = datetime.fromisoformat(stored.expires_at) + timedelta(days=1)
    assert [s.id for s in store.purge_expired(far_future)] == [stored.id]
    assert [key for key in s3_server.keys(bucket) if key.startswith("files/")] == []
