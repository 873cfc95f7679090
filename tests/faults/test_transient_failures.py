"""1,000 emails with a fifth of SMTP replies failing transiently: every one delivered."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from faults.conftest import report_lost
from support.client import ApiClient
from support.stack import Stack

TASKS = 1000
FAILURE_RATE = 0.2
SUBMIT_THREADS = 4


def finished_email_records(api: ApiClient) -> list[dict]:
    """Every final email record, a page of 200 at a time (cheaper than one GET per task)."""
    found: list[dict] = []
    for status in ("SUCCESS", "FAILED"):
        cursor = None
        while True:
            params = {"type": "email", "status": status, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/api/tasks", params=params).json()
            found.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    return found


@pytest.mark.timeout(1200)
def test_every_task_succeeds_and_retries_match_injected_failures(fault_stack: Stack) -> None:
    api = ApiClient(fault_stack.base_url)
    handler = fault_stack.smtp.handler
    delivered_before = len(handler.messages)
    handler.injected_failures = 0
    handler.transient_failure_rate = FAILURE_RATE
    priorities = ("high", "normal", "low")

    def submit(index: int) -> str:
        body = {
            "type": "email",
            "priority": priorities[index % 3],
            "max_retries": 10,
            "payload": {
                "to": [f"user{index}@example.com"],
                "subject": f"#{index}",
                "text": "hello",
            },
        }
        return str(ApiClient(fault_stack.base_url).submit(body)["id"])

    try:
        with concurrent.futures.ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            ids = list(pool.map(submit, range(TASKS)))
        deadline = time.monotonic() + 900
        pending = set(ids)
        records: dict[str, dict] = {}
        while pending and time.monotonic() < deadline:
            for record in finished_email_records(api):
                if record["id"] in pending:
                    records[record["id"]] = record
                    pending.discard(record["id"])
            if pending:
                time.sleep(2)
    finally:
        handler.transient_failure_rate = 0.0

    lost = len(pending) + sum(r["status"] != "SUCCESS" for r in records.values())
    report_lost("20% transient SMTP failures", lost, TASKS)
    retries = sum(r["attempts"] - 1 for r in records.values())
    print(f"injected failures: {handler.injected_failures}, retries recorded: {retries}")
    assert lost == 0
    assert retries == handler.injected_failures
    assert handler.injected_failures > TASKS * FAILURE_RATE * 0.7
    assert len(handler.messages) - delivered_before == TASKS
    retried = [r for r in records.values() if r["attempts"] > 1]
    assert all("RETRYING" in [h["status"] for h in r["history"]] for r in retried)
