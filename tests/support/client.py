"""A small HTTP client for the Taskyard API, used by the e2e and integration suites."""

from __future__ import annotations

import time
from typing import Any

import requests

from taskyard_api.paths import READINESS_PATH

FINAL_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def wait_ready(self, timeout_seconds: float = 60) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                if self.get(READINESS_PATH, timeout=3).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.base_url} not ready in {timeout_seconds}s")
            time.sleep(0.5)

    def submit(self, body: dict[str, Any], *, expect: int = 202, **kwargs: Any) -> dict[str, Any]:
        response = self.post("/api/tasks", json=body, **kwargs)
        assert response.status_code == expect, (response.status_code, response.text)
        result: dict[str, Any] = response.json()
        return result

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.get(f"/api/tasks/{task_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def wait_for(
        self,
        task_id: str,
        statuses: frozenset[str] | set[str] = FINAL_STATUSES,
        timeout_seconds: float = 60,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_seconds
        while True:
            record = self.task(task_id)
            if record["status"] in statuses:
                return record
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {record['status']}: {record}")
            time.sleep(0.1)

    def upload(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        response = self.post("/api/files", files={"file": (name, data, content_type)})
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result
