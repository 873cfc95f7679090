"""Idempotency keys, uploads that come back byte for byte, and listing and deleting files."""

from __future__ import annotations

import hashlib
import os
import uuid

from support.client import ApiClient

BODY = {"type": "data", "payload": {"input": {"records": [{"x": 1}]}}}


def test_same_idempotency_key_returns_the_first_task(api: ApiClient) -> None:
    key = f"order-{uuid.uuid4()}"
    first = api.post("/api/tasks", json=BODY, headers={"Idempotency-Key": key})
    again = api.post("/api/tasks", json=BODY, headers={"Idempotency-Key": key})

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = api.post("/api/tasks", json=BODY, headers={"Idempotency-Key": f"{key}-2"})
    assert other.status_code == 202
    assert other.json()["id"] != first.json()["id"]


def test_upload_and_download_round_trip(api: ApiClient) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    uploaded = api.upload("blob.bin", data, "application/x-test")

    assert uploaded["size"] == len(data)
    assert uploaded["sha256"] == hashlib.sha256(data).hexdigest()
    assert uploaded["name"] == "blob.bin"
    assert uploaded["content_type"] == "application/x-test"
    downloaded = api.get(f"/api/files/{uploaded['id']}")
    assert downloaded.status_code == 200
    assert downloaded.headers["Content-Type"] == "application/x-test"
    assert downloaded.content == data


def test_upload_name_is_never_a_path(api: ApiClient) -> None:
    uploaded = api.upload("../../etc/passwd", b"x", "text/plain")
    assert uploaded["name"] == "passwd"
    assert api.get("/api/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert api.get("/api/files/" + "0" * 32).status_code == 404


def test_an_upload_is_listed_described_and_deleted(api: ApiClient) -> None:
    uploaded = api.upload("listed.txt", b"listed", "text/plain")
    assert uploaded["expires_at"] > uploaded["created_at"]
    listed = api.get("/api/files", params={"limit": 200}).json()["items"]
    assert uploaded in listed
    assert api.get(f"/api/files/{uploaded['id']}/metadata").json() == uploaded
    assert api.delete(f"/api/files/{uploaded['id']}").status_code == 204
    assert api.get(f"/api/files/{uploaded['id']}").status_code == 404
    assert api.delete(f"/api/files/{uploaded['id']}").status_code == 404
