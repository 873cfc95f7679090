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
import zlib
from pathlib import Path
from typing import Any

import pytest

from support.client import ApiClient
from support.memory import RssSampler
from support.multipart import StreamedMultipart
from support.stack import Stack

MIB = 1024 * 1024
SIZE_BYTES = 200 * MIB
RSS_LIMIT_BYTES = 150 * MIB
QUEUE = "file.normal"
LONG_TIMEOUT_SECONDS = 240


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
