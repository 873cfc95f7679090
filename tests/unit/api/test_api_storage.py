"""The API over S3 storage (a real moto server): files round trip, and a bucket it cannot use
is a 503 that names the reason, at upload and at /readyz."""

from __future__ import annotations

import hashlib
import io
import os

from flask.testing import FlaskClient

from support.s3 import S3Server
from support.servers import free_port
from taskyard_api import create_app
from taskyard_common.settings import Settings


def s3_client(server: S3Server, bucket: str) -> FlaskClient:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_url=f"s3://{bucket}/uploads",
        s3_endpoint_url=server.endpoint_url,
        s3_region="us-east-1",
        s3_addressing_style="path",
        rate_limit_storage_url="memory://",
        cache_ttl_seconds=0,
        log_format="console",
    )
    return create_app(settings).test_client()


def test_upload_and_download_through_s3(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    client = s3_client(s3_server, bucket)
    data = os.urandom(300_000)
    answer = client.post(
        "/api/files",
        data={"file": (io.BytesIO(data), "blob.bin", "application/octet-stream")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    info = answer.get_json()
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert f"uploads/{info['id'][:2]}/{info['id']}" in s3_server.keys(bucket)

    download = client.get(f"/api/files/{info['id']}")
    assert download.status_code == 200
    assert download.data == data
    assert client.get(f"/api/files/{'0' * 32}").status_code == 404
    assert client.get("/readyz").get_json()["checks"]["storage"] == "ok"


def test_a_missing_bucket_is_a_503_with_the_reason(s3_server: S3Server) -> None:
    client = s3_client(s3_server, "taskyard-missing-bucket")
    answer = client.post(
        "/api/files",
        data={"file": (io.BytesIO(b"x"), "x.txt", "text/plain")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 503
    body = answer.get_json()["error"]
    assert body["code"] == "backend_unavailable"
    assert "does not exist" in body["details"][0]["msg"]

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["storage"].startswith("error: StorageMisconfigured")
    assert "does not exist" in ready.get_json()["checks"]["storage"]


def test_the_storage_check_is_cached(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_url=f"s3://{bucket}",
        s3_endpoint_url=s3_server.endpoint_url,
        s3_addressing_style="path",
        rate_limit_storage_url="memory://",
        cache_ttl_seconds=60,
        log_format="console",
    )
    client = create_app(settings).test_client()
    assert client.get("/readyz").get_json()["checks"]["storage"] == "ok"
    s3_server.client().delete_bucket(Bucket=bucket)
    # Within the cache period the answer stands: one HEAD per period, whatever the probe rate.
    assert client.get("/readyz").get_json()["checks"]["storage"] == "ok"


def test_an_unreachable_store_is_a_503_to_retry(s3_server: S3Server) -> None:
    dead = S3Server(f"http://127.0.0.1:{free_port()}", s3_server.process, s3_server.log_path)
    client = s3_client(dead, "any-bucket")
    answer = client.post(
        "/api/files",
        data={"file": (io.BytesIO(b"x"), "x.txt", "text/plain")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert answer.get_json()["error"]["code"] == "backend_unavailable"
    assert client.get(f"/api/files/{'0' * 32}").status_code == 503
    ready = client.get("/readyz").get_json()["checks"]["storage"]
    assert ready.startswith("error: StorageUnavailable")
