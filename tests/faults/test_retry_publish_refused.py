"""A broker that delivers but refuses a retry's publish: paused requeues, then SUCCESS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from faults.conftest import report_lost
from support.client import ApiClient
from support.stack import Stack, management, running_stack

FAILING_SECONDS = 8
# Celery's native delayed delivery publishes a retry to the top of its chain of delay exchanges.
DELAY_EXCHANGE = "celery_delayed_27"


@pytest.fixture
def email_stack() -> Iterator[Stack]:
    with running_stack("publish-refused", queues=["email.high"]) as stack:
        yield stack


def _log_events(stack: Stack, event: str) -> list[dict]:
    lines = stack.workers["email.high"].log_text().splitlines()
    return [json.loads(line) for line in lines if f'"{event}"' in line]


def test_an_unpublishable_retry_is_requeued_after_a_pause(email_stack: Stack) -> None:
    api = ApiClient(email_stack.base_url)
    handler = email_stack.smtp.handler
    management("DELETE", f"/exchanges/{email_stack.vhost}/{DELAY_EXCHANGE}", email_stack.endpoints)
    handler.transient_failure_rate = 1.0
    try:
        task_id = api.submit(
            {
                "type": "email",
                "priority": "high",
                "max_retries": 10,
                "payload": {"to": ["ada@example.com"], "subject": "s", "text": "t"},
            }
        )["id"]
        time.sleep(FAILING_SECONDS)
    finally:
        handler.transient_failure_rate = 0.0

    record = api.wait_for(task_id)
    refused = _log_events(email_stack, "task_retry_publish_failed")
    report_lost("retry publish refused", int(record["status"] != "SUCCESS"), 1)
    print(f"attempts: {record['attempts']}, refused retry publishes: {len(refused)}")
    assert record["status"] == "SUCCESS"
    assert refused and all(e["task_id"] == task_id for e in refused)
    assert all(1 <= e["requeue_after_seconds"] <= 5 for e in refused)
    # At least a second between attempts: without the pause it was 83 attempts in 8 s.
    assert 2 <= record["attempts"] <= FAILING_SECONDS + 2
