"""A 200 MB upload checksums and compresses while the file worker stays under 150 MB.

Compression is gzip here: zip streams through the same code path (checked on
small files in test_file_tasks and the unit tests) and costs another 10-20 s of
deflate on two cores. Neither side holds the file: the test writes it to a temporary file from
os.urandom chunks and streams it into the upload, and reads outputs back in
chunks; the worker's memory is sampled (its process and pool children,
summed) the whole time it works.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from support.client import ApiClient
from support.stack import Stack

MIB = 1024 * 1024
SIZE_BYTES = 200 * MIB
RSS_LIMIT_BYTES = 150 * MIB
SAMPLE_SECONDS = 0.02
QUEUE = "file.normal"
LONG_TIMEOUT_SECONDS = 240


class StreamedMultipart:
    """A multipart/form-data body (field `file`) read from disk a chunk at a time."""

    def __init__(self, path: Path, filename: str, content_type: str) -> None:
        self.boundary = uuid.uuid4().hex
        self._path = path
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._path.stat().st_size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        with self._path.open("rb") as handle:
            while chunk := handle.read(MIB):
                yield chunk
        yield self._tail


class RssSampler:
    """Samples the memory of a process and all its descendants in a background thread.

    Celery's prefork parent and its pool child share most of their pages (the
    child is a fork), so summing their RSS counts those pages twice. Kept here:
    the tree's summed PSS (each shared page split between its sharers: what the
    tree really occupies), the largest single process's RSS, and for reference
    the plain sum of RSS.
    """

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_tree_pss = 0
        self.peak_tree_rss_sum = 0
        self.peak_process_rss = 0
        self.samples = 0

    def _measure(self) -> None:
        pss = rss = 0
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                memory = process.memory_full_info()
            except psutil.NoSuchProcess:
                continue
            pss += memory.pss
            rss += memory.rss
            self.peak_process_rss = max(self.peak_process_rss, memory.rss)
        self.peak_tree_pss = max(self.peak_tree_pss, pss)
        self.peak_tree_rss_sum = max(self.peak_tree_rss_sum, rss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._measure()
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> RssSampler:
        self._measure()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._measure()

    def summary(self) -> str:
        return (
            f"peak PSS of the worker tree {self.peak_tree_pss / MIB:.1f} MiB, "
            f"peak RSS of one process {self.peak_process_rss / MIB:.1f} MiB, "
            f"peak summed RSS of the tree {self.peak_tree_rss_sum / MIB:.1f} MiB "
            f"({self.samples} samples)"
        )


def write_random_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(SIZE_BYTES // MIB):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def run(api: ApiClient, payload: dict[str, Any]) -> dict[str, Any]:
    accepted = api.submit({"type": "file", "payload": payload})
    assert accepted["queue"] == QUEUE
    record = api.wait_for(accepted["id"], timeout_seconds=LONG_TIMEOUT_SECONDS)
    assert record["status"] == "SUCCESS", record
    result: dict[str, Any] = record["result"]
    return result


def download_to(api: ApiClient, file_id: str, path: Path) -> None:
    with api.get(f"/api/files/{file_id}", stream=True, timeout=LONG_TIMEOUT_SECONDS) as response:
        assert response.status_code == 200
        with path.open("wb") as handle:
            for chunk in response.iter_content(MIB):
                handle.write(chunk)


def gunzipped_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    inflater = zlib.decompressobj(wbits=31)
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(inflater.decompress(chunk))
    digest.update(inflater.flush())
    assert inflater.eof
    return digest.hexdigest()


def test_200mb_checksums_and_compresses_under_150mb_rss(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = ApiClient(stack.base_url)
    source = tmp_path / "big.bin"
    expected_sha256 = write_random_file(source)
    body = StreamedMultipart(source, "big.bin", "application/octet-stream")
    response = api.post(
        "/api/files",
        data=body,
        headers={"Content-Type": body.content_type},
        timeout=LONG_TIMEOUT_SECONDS,
    )
    assert response.status_code == 201, response.text
    info = response.json()
    assert (info["size"], info["sha256"]) == (SIZE_BYTES, expected_sha256)
    source.unlink()

    worker = stack.workers[QUEUE]
    with RssSampler(worker.pid) as sampler:
        checksum = run(api, {"file_id": info["id"], "operation": "checksum"})
        gzipped = run(api, {"file_id": info["id"], "operation": "compress", "format": "gzip"})

    with capsys.disabled():
        print(f"\nfile worker memory while processing 200 MB: {sampler.summary()}")
    assert sampler.samples > 10
    assert sampler.peak_tree_pss < RSS_LIMIT_BYTES, sampler.summary()
    assert sampler.peak_process_rss < RSS_LIMIT_BYTES, sampler.summary()
    assert checksum == {"checksum": expected_sha256, "algorithm": "sha256", "size": SIZE_BYTES}

    packed = tmp_path / "out"
    download_to(api, gzipped["output_file_id"], packed)
    assert packed.stat().st_size == gzipped["size"]
    assert gunzipped_sha256(packed) == expected_sha256
    packed.unlink()
