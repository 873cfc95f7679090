"""Data, email and file tasks end to end through the API, on a file folder and on S3.

The S3 stack keeps its files in a bucket of a real S3-protocol server (moto, in its
own process), reached over HTTP by the API and the workers with credentials from
their environment, as pods would. Every test runs once per backend.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from PIL import Image

from support.client import ApiClient
from support.memory import MIB, RssSampler
from support.multipart import StreamedMultipart
from support.s3 import S3Server
from support.servers import free_port
from support.stack import BIN, Stack, cleanup_workdir, start_stack

pytestmark = pytest.mark.integration

QUEUES = ["data.normal", "email.normal", "file.normal"]
TASK_TIMEOUT_SECONDS = 90
LARGE_UPLOAD_BYTES = 64 * MIB
# The API spools an upload to disk and sends it on in 8 MiB parts: its memory must not
# grow by anything near the file's size.
UPLOAD_RSS_GROWTH_LIMIT_BYTES = 32 * MIB


@dataclass
class Backend:
    name: str
    stack: Stack
    api: ApiClient
    s3: S3Server | None = None
    bucket: str = ""

    def holds(self, file_id: str) -> bool:
        """The file's bytes are where this backend keeps them, and only there."""
        if self.s3 is not None:
            return f"files/{file_id[:2]}/{file_id}" in self.s3.keys(self.bucket)
        folder = Path(self.stack.env["TASKYARD_STORAGE_URL"].removeprefix("file://"))
        return (folder / file_id[:2] / file_id).is_file()


@pytest.fixture(scope="module", params=["folder", "s3"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    s3: S3Server | None = None
    bucket = ""
    extra_env: dict[str, str] = {}
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket()
        extra_env = s3.storage_env(bucket)
    workdir = Path(tempfile.mkdtemp(prefix=f"taskyard-storage-{request.param}-"))
    stack = start_stack(workdir, extra_env, queues=QUEUES)
    try:
        yield Backend(request.param, stack, ApiClient(stack.base_url), s3, bucket)
    finally:
        stack.stop()
        cleanup_workdir(workdir)


def succeeded(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    accepted = api.submit(body)
    record = api.wait_for(accepted["id"], timeout_seconds=TASK_TIMEOUT_SECONDS)
    assert record["status"] == "SUCCESS", record
    result: dict[str, Any] = record["result"]
    return result


def download(api: ApiClient, file_id: str) -> bytes:
    response = api.get(f"/api/files/{file_id}")
    assert response.status_code == 200, response.text
    return response.content


def test_the_api_reports_the_storage_ready(backend: Backend) -> None:
    checks = backend.api.get("/readyz").json()["checks"]
    assert checks["storage"] == "ok"


def test_data_reads_a_csv_and_writes_parquet(backend: Backend) -> None:
    rows = [{"region": r, "amount": a} for r, a in [("eu", 10), ("us", 5), ("eu", 7), ("ap", 1)]]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["region", "amount"])
    writer.writeheader()
    writer.writerows(rows)
    uploaded = backend.api.upload("sales.csv", text.getvalue().encode(), "text/csv")
    assert backend.holds(uploaded["id"])

    result = succeeded(
        backend.api,
        {
            "type": "data",
            "payload": {
                "input": {"file_id": uploaded["id"], "format": "csv"},
                "operations": [
                    {"op": "aggregate", "group_by": ["region"], "metrics": {"amount": ["sum"]}},
                    {"op": "sort", "by": ["amount_sum"], "descending": True},
                ],
                "output": {"format": "parquet"},
            },
        },
    )

    assert result["rows"] == [
        {"region": "eu", "amount_sum": 17},
        {"region": "us", "amount_sum": 5},
        {"region": "ap", "amount_sum": 1},
    ]
    assert backend.holds(result["output_file_id"])
    table = pl.read_parquet(io.BytesIO(download(backend.api, result["output_file_id"])))
    assert table.to_dicts() == result["rows"]


def test_email_attaches_a_stored_file(backend: Backend) -> None:
    attachment = b"%PDF-1.4\n" + os.urandom(50_000)
    uploaded = backend.api.upload("report.pdf", attachment, "application/pdf")

    result = succeeded(
        backend.api,
        {
            "type": "email",
            "payload": {
                "to": ["ada@example.com"],
                "subject": "Your report",
                "text": "Attached.",
                "attachments": [{"file_id": uploaded["id"]}],
            },
        },
    )

    received = backend.stack.smtp.wait_for(message_id=result["message_id"])
    (_, part) = received.message.iter_parts()
    assert part.get_filename() == "report.pdf"
    assert part.get_payload(decode=True) == attachment


def test_file_checksum_compress_and_thumbnail(backend: Backend) -> None:
    data = os.urandom(3 * MIB + 17)
    blob = backend.api.upload("blob.bin", data, "application/octet-stream")
    checksum = succeeded(
        backend.api, {"type": "file", "payload": {"file_id": blob["id"], "operation": "checksum"}}
    )
    assert checksum["checksum"] == hashlib.sha256(data).hexdigest()

    packed = succeeded(
        backend.api,
        {"type": "file", "payload": {"file_id": blob["id"], "operation": "compress"}},
    )
    assert backend.holds(packed["output_file_id"])
    assert gzip.decompress(download(backend.api, packed["output_file_id"])) == data

    picture = io.BytesIO()
    Image.new("RGB", (640, 320), (200, 30, 30)).save(picture, format="PNG")
    image = backend.api.upload("wide.png", picture.getvalue(), "image/png")
    thumb = succeeded(
        backend.api,
        {
            "type": "file",
            "payload": {
                "file_id": image["id"],
                "operation": "thumbnail",
                "width": 64,
                "height": 64,
                "format": "png",
            },
        },
    )
    small = Image.open(io.BytesIO(download(backend.api, thumb["output_file_id"])))
    assert small.size == (64, 32)


def test_a_large_upload_streams_through_the_api(
    backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "large.bin"
    digest = hashlib.sha256()
    with source.open("wb") as handle:
        for _ in range(LARGE_UPLOAD_BYTES // MIB):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            handle.write(chunk)
    # A first upload makes each API process build its storage client before measuring.
    for _ in range(4):
        backend.api.upload("warm.bin", b"x" * 1000, "application/octet-stream")
    assert backend.stack.api is not None
    with RssSampler(backend.stack.api.pid) as before:
        pass
    body = StreamedMultipart(source, "large.bin", "application/octet-stream")
    with RssSampler(backend.stack.api.pid) as during:
        response = backend.api.post(
            "/api/files", data=body, headers={"Content-Type": body.content_type}, timeout=300
        )
    assert response.status_code == 201, response.text
    info = response.json()
    assert (info["size"], info["sha256"]) == (LARGE_UPLOAD_BYTES, digest.hexdigest())
    assert backend.holds(info["id"])

    growth = during.peak_process_rss - before.peak_process_rss
    with capsys.disabled():
        print(
            f"\n{backend.name}: a {LARGE_UPLOAD_BYTES // MIB} MiB upload grew the API's "
            f"largest process by {growth / MIB:.1f} MiB ({during.summary()})"
        )
    assert growth < UPLOAD_RSS_GROWTH_LIMIT_BYTES, during.summary()

    streamed = hashlib.sha256()
    with backend.api.get(f"/api/files/{info['id']}", stream=True, timeout=300) as download_:
        assert download_.status_code == 200
        for chunk in download_.iter_content(MIB):
            streamed.update(chunk)
    assert streamed.hexdigest() == digest.hexdigest()


def s3_only(backend: Backend) -> S3Server:
    if backend.s3 is None:
        pytest.skip("an S3 fault")
    return backend.s3


def test_an_unreachable_s3_endpoint_is_retried_until_it_answers(backend: Backend) -> None:
    s3 = s3_only(backend)
    stack = backend.stack
    blob = backend.api.upload("a.bin", b"abc", "application/octet-stream")
    dead_endpoint = f"http://127.0.0.1:{free_port()}"
    stack.start_worker("file.low", {"TASKYARD_S3_ENDPOINT_URL": dead_endpoint})
    try:
        accepted = backend.api.submit(
            {
                "type": "file",
                "priority": "low",
                "payload": {"file_id": blob["id"], "operation": "checksum"},
            }
        )
        retrying = backend.api.wait_for(
            accepted["id"], {"RETRYING", "SUCCESS", "FAILED"}, timeout_seconds=60
        )
        assert retrying["status"] == "RETRYING", retrying
        assert retrying["error"]["type"] == "StorageUnavailable"
        assert retrying["error"]["retryable"] is True
    finally:
        stack.stop_worker("file.low")
    stack.start_worker("file.low", {"TASKYARD_S3_ENDPOINT_URL": s3.endpoint_url})
    try:
        done = backend.api.wait_for(accepted["id"], timeout_seconds=TASK_TIMEOUT_SECONDS)
        assert done["status"] == "SUCCESS", done
        assert done["result"]["checksum"] == hashlib.sha256(b"abc").hexdigest()
    finally:
        stack.stop_worker("file.low")


def test_a_missing_bucket_fails_a_task_at_once(backend: Backend) -> None:
    s3_only(backend)
    stack = backend.stack
    blob = backend.api.upload("a.bin", b"abc", "application/octet-stream")
    stack.start_worker("file.low", {"TASKYARD_STORAGE_URL": "s3://taskyard-no-such-bucket/x"})
    try:
        accepted = backend.api.submit(
            {
                "type": "file",
                "priority": "low",
                "payload": {"file_id": blob["id"], "operation": "checksum"},
            }
        )
        record = backend.api.wait_for(accepted["id"], timeout_seconds=60)
    finally:
        stack.stop_worker("file.low")
    assert record["status"] == "FAILED", record
    assert record["attempts"] == 1
    assert record["error"]["type"] == "StorageMisconfigured"
    assert "does not exist" in record["error"]["message"]


def test_list_metadata_and_delete(backend: Backend) -> None:
    api = backend.api
    uploaded = []
    for n in range(3):
        uploaded.append(api.upload(f"{n}.txt", b"n" * n, "text/plain"))
        # created_at has millisecond precision; files of the same millisecond list in id order.
        time.sleep(0.002)
    first = api.get("/api/files?limit=2").json()
    assert [item["id"] for item in first["items"]] == [u["id"] for u in uploaded[::-1][:2]]
    rest = api.get(f"/api/files?limit=2&cursor={first['next_cursor']}").json()
    assert rest["items"][0] == uploaded[0]

    gone = uploaded[1]
    assert api.get(f"/api/files/{gone['id']}/metadata").json() == gone
    assert api.delete(f"/api/files/{gone['id']}").status_code == 204
    assert not backend.holds(gone["id"])
    assert api.get(f"/api/files/{gone['id']}/metadata").status_code == 404
    assert api.delete(f"/api/files/{gone['id']}").status_code == 404
    listed = [item["id"] for item in api.get("/api/files?limit=200").json()["items"]]
    assert gone["id"] not in listed and uploaded[2]["id"] in listed


def test_purge_expired_deletes_uploads_and_outputs_that_expired(backend: Backend) -> None:
    """Last in the module: its purge also deletes the files the tests above stored."""
    api = backend.api
    blob = api.upload("blob.bin", os.urandom(1000), "application/octet-stream")
    packed = succeeded(
        api, {"type": "file", "payload": {"file_id": blob["id"], "operation": "compress"}}
    )
    output = api.get(f"/api/files/{packed['output_file_id']}/metadata").json()
    for record in (blob, output):
        created = datetime.fromisoformat(record["created_at"])
        assert datetime.fromisoformat(record["expires_at"]) - created == timedelta(days=7)

    def purge(as_of: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "taskyard-admin"), "purge-expired", "--as-of", as_of],
            env=backend.stack.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    early = purge(blob["created_at"])
    assert early.returncode == 0, early.stderr
    assert api.get(f"/api/files/{blob['id']}/metadata").status_code == 200

    done = purge(output["expires_at"])
    assert done.returncode == 0, done.stderr
    assert "expired files deleted" in done.stdout
    for record in (blob, output):
        assert api.get(f"/api/files/{record['id']}/metadata").status_code == 404
        assert not backend.holds(record["id"])
    assert blob["id"] in done.stdout + done.stderr  # its file_expired log line
    assert api.get("/api/files").json() == {"items": [], "next_cursor": None}
