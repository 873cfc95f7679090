"""The flood behind `make e2e-kind`'s KEDA check (scripts/e2e-kind.sh): data.low tasks
submitted through the API, then waited for until every one is SUCCESS.

    python scripts/kind_flood.py submit COUNT > task-ids
    python scripts/kind_flood.py wait TASK_IDS_FILE TIMEOUT_SECONDS

The API's address and key come from TASKYARD_E2E_BASE_URL and TASKYARD_E2E_API_KEY, as
for tests/e2e.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

# Enough work per task that a flood keeps the queue deep while KEDA reacts.
PAYLOAD: dict[str, Any] = {
    "input": {"records": [{"region": f"r{i % 7}", "amount": i} for i in range(2000)]},
    "operations": [{"op": "aggregate", "group_by": ["region"], "metrics": {"amount": ["sum"]}}],
}
POLL_SECONDS = 2
ENDED_BADLY = ("FAILED", "CANCELLED")


def still_pending(records: dict[str, dict[str, Any]]) -> set[str]:
    """The ids not yet SUCCESS; a task that ended otherwise fails the check at once."""
    for task_id, record in records.items():
        if record["status"] in ENDED_BADLY:
            raise SystemExit(f"task {task_id} ended {record['status']}: {record.get('error')}")
    return {task_id for task_id, record in records.items() if record["status"] != "SUCCESS"}


def _api() -> tuple[str, dict[str, str]]:
    key = os.environ["TASKYARD_E2E_API_KEY"]
    return os.environ["TASKYARD_E2E_BASE_URL"], {"Authorization": f"Bearer {key}"}


def submit(count: int) -> None:
    base, headers = _api()
    body = {"type": "data", "priority": "low", "payload": PAYLOAD}
    for _ in range(count):
        response = requests.post(f"{base}/api/tasks", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        print(response.json()["id"])


def wait(ids_file: Path, timeout_seconds: float) -> None:
    base, headers = _api()
    pending = set(ids_file.read_text().split())
    deadline = time.monotonic() + timeout_seconds
    while pending and time.monotonic() < deadline:
        records = {
            task_id: requests.get(f"{base}/api/tasks/{task_id}", headers=headers, timeout=30).json()
            for task_id in pending
        }
        pending = still_pending(records)
        if pending:
            time.sleep(POLL_SECONDS)
    if pending:
        raise SystemExit(f"{len(pending)} flood tasks not finished in time")
    print("every flood task finished SUCCESS", file=sys.stderr)


def main(argv: list[str]) -> int:
    match argv:
        case ["submit", count]:
            submit(int(count))
        case ["wait", ids_file, timeout_seconds]:
            wait(Path(ids_file), float(timeout_seconds))
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
