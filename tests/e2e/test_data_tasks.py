"""Data tasks end to end: routing by priority, the status history, results."""

from __future__ import annotations

import csv
import io

import pytest

from support.client import ApiClient
from taskyard_common.topology import PRIORITIES

SALES = [
    {"region": "eu", "amount": 10},
    {"region": "us", "amount": 3},
    {"region": "eu", "amount": 7},
    {"region": "apac", "amount": 1},
]
AGGREGATE_PIPELINE = [
    {"op": "filter", "column": "amount", "cmp": ">", "value": 2},
    {"op": "aggregate", "group_by": ["region"], "metrics": {"amount": ["sum", "count"]}},
    {"op": "sort", "by": ["amount_sum"], "descending": True},
]


def data_task(priority: str = "normal", **payload: object) -> dict[str, object]:
    body = {"input": {"records": SALES}, "operations": AGGREGATE_PIPELINE}
    body.update(payload)
    return {"type": "data", "priority": priority, "payload": body}


@pytest.mark.parametrize("priority", PRIORITIES)
def test_each_priority_runs_on_its_own_queue_and_worker(api: ApiClient, priority: str) -> None:
    submitted = api.submit(data_task(priority))
    assert submitted["status"] == "QUEUED"
    assert submitted["queue"] == f"data.{priority}"

    record = api.wait_for(submitted["id"])

    assert record["status"] == "SUCCESS", record
    assert record["queue"] == f"data.{priority}"
    assert record["worker"].startswith(f"data-{priority}@")
    assert record["result"]["rows"] == [
        {"region": "eu", "amount_sum": 17, "amount_count": 2},
        {"region": "us", "amount_sum": 3, "amount_count": 1},
    ]
    assert record["result"]["row_count"] == 2
    assert record["result"]["columns"] == ["region", "amount_sum", "amount_count"]


def test_history_lists_every_transition_in_order(api: ApiClient) -> None:
    record = api.wait_for(api.submit(data_task("high"))["id"])

    statuses = [entry["status"] for entry in record["history"]]
    assert statuses == ["QUEUED", "RECEIVED", "PROCESSING", "SUCCESS"]
    times = [entry["at"] for entry in record["history"]]
    assert times == sorted(times)
    assert record["attempts"] == 1
    assert record["created_at"] <= record["started_at"] <= record["finished_at"]


def test_submit_answers_with_location_of_the_record(api: ApiClient) -> None:
    response = api.post("/api/tasks", json=data_task())
    assert response.status_code == 202
    location = response.headers["Location"]
    assert location.endswith(f"/api/tasks/{response.json()['id']}")
    assert api.get(location.removeprefix(api.base_url)).status_code == 200


def test_every_operation_runs(api: ApiClient) -> None:
    rows = [{"k": "a", "v": 1}, {"k": "a", "v": 1}, {"k": "b", "v": 5}, {"k": "c", "v": None}]
    pipeline = [
        {"op": "dedupe"},
        {"op": "filter", "column": "k", "cmp": "in", "value": ["a", "b"]},
        {"op": "select", "columns": ["v", "k"]},
        {"op": "sort", "by": ["v"], "descending": True},
        {"op": "limit", "n": 5},
    ]
    record = api.wait_for(
        api.submit(
            {"type": "data", "payload": {"input": {"records": rows}, "operations": pipeline}}
        )["id"]
    )
    assert record["status"] == "SUCCESS", record
    assert record["result"]["rows"] == [{"v": 5, "k": "b"}, {"v": 1, "k": "a"}]

    described = api.wait_for(
        api.submit(
            {
                "type": "data",
                "payload": {"input": {"records": rows}, "operations": [{"op": "describe"}]},
            }
        )["id"]
    )
    assert described["status"] == "SUCCESS", described
    assert "statistic" in described["result"]["columns"]


def test_stored_csv_in_stored_csv_out(api: ApiClient) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["region", "amount"])
    writer.writeheader()
    writer.writerows(SALES)
    uploaded = api.upload("sales.csv", buffer.getvalue().encode(), "text/csv")

    record = api.wait_for(
        api.submit(
            {
                "type": "data",
                "payload": {
                    "input": {"file_id": uploaded["id"], "format": "csv"},
                    "operations": AGGREGATE_PIPELINE,
                    "output": {"format": "csv"},
                },
            }
        )["id"]
    )

    assert record["status"] == "SUCCESS", record
    output = api.get(f"/api/files/{record['result']['output_file_id']}")
    assert output.status_code == 200
    assert output.headers["Content-Type"].startswith("text/csv")
    assert output.text.splitlines() == ["region,amount_sum,amount_count", "eu,17,2", "us,3,1"]


def test_missing_column_fails_at_run_time_without_retry(api: ApiClient) -> None:
    record = api.wait_for(
        api.submit(data_task(operations=[{"op": "select", "columns": ["nope"]}]))["id"]
    )

    assert record["status"] == "FAILED"
    assert record["attempts"] == 1
    assert record["error"]["retryable"] is False
    assert "nope" in record["error"]["message"]
    assert [h["status"] for h in record["history"]][-1] == "FAILED"


def test_a_rerun_of_a_failed_task_keeps_counting_attempts(api: ApiClient) -> None:
    task_id = api.submit(data_task(operations=[{"op": "select", "columns": ["nope"]}]))["id"]
    assert api.wait_for(task_id)["attempts"] == 1

    rerun = api.post(f"/api/tasks/{task_id}/retry")
    assert rerun.status_code == 202, rerun.text
    assert rerun.json()["attempts"] == 1
    record = api.wait_for(task_id)

    statuses = [h["status"] for h in record["history"]]
    assert record["status"] == "FAILED" and record["attempts"] == 2
    assert statuses.count("PROCESSING") == 2
