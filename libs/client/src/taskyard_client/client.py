"""`Client`: every Taskyard API operation as a method, over one httpx connection pool."""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote

import httpx

from taskyard_client.backoff import BackoffPolicy, parse_retry_after, retry_delay
from taskyard_client.contract import FINAL_STATUSES, LIST_LIMIT_MAX
from taskyard_client.errors import ApiUnreachable, WaitTimeout, error_for_status
from taskyard_client.version import __version__

Record = dict[str, Any]
Records = list[Record]
ProgressCallback = Callable[[Record], None]

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_POLL_SECONDS = 0.5
# The API's largest page: iterating asks for as few pages as it can.
PAGE_SIZE = LIST_LIMIT_MAX
DOWNLOAD_CHUNK_BYTES = 64 * 1024
_FILENAME_STAR = re.compile(r"filename\*=(?:UTF-8|utf-8)''([^;]+)")
_FILENAME_PLAIN = re.compile(r'filename="?([^";]+)"?')


@dataclass(frozen=True)
class Page:
    items: Records
    next_cursor: str | None


class Client:
    """`Client("http://127.0.0.1:8000", api_key="...")`; use it as a context manager or close()."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        backoff: BackoffPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": f"taskyard-client/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.backoff = backoff or BackoffPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_seconds, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- tasks

    def submit(
        self,
        task_type: str,
        payload: Mapping[str, Any],
        *,
        priority: str | None = None,
        max_retries: int | None = None,
        idempotency_key: str | None = None,
        run_at: str | None = None,
        delay_seconds: int | None = None,
        timeout_seconds: int | None = None,
        callback_url: str | None = None,
    ) -> Record:
        """POST /api/tasks; the record (202), or the first task with that idempotency key (200)."""
        # The contract's submit body, leaving out what the caller did not set.
        body = {
            "type": task_type,
            "payload": dict(payload),
            **_without_none(
                {
                    "priority": priority,
                    "max_retries": max_retries,
                    "run_at": run_at,
                    "delay_seconds": delay_seconds,
                    "timeout_seconds": timeout_seconds,
                    "callback_url": callback_url,
                }
            ),
        }
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._json("POST", "/api/tasks", json=body, headers=headers)

    def submit_batch(self, tasks: Sequence[Mapping[str, Any]]) -> Records:
        """POST /api/tasks/batch: the records in request order.

        An item without `idempotency_key` gets a fresh one, so a batch the API answered 503
        part-way is sent again whole without running any item twice.
        """
        items = [
            dict(task) if task.get("idempotency_key") else {**task, "idempotency_key": new_key()}
            for task in tasks
        ]
        answer = self._json("POST", "/api/tasks/batch", json={"tasks": items})
        records: Records = answer["items"]
        return records

    def get(self, task_id: str) -> Record:
        return self._json("GET", f"/api/tasks/{_segment(task_id)}")

    def list_page(
        self,
        *,
        status: str | None = None,
        task_type: str | None = None,
        priority: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        """One page of GET /api/tasks, newest first."""
        params = _without_none(
            {
                "status": status,
                "type": task_type,
                "priority": priority,
                "limit": limit,
                "cursor": cursor,
            }
        )
        answer = self._json("GET", "/api/tasks", params=params)
        return Page(items=answer["items"], next_cursor=answer.get("next_cursor"))

    def list(
        self,
        *,
        status: str | None = None,
        task_type: str | None = None,
        priority: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Record]:
        """Every task matching the filters, newest first, page after page."""
        cursor: str | None = None
        while True:
            page = self.list_page(
                status=status,
                task_type=task_type,
                priority=priority,
                limit=page_size,
                cursor=cursor,
            )
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def wait(
        self,
        task_id: str,
        *,
        timeout_seconds: float | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        on_progress: ProgressCallback | None = None,
    ) -> Record:
        """Poll until SUCCESS, FAILED or CANCELLED and return that record.

        `on_progress(record)` is called after every poll; WaitTimeout after `timeout_seconds`.
        """
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        while True:
            record = self.get(task_id)
            if on_progress is not None:
                on_progress(record)
            if record["status"] in FINAL_STATUSES:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(task_id, record, timeout_seconds or 0.0)
            self._sleep(poll_seconds)

    def cancel(self, task_id: str) -> Record:
        return self._json("DELETE", f"/api/tasks/{_segment(task_id)}")

    def retry(self, task_id: str) -> Record:
        return self._json("POST", f"/api/tasks/{_segment(task_id)}/retry")

    def retry_failed(self, *, task_type: str | None = None, priority: str | None = None) -> Records:
        """Run every FAILED task (of that type and priority) again; the requeued records.

        The ids are collected first: a requeued task leaves the FAILED listing while it is paged.
        """
        failed = [
            record["id"]
            for record in self.list(status="FAILED", task_type=task_type, priority=priority)
        ]
        return [self.retry(task_id) for task_id in failed]

    # -- files

    def upload(
        self,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        name: str | None = None,
        content_type: str | None = None,
    ) -> Record:
        """POST /api/files (multipart field `file`), from a path or an open binary file."""
        with contextlib.ExitStack() as stack:
            if isinstance(source, str | os.PathLike):
                path = Path(source)
                stream: IO[bytes] = stack.enter_context(path.open("rb"))
                name = name or path.name
            else:
                stream = source
                name = name or Path(str(getattr(source, "name", "upload"))).name
            start = stream.tell() if stream.seekable() else None
            file_field = (name, stream, content_type) if content_type else (name, stream)

            def rewind() -> None:
                if start is not None:
                    stream.seek(start)

            return self._json("POST", "/api/files", files={"file": file_field}, rewind=rewind)

    def download(self, file_id: str, destination: str | os.PathLike[str]) -> Path:
        """GET /api/files/<id>, streamed to `destination` (a folder: the upload's own name).

        The bytes land in a temporary sibling first, so a broken download leaves no half file.
        """
        response = self._send("GET", f"/api/files/{_segment(file_id)}", stream=True)
        try:
            target = Path(destination)
            if target.is_dir():
                target = target / _download_name(response, file_id)
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
            try:
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                        out.write(chunk)
                partial.replace(target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        except httpx.TransportError as error:
            raise ApiUnreachable(f"{self.base_url}: {error}") from error
        finally:
            response.close()
        return target

    def file_metadata(self, file_id: str) -> Record:
        return self._json("GET", f"/api/files/{_segment(file_id)}/metadata")

    def list_files(self, *, page_size: int = PAGE_SIZE) -> Iterator[Record]:
        """GET /api/files: the caller's files, newest first, page after page."""
        cursor: str | None = None
        while True:
            answer = self._json(
                "GET", "/api/files", params=_without_none({"limit": page_size, "cursor": cursor})
            )
            yield from answer["items"]
            cursor = answer.get("next_cursor")
            if not cursor:
                return

    def delete_file(self, file_id: str) -> None:
        self._send("DELETE", f"/api/files/{_segment(file_id)}")

    # -- operations

    def queues(self) -> Records:
        queues: Records = self._json("GET", "/api/queues")["queues"]
        return queues

    def workers(self) -> Records:
        workers: Records = self._json("GET", "/api/workers")["workers"]
        return workers

    # -- transport

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def _send(
        self,
        method: str,
        path: str,
        *,
        stream: bool = False,
        rewind: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request, sent again on 429 and 503 as the backoff policy allows."""
        retry_number = 0
        while True:
            if rewind is not None:
                rewind()
            try:
                request = self._http.build_request(method, path, **kwargs)
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as error:
                raise ApiUnreachable(f"{self.base_url}: {error}") from error
            if response.is_success:
                return response
            if stream:
                response.read()
                response.close()
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            retry_number += 1
            delay = retry_delay(self.backoff, response.status_code, retry_number, retry_after)
            if delay is None:
                raise error_for_status(response.status_code, _error_body(response), retry_after)
            self._sleep(delay)


def new_key() -> str:
    return str(uuid.uuid4())


def _without_none(values: Mapping[str, Any]) -> Record:
    return {name: value for name, value in values.items() if value is not None}


def _segment(identifier: str) -> str:
    """An id as one path segment: `../x` cannot reach another route."""
    return quote(identifier, safe="")


def _error_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"error": {"code": f"http_{response.status_code}", "message": response.text[:500]}}


def _download_name(response: httpx.Response, file_id: str) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    found = _FILENAME_STAR.search(disposition)
    name = unquote(found.group(1)) if found else None
    if name is None and (plain := _FILENAME_PLAIN.search(disposition)):
        name = plain.group(1)
    safe = Path(name or "").name
    return safe if safe not in {"", ".", ".."} else file_id
