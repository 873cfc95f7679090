"""422 answers: one detail per problem, located in what the client sent."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from pydantic import ValidationError

from support.api_app import MakeClient
from taskyard_api.errors import client_loc, request_part, validation_details
from taskyard_api.request_guards import _nesting_depth
from taskyard_common.contracts import SubmitRequest
from taskyard_common.contracts.data import MAX_STRING_VALUE_CHARS

FILE_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def client(make_client: MakeClient) -> FlaskClient:
    return make_client(rate_limit="off")


def _data(payload_input: Any, operations: list[Any] | None = None) -> dict[str, Any]:
    return {"type": "data", "payload": {"input": payload_input, "operations": operations or []}}


LONG = "x" * (MAX_STRING_VALUE_CHARS + 1)

SUBMITS = [
    # (what the client sent, the locations of the details, in order)
    (_data({"records": [{"a": LONG}]}), [["payload", "input", "records", 0, "a"]]),
    (_data({"records": [{"a": 1}, {"b": [1]}]}), [["payload", "input", "records", 1, "b"]]),
    (_data({"file_id": FILE_ID, "format": "xls"}), [["payload", "input", "format"]]),
    (_data({"file_id": FILE_ID}), [["payload", "input", "format"]]),
    (_data({}), [["payload", "input", "records"]]),
    (_data("records"), [["payload", "input"]]),
    (_data({"records": []}, [{"op": "limit", "n": -1}]), [["payload", "operations", 0, "n"]]),
    (_data({"records": []}, [{"op": "explode"}]), [["payload", "operations", 0, "op"]]),
    (_data({"records": []}, [{"n": 1}]), [["payload", "operations", 0, "op"]]),
    (
        _data({"records": []}, [{"op": "limit", "n": 1, "limit": 2}]),
        [["payload", "operations", 0, "limit"]],
    ),
    ({"type": "sms", "payload": {}}, [["type"]]),
    ({"payload": {}}, [["type"]]),
    ({"type": "data", "priority": "urgent", "payload": {"input": {"records": []}}}, [["priority"]]),
    (
        {"type": "file", "payload": {"file_id": "../x", "operation": "checksum"}},
        [["payload", "file_id"]],
    ),
    (
        {
            "type": "email",
            "payload": {"to": ["ada@example.com", "bad"], "subject": "s", "text": "t"},
        },
        [["payload", "to", 1]],
    ),
    (
        {"type": "email", "payload": {"to": ["ada@example.com"], "text": "t"}},
        [["payload", "subject"]],
    ),
]


@pytest.mark.parametrize(("body", "locations"), SUBMITS)
def test_a_submit_422_points_at_each_field_the_client_got_wrong(
    client: FlaskClient, body: dict[str, Any], locations: list[list[Any]]
) -> None:
    response = client.post("/api/tasks", json=body)
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.get_json()["error"]["details"]] == locations


@pytest.mark.parametrize(
    ("query", "locations"),
    [
        ("limit=100000", [["query", "limit"]]),
        ("limit=0", [["query", "limit"]]),
        ("status=DONE&type=sms", [["query", "status"], ["query", "type"]]),
        ("cursor=not-a-cursor", [["query", "cursor"]]),
    ],
)
def test_a_list_422_points_at_the_query_parameter(
    client: FlaskClient, query: str, locations: list[list[Any]]
) -> None:
    response = client.get(f"/api/tasks?{query}")
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.get_json()["error"]["details"]] == locations


def test_an_upload_without_the_file_field_points_at_it(client: FlaskClient) -> None:
    response = client.post(
        "/api/files",
        data={"attachment": (io.BytesIO(b"x"), "a.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.get_json()["error"]["details"]] == [["form", "file"]]


@pytest.mark.parametrize(
    ("loc", "sent", "kept"),
    [
        (("limit",), {"limit": "9"}, ["limit"]),
        (("file",), {}, ["file"]),
        (("data", "payload", "x"), {"type": "data", "payload": {"x": 1}}, ["payload", "x"]),
        (("a", "constrained-str"), {"a": "long"}, ["a"]),
        (("input", "FileInput", "format"), {"input": {"file_id": "f"}}, ["input", "format"]),
        (("items", 3), {"items": [1]}, ["items"]),
        ((), {}, []),
    ],
)
def test_client_loc_keeps_what_the_client_sent(
    loc: tuple[int | str, ...], sent: Any, kept: list[int | str]
) -> None:
    assert client_loc(loc, sent) == kept


@pytest.mark.parametrize(
    ("model", "part"),
    [
        ("TaskListQuery", "query"),
        ("UploadForm", "form"),
        ("TaskPath", "path"),
        ("SubmitHeaders", "header"),
        ("SubmitRequest", None),
    ],
)
def test_request_part_follows_the_model_name(model: str, part: str | None) -> None:
    assert request_part(model) == part


def test_details_drop_the_union_tags_pydantic_adds() -> None:
    body = {
        "type": "data",
        "payload": {"input": {"records": []}, "operations": [{"op": "limit", "n": "x"}]},
    }
    with pytest.raises(ValidationError) as caught:
        SubmitRequest.model_validate(body)
    assert [d["loc"] for d in validation_details(caught.value, body)] == [
        ["payload", "operations", 0, "n"]
    ]


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert _nesting_depth('{"a": "[[[[{{{{"}') == 1
    assert _nesting_depth('{"a": [[{"b": "\\"["}]]}') == 4
    assert _nesting_depth("[" * 33) == 33
