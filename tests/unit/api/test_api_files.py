"""GET /api/files, GET /api/files/<id>/metadata and DELETE /api/files/<id> on folder storage."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from support.api_app import MakeClient

TTL_SECONDS = 3600
# created_at has millisecond precision; files of the same millisecond list in id order.
CLOCK_TICK_SECONDS = 0.002


def upload(client: FlaskClient, name: str) -> dict[str, Any]:
    answer = client.post(
        "/api/files",
        data={"file": (io.BytesIO(name.encode()), name, "text/plain")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    info: dict[str, Any] = answer.get_json()
    return info


def test_an_upload_answers_its_expiry(make_client: MakeClient) -> None:
    info = upload(make_client(file_ttl_seconds=TTL_SECONDS), "a.txt")
    created = datetime.fromisoformat(info["created_at"])
    assert datetime.fromisoformat(info["expires_at"]) - created == timedelta(seconds=TTL_SECONDS)


def test_list_pages_newest_first(make_client: MakeClient) -> None:
    client = make_client()
    ids = []
    for n in range(3):
        ids.append(upload(client, f"{n}.txt")["id"])
        time.sleep(CLOCK_TICK_SECONDS)
    first = client.get("/api/files?limit=2").get_json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    rest = client.get(f"/api/files?limit=2&cursor={first['next_cursor']}").get_json()
    assert rest == {"items": [first_item(client, ids[0])], "next_cursor": None}


def first_item(client: FlaskClient, file_id: str) -> dict[str, Any]:
    record: dict[str, Any] = client.get(f"/api/files/{file_id}/metadata").get_json()
    return record


def test_list_refuses_a_bad_cursor_and_limit(make_client: MakeClient) -> None:
    client = make_client()
    assert client.get("/api/files?cursor=nope").status_code == 422
    assert client.get("/api/files?limit=0").status_code == 422
    assert client.get("/api/files").get_json() == {"items": [], "next_cursor": None}


def test_metadata_then_delete(make_client: MakeClient) -> None:
    client = make_client()
    info = upload(client, "report.csv")
    assert client.get(f"/api/files/{info['id']}/metadata").get_json() == info

    assert client.delete(f"/api/files/{info['id']}").status_code == 204
    assert client.get(f"/api/files/{info['id']}/metadata").status_code == 404
    assert client.get(f"/api/files/{info['id']}").status_code == 404
    assert client.delete(f"/api/files/{info['id']}").status_code == 404
    assert client.get("/api/files").get_json()["items"] == []


def test_ids_that_are_not_file_ids_are_404(make_client: MakeClient) -> None:
    client = make_client()
    for path in ("/api/files/..%2F..%2Fetc/metadata", "/api/files/XYZ/metadata"):
        assert client.get(path).status_code == 404
    assert client.delete("/api/files/index").status_code == 404
