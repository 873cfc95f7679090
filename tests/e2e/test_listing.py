"""GET /api/tasks: newest first, filters, cursor pagination."""

from __future__ import annotations

from support.client import ApiClient


def _submit_many(api: ApiClient, count: int, priority: str) -> list[str]:
    body = {"type": "data", "priority": priority, "payload": {"input": {"records": [{"x": 1}]}}}
    return [api.submit(body)["id"] for _ in range(count)]


def test_cursor_walks_every_task_newest_first_without_repeats(api: ApiClient) -> None:
    ids = _submit_many(api, 7, "low")
    for task_id in ids:
        api.wait_for(task_id)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"type": "data", "priority": "low", "status": "SUCCESS", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/api/tasks", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 3
        seen.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break

    assert len(seen) == len(set(seen))
    newest_first = list(reversed(ids))
    assert [task_id for task_id in seen if task_id in ids] == newest_first


def test_filters_select_only_matching_tasks(api: ApiClient) -> None:
    _submit_many(api, 2, "high")
    response = api.get("/api/tasks", params={"priority": "high", "limit": 50})
    items = response.json()["items"]
    assert items and all(item["priority"] == "high" for item in items)

    failed = api.get("/api/tasks", params={"status": "FAILED", "type": "data"}).json()["items"]
    assert all(item["status"] == "FAILED" and item["type"] == "data" for item in failed)


def test_bad_filter_values_are_422(api: ApiClient) -> None:
    for params in (
        {"status": "DONE"},
        {"type": "sms"},
        {"limit": 0},
        {"limit": 10_000},
        {"cursor": "not-a-cursor"},
    ):
        response = api.get("/api/tasks", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] == "validation_error"


def test_a_cursor_keeps_the_filters_of_the_first_page(api: ApiClient) -> None:
    _submit_many(api, 3, "low")
    _submit_many(api, 2, "high")
    first = api.get("/api/tasks", params={"priority": "low", "limit": 2}).json()
    assert first["next_cursor"]

    # The next page, asked for with the cursor alone, is still the low-priority list.
    after = api.get("/api/tasks", params={"cursor": first["next_cursor"], "limit": 5})
    assert after.status_code == 200, after.text
    assert after.json()["items"]
    assert {item["priority"] for item in after.json()["items"]} == {"low"}


def test_a_cursor_with_other_filters_is_422_at_cursor(api: ApiClient) -> None:
    _submit_many(api, 3, "low")
    cursor = api.get("/api/tasks", params={"priority": "low", "limit": 1}).json()["next_cursor"]

    response = api.get("/api/tasks", params={"cursor": cursor, "priority": "high"})
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["error"]["details"]] == [["query", "cursor"]]
    assert "priority" in response.json()["error"]["details"][0]["msg"]
