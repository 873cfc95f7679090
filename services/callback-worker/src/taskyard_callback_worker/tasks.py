"""taskyard.callback.deliver: one signed POST of a final task record per attempt.

An attempt that gets no 2xx within DELIVERY_TIMEOUT_SECONDS is retried with the shared
backoff, held by the broker like a task's retry, up to TASKYARD_CALLBACK_MAX_ATTEMPTS;
every attempt of one delivery carries the same Taskyard-Delivery id. The record's
`callback` says where the delivery stands after each attempt.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from celery import Celery, Task

from taskyard_callback_worker import pinned_http
from taskyard_common.callbacks.address_policy import CallbackRefused, Unresolvable, check_url
from taskyard_common.callbacks.attempts import DELIVERY_TIMEOUT_SECONDS, Next, next_step
from taskyard_common.callbacks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from taskyard_common.clock import now_iso
from taskyard_common.logs import get_logger
from taskyard_common.records import CallbackState, CallbackStatus, TaskRecord
from taskyard_common.retry import compute_backoff
from taskyard_common.settings import Settings
from taskyard_common.status_store import StatusStore
from taskyard_common.task_runtime import WorkerRuntime, publish_retry
from taskyard_common.topology import CALLBACK_QUEUE_NAME, CALLBACK_TASK_NAME

MAX_ERROR_CHARS = 500
USER_AGENT = "Taskyard-Callback/1"
# The POST's own timeout and the connect, with room to record the outcome.
TASK_TIME_LIMIT_SECONDS = 3 * DELIVERY_TIMEOUT_SECONDS
logger = get_logger("taskyard.callback")


def request_body(record: TaskRecord) -> bytes:
    """The record as the API shows it, less `callback` (which describes this very delivery)."""
    fields = record.model_dump(mode="json", exclude={"callback"})
    return json.dumps(fields, separators=(",", ":")).encode()


def request_headers(secret: str, event: str, delivery_id: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
    }


class Deliveries:
    """The task workers' per-process runtime (settings, backoff, status store) put to
    delivering callbacks."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = WorkerRuntime(settings)
        self.settings = settings

    @property
    def store(self) -> StatusStore:
        return self.runtime.store

    def attempt(self, task_id: str, delivery_id: str, event: str, attempt: int) -> int | None:
        """One attempt; the seconds to wait before the next one, None when it is over."""
        log = logger.bind(task_id=task_id, delivery_id=delivery_id, attempt=attempt)
        record = self.store.get(task_id)
        if record is None or record.callback is None:
            log.warning("callback_record_gone")
            return None
        if not self.store.is_current_delivery(task_id, delivery_id):
            # The task ran again and ended again: its new delivery tells the receiver.
            log.info("callback_superseded")
            return None
        url = record.callback.url
        body = request_body(record)
        status_code: int | None = None
        error: str | None = None
        permanent = False
        started = time.monotonic()
        try:
            target = check_url(url, self.settings.callback_allowed_host_set())
            headers = request_headers(
                self.settings.callback_signing_secret.get_secret_value(), event, delivery_id, body
            )
            status_code = pinned_http.post(target, body, headers, DELIVERY_TIMEOUT_SECONDS)
            if time.monotonic() - started > DELIVERY_TIMEOUT_SECONDS:
                error = f"answered after more than {DELIVERY_TIMEOUT_SECONDS} s"
                status_code = None
            elif not 200 <= status_code < 300:
                error = f"answered {status_code}"
        except Unresolvable as refused:
            error = str(refused)
        except CallbackRefused as refused:
            # The host now resolves somewhere it may not go: no later attempt may either.
            error, permanent = str(refused), True
        except Exception as failure:  # any failure to POST is a failed attempt
            error = f"{type(failure).__name__}: {failure}"
        step = (
            Next.FAILED
            if permanent
            else next_step(
                status_code if error is None else None, attempt, self.settings.callback_max_attempts
            )
        )
        state = CallbackState(
            url=url,
            status={
                Next.DELIVERED: CallbackStatus.DELIVERED,
                Next.RETRY: CallbackStatus.PENDING,
                Next.FAILED: CallbackStatus.FAILED,
            }[step],
            attempts=attempt,
            last_status_code=status_code,
            last_error=None if error is None else error[:MAX_ERROR_CHARS],
            delivered_at=now_iso() if step is Next.DELIVERED else None,
        )
        if not self.store.set_callback_state(task_id, delivery_id, state):
            # Superseded (or the record expired) during the POST: this outcome is no one's.
            log.info("callback_outcome_dropped", status_code=status_code, error=state.last_error)
            return None
        elapsed = round(time.monotonic() - started, 3)
        if step is Next.DELIVERED:
            log.info("callback_delivered", status_code=status_code, duration_seconds=elapsed)
            return None
        if step is Next.FAILED:
            log.error("callback_failed", status_code=status_code, error=state.last_error)
            return None
        # The broker's delay exchanges count whole seconds, one at least.
        delay = max(1, math.ceil(compute_backoff(attempt, self.runtime.backoff)))
        log.warning(
            "callback_retry_scheduled",
            status_code=status_code,
            error=state.last_error,
            delay_seconds=delay,
        )
        return delay


def register_deliver(app: Celery, settings: Settings) -> Task:
    deliveries = Deliveries(settings)

    @app.task(
        name=CALLBACK_TASK_NAME,
        bind=True,
        max_retries=None,
        typing=False,
        soft_time_limit=TASK_TIME_LIMIT_SECONDS,
        time_limit=TASK_TIME_LIMIT_SECONDS + settings.hard_time_limit_grace_seconds,
    )
    def deliver(self: Task, task_id: str, delivery_id: str, event: str, **_: Any) -> None:
        attempt = (self.request.retries or 0) + 1
        delay = deliveries.attempt(task_id, delivery_id, event, attempt)
        if delay is not None:
            # As a task's retry: a retry the broker refuses requeues this attempt instead
            # of acknowledging it (which would leave the callback PENDING for ever).
            log = logger.bind(task_id=task_id, delivery_id=delivery_id, attempt=attempt)
            raise publish_retry(self, CALLBACK_QUEUE_NAME, delay, {}, log)

    return deliver
