"""`helm test`: submit a data task through the API and wait until it is SUCCESS.

Runs in the api image with the standard library only. Settings from the environment:
TASKYARD_TEST_API_URL, TASKYARD_TEST_API_KEYS_FILE (the first key is used; a line is
"name:key" or a bare key),
TASKYARD_TEST_PRIORITY, TASKYARD_TEST_TIMEOUT_SECONDS.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

API_URL = os.environ.get("TASKYARD_TEST_API_URL", "http://127.0.0.1:8000").rstrip("/")
KEYS_FILE = os.environ.get("TASKYARD_TEST_API_KEYS_FILE", "")
PRIORITY = os.environ.get("TASKYARD_TEST_PRIORITY", "high")
TIMEOUT = float(os.environ.get("TASKYARD_TEST_TIMEOUT_SECONDS", "180"))
FINAL = {"SUCCESS", "FAILED", "CANCELLED"}


def api_key():
    if not KEYS_FILE:
        return ""
    with open(KEYS_FILE, encoding="utf-8") as handle:
        keys = [line.strip() for line in handle if line.strip()]
    if not keys:
        return ""
    name, separator, key = keys[0].partition(":")
    return key.strip() if separator else name


def call(method, path, body=None, key=""):
    data = None if body is None else json.dumps(body).encode()
    # API_URL is the chart's http:// Service address, never a user-supplied scheme.
    request = urllib.request.Request(API_URL + path, data=data, method=method)  # noqa: S310
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


def main():
    deadline = time.monotonic() + TIMEOUT
    key = api_key()
    task = {
        "type": "data",
        "priority": PRIORITY,
        "payload": {
            "input": {
                "records": [
                    {"region": "eu", "amount": 10},
                    {"region": "eu", "amount": 5},
                    {"region": "us", "amount": 7},
                ]
            },
            "operations": [
                {"op": "aggregate", "group_by": ["region"], "metrics": {"amount": ["sum"]}},
                {"op": "sort", "by": ["region"]},
            ],
            "output": {"format": "json"},
        },
    }
    while True:
        status, body = call("GET", "/readyz")
        if status == 200:
            break
        if time.monotonic() > deadline:
            print(f"API not ready: {status} {body}", file=sys.stderr)
            return 1
        time.sleep(2)
    status, record = call("POST", "/api/tasks", task, key)
    if status != 202:
        print(f"submit failed: {status} {record}", file=sys.stderr)
        return 1
    task_id = record["id"]
    print(f"submitted task {task_id} to {record.get('queue')}")
    while time.monotonic() < deadline:
        status, record = call("GET", f"/api/tasks/{task_id}", key=key)
        if status == 200 and record.get("status") in FINAL:
            if record["status"] != "SUCCESS":
                print(f"task ended {record['status']}: {record.get('error')}", file=sys.stderr)
                return 1
            result = record.get("result") or {}
            rows = {row.get("region"): row.get("amount_sum") for row in result.get("rows", [])}
            if rows != {"eu": 15, "us": 7}:
                print(f"unexpected result: {result}", file=sys.stderr)
                return 1
            print(f"task {task_id} SUCCESS: {result}")
            return 0
        time.sleep(1)
    print(f"task {task_id} not finished after {TIMEOUT}s: {record}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
