"""The submitting side of the benchmarks: threads of HTTP clients, and the records they
read back from Redis."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import redis

from bench.session import API_KEY, PAYLOAD
from taskyard_common.redis_keys import REDIS_KEYS

BATCH_SIZE = 100


def body(priority: str) -> bytes:
    return json.dumps({"type": "data", "priority": priority, "payload": PAYLOAD}).encode()


def batch_body(priority: str, size: int) -> bytes:
    task = {"type": "data", "priority": priority, "payload": PAYLOAD}
    return json.dumps({"tasks": [task] * size}).encode()


@dataclass
class SubmitResult:
    ids: list[str]
    started: float
    finished: float
    errors: list[str]

    @property
    def rate(self) -> float:
        return len(self.ids) / max(1e-9, self.finished - self.started)


def _in_threads(threads: int, loop: Callable[[], None]) -> tuple[float, float]:
    """Runs `loop` in `threads` threads at once; (started, finished) wall-clock times."""
    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    started = time.time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return started, time.time()


def run_threads(
    count: int, threads: int, make_worker: Callable[[], Callable[[], str]]
) -> SubmitResult:
    """`count` calls spread over `threads` threads; each thread builds its own caller."""
    lock = threading.Lock()
    next_index = [0]
    ids: list[str] = []
    errors: list[str] = []

    def loop() -> None:
        call = make_worker()
        while True:
            with lock:
                if next_index[0] >= count:
                    return
                next_index[0] += 1
            try:
                task_id = call()
            except Exception as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            with lock:
                ids.append(task_id)

    started, finished = _in_threads(threads, loop)
    return SubmitResult(ids, started, finished, errors)


def run_chunked(
    count: int, threads: int, make_worker: Callable[[], Callable[[int], int]]
) -> SubmitResult:
    """`count` tasks in chunks of BATCH_SIZE spread over `threads` threads."""
    lock = threading.Lock()
    left = [count]
    accepted = [0]
    errors: list[str] = []

    def loop() -> None:
        call = make_worker()
        while True:
            with lock:
                size = min(BATCH_SIZE, left[0])
                left[0] -= size
            if size <= 0:
                return
            try:
                done = call(size)
            except Exception as error:
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            with lock:
                accepted[0] += done

    started, finished = _in_threads(threads, loop)
    return SubmitResult([""] * accepted[0], started, finished, errors)


def http_submitter(base_url: str, priority: str) -> Callable[[], Callable[[], str]]:
    """Callers that POST /api/tasks on one kept-alive connection each (http.client: light)."""
    parts = urlsplit(base_url)
    payload = body(priority)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}

    def make() -> Callable[[], str]:
        connection = [http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)]

        def call() -> str:
            for attempt in (1, 2):
                try:
                    connection[0].request("POST", "/api/tasks", body=payload, headers=headers)
                    response = connection[0].getresponse()
                    data = response.read()
                    break
                except (http.client.HTTPException, ConnectionError):
                    connection[0].close()
                    connection[0] = http.client.HTTPConnection(
                        parts.hostname or "", parts.port, timeout=30
                    )
                    if attempt == 2:
                        raise
            if response.status != 202:
                raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
            task_id: str = json.loads(data)["id"]
            return task_id

        return call

    return make


def http_batch_submitter(base_url: str, priority: str) -> Callable[[], Callable[[int], int]]:
    """Callers that POST /api/tasks/batch with n tasks on one kept-alive connection each."""
    parts = urlsplit(base_url)
    bodies = {BATCH_SIZE: batch_body(priority, BATCH_SIZE)}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}

    def make() -> Callable[[int], int]:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)

        def call(size: int) -> int:
            payload = bodies.get(size) or batch_body(priority, size)
            connection.request("POST", "/api/tasks/batch", body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 202:
                raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
            return len(json.loads(data)["items"])

        return call

    return make


def record_times(client: redis.Redis, ids: list[str]) -> list[tuple[str, float, float | None]]:
    """(status, created_at, finished_at) in epoch seconds, from each task record."""
    out: list[tuple[str, float, float | None]] = []
    for start in range(0, len(ids), 1000):
        pipe = client.pipeline(transaction=False)
        for task_id in ids[start : start + 1000]:
            pipe.hmget(REDIS_KEYS.task(task_id), "status", "created_at", "finished_at")
        for status, created, finished in pipe.execute():
            out.append(
                (
                    status or "MISSING",
                    datetime.fromisoformat(created).timestamp() if created else 0.0,
                    datetime.fromisoformat(finished).timestamp() if finished else None,
                )
            )
    return out


def final_count(client: redis.Redis, priority: str) -> int:
    """Data tasks of `priority` that reached SUCCESS or FAILED (the status indexes)."""
    pipe = client.pipeline(transaction=False)
    for status in ("SUCCESS", "FAILED"):
        pipe.zcard(REDIS_KEYS.index(status, "data", priority))
    return int(sum(pipe.execute()))
