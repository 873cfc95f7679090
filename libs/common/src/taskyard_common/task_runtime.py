"""The lifecycle every Taskyard task runs under, whatever its type.

A worker service only supplies a handler `(payload, context) -> result`; this
module moves the record through RECEIVED, PROCESSING and a final state,
applies the shared retry policy and logs one line per event.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import Any

from billiard.pool import SIG_SOFT_TIMEOUT
from celery import Celery, Task, signals
from celery.exceptions import Reject, Retry, TimeLimitExceeded
from pydantic import ValidationError

from taskyard_common import metrics, worker_heartbeat, worker_monitoring
from taskyard_common.callbacks.enqueue import CallbackRequests
from taskyard_common.celery_app import task_reprs
from taskyard_common.clock import iso, utc_now
from taskyard_common.contracts import PAYLOAD_MODELS
from taskyard_common.logs import get_logger
from taskyard_common.retry import (
    BackoffPolicy,
    Outcome,
    compute_backoff,
    decide,
    error_type_name,
    is_retryable,
    is_time_limit,
    time_limit_message,
)
from taskyard_common.settings import ANONYMOUS, Settings
from taskyard_common.status_store import StatusStore, TransitionOutcome
from taskyard_common.storage import FileStore
from taskyard_common.topology import (
    TASK_NAMES,
    TaskType,
    parse_queue_name,
    queue_from_routing_key,
)

MAX_ERROR_MESSAGE_CHARS = 2000
# When a retry cannot be published the delivery goes back to the queue and comes straight
# back: pausing first keeps a broker that delivers but refuses publishes (a missing delay
# exchange, a resource alarm) from turning retries into a tight loop against the failing
# service.
RETRY_PUBLISH_FAILURE_PAUSE_MAX_SECONDS = 5
logger = get_logger("taskyard.task")


class TaskFailedError(Exception):
    """Raised after the record is FAILED, so Celery (and Flower) count a failure too.

    Listed in the task's `throws`: Celery logs it in one line, without a traceback,
    and acknowledges the message (nothing to redeliver).
    """


class TaskContext:
    """What a handler may use: its id, settings, file storage and a progress reporter.

    The storage is the task owner's: it reads only that owner's files, and every file
    the task writes is that owner's.
    """

    def __init__(self, runtime: WorkerRuntime, task_id: str, log: Any, owner: str) -> None:
        self.task_id = task_id
        self.settings = runtime.settings
        self.files = runtime.files.owned_by(owner)
        self.log = log
        self._store = runtime.store

    def report_progress(self, fraction: float) -> None:
        self._store.set_progress(self.task_id, fraction)


Handler = Callable[[Any, TaskContext], dict[str, Any]]


@contextmanager
def soft_time_limit_deferred() -> Iterator[None]:
    """A block the soft time limit does not interrupt: a limit reached inside takes effect
    as the block ends. For work that must not stop half-way, such as a first import, which,
    interrupted, would leave a half-imported module to every later task of the process.

    The pool's handler is swapped for one that only takes note: a signal mask would hold
    the signal back from this thread only, and any other thread of the process may take it.
    """
    received: list[int] = []
    previous = signal.signal(SIG_SOFT_TIMEOUT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(SIG_SOFT_TIMEOUT, previous)
        if received and callable(previous):
            previous(SIG_SOFT_TIMEOUT, None)


class WorkerRuntime:
    """Per-process connections, made on first use so that forked pool children make their own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backoff = BackoffPolicy.from_settings(settings)

    @cached_property
    def store(self) -> StatusStore:
        return StatusStore.from_url(
            self.settings.redis_url.get_secret_value(),
            self.settings.result_ttl_seconds,
            on_final=CallbackRequests(),
        )

    @cached_property
    def files(self) -> FileStore:
        return FileStore.from_settings(self.settings)


def _error_info(error: BaseException, retryable: bool) -> dict[str, Any]:
    return {
        "type": error_type_name(error),
        "message": str(error)[:MAX_ERROR_MESSAGE_CHARS] or type(error).__name__,
        "retryable": retryable,
    }


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
    )


def register_task(
    app: Celery, task_type: TaskType, handler: Handler, runtime: WorkerRuntime
) -> Task:
    payload_model = PAYLOAD_MODELS[task_type]
    worker_monitoring.install(runtime.settings)
    worker_heartbeat.install(app, runtime.settings)
    # Messages from the API carry their own limits; these cover any that do not.
    soft_time_limit, hard_time_limit = runtime.settings.attempt_time_limits(task_type)

    @app.task(
        name=TASK_NAMES[task_type],
        bind=True,
        max_retries=None,
        typing=False,
        throws=(TaskFailedError,),
        soft_time_limit=soft_time_limit,
        time_limit=hard_time_limit,
    )
    def run(self: Task, payload: Any = None, max_retries: int | None = None, **_: Any) -> None:
        task_id: str = self.request.id
        routing_key = (self.request.delivery_info or {}).get("routing_key")
        queue = queue_from_routing_key(routing_key) or self.app.conf.task_queues[0].name
        priority = parse_queue_name(queue)[1]
        retries_done: int = self.request.retries or 0
        attempt = retries_done + 1
        budget = runtime.settings.retry_max_retries if max_retries is None else max_retries
        log = logger.bind(task_id=task_id, type=task_type, priority=priority, attempt=attempt)
        store = runtime.store

        outcome = store.begin_attempt(task_id, worker=self.request.hostname or "")
        if not outcome.applied and not outcome.missing:
            log.info("task_skipped", status=outcome.previous_status)
            return
        if outcome.missing:
            log.warning("task_record_missing")
        log.info("task_started")
        started = time.monotonic()
        try:
            parsed = payload_model.validate_python(payload)
            context = TaskContext(runtime, task_id, log, outcome.owner or ANONYMOUS)
            result = handler(parsed, context)
        except Retry:
            raise
        except ValidationError as error:
            info = {
                "type": "InvalidPayload",
                "message": _validation_message(error),
                "retryable": False,
            }
            _finish_failed(store, task_id, info, log, task_type, priority)
            raise TaskFailedError(info["message"]) from None
        except Exception as error:
            retryable = is_retryable(error)
            info = _error_info(error, retryable)
            if is_time_limit(error):
                limit = (self.request.timelimit or (None, None))[1] or self.soft_time_limit
                info["message"] = time_limit_message(limit, killed=False)
            if decide(error, retries_done, budget) is Outcome.RETRY:
                # The broker's delay exchanges count whole seconds, one at least.
                delay = max(1, math.ceil(compute_backoff(attempt, runtime.backoff)))
                next_retry_at = iso(utc_now() + timedelta(seconds=delay))
                store.schedule_retry(task_id, info, next_retry_at)
                metrics.TASK_RETRIES.labels(task_type, priority).inc()
                log.warning(
                    "task_retry_scheduled",
                    error_type=info["type"],
                    error=info["message"],
                    delay_seconds=round(delay, 3),
                    next_retry_at=next_retry_at,
                    max_retries=budget,
                )
                raise _publish_retry(
                    self, queue, delay, task_reprs(task_type, max_retries), log
                ) from error
            if retryable:
                info["message"] = f"gave up after {attempt} attempts: {info['message']}"
            _finish_failed(store, task_id, info, log, task_type, priority)
            raise TaskFailedError(info["message"]) from None
        finished = store.succeed(task_id, result)
        duration = time.monotonic() - started
        metrics.TASK_RUNTIME.labels(task_type, priority).observe(duration)
        if finished.applied:
            log.info("task_succeeded", duration_seconds=round(duration, 4))
            worker_monitoring.observe_end_to_end(finished.due_at, task_type, priority, "SUCCESS")
        else:
            log.info("task_result_discarded", status=finished.previous_status)

    _record_hard_time_limits(run, task_type, runtime)
    return run


def _record_hard_time_limits(task: Task, task_type: TaskType, runtime: WorkerRuntime) -> None:
    """FAILED for an attempt whose pool process was killed at its hard time limit.

    The killed process cannot write its record, so the worker's main process does, from
    the task_failure signal Celery sends there for a hard limit; Celery then acknowledges
    the message (task_acks_on_failure_or_timeout), so it is neither redelivered nor lost.
    """

    def on_failure(sender: Any = None, task_id: str = "", exception: Any = None, **_: Any) -> None:
        if getattr(sender, "name", None) != task.name or not isinstance(
            exception, TimeLimitExceeded
        ):
            return
        queue = task.app.conf.task_queues[0].name
        priority = parse_queue_name(queue)[1]
        log = logger.bind(task_id=task_id, type=task_type, priority=priority)
        hard_seconds = exception.args[0] if exception.args else None
        info = {
            "type": error_type_name(exception),
            "message": time_limit_message(hard_seconds, killed=True),
            "retryable": False,
        }
        # Celery reports a hard limit twice (its timeout and its failure handlers): the
        # record changes once, and only that is counted and logged.
        failed = runtime.store.fail(task_id, info)
        if failed.applied:
            _report_failed(failed, info, log, task_type, priority)

    # One receiver per task name: the latest registration's (a dispatch_uid keeps the first).
    dispatch_uid = f"taskyard-hard-time-limit-{task.name}"
    signals.task_failure.disconnect(dispatch_uid=dispatch_uid)
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid=dispatch_uid)


def _publish_retry(
    task: Task, queue: str, delay: int, reprs: dict[str, str], log: Any
) -> BaseException:
    """The retry message, published to the task's own queue through the delay exchanges.

    Should publishing fail, the delivery is rejected with requeue after a pause of the
    planned delay (at most RETRY_PUBLISH_FAILURE_PAUSE_MAX_SECONDS), so the task runs
    again sooner than planned rather than never.
    """
    try:
        return task.retry(countdown=delay, max_retries=None, queue=queue, **reprs)
    except Retry as retry:
        return retry
    except Exception as error:
        pause = min(delay, RETRY_PUBLISH_FAILURE_PAUSE_MAX_SECONDS)
        log.error(
            "task_retry_publish_failed",
            error_type=error_type_name(error),
            error=str(error),
            requeue_after_seconds=pause,
        )
        time.sleep(pause)
        return Reject(reason=f"retry not published: {error}", requeue=True)


def _finish_failed(
    store: StatusStore, task_id: str, info: dict[str, Any], log: Any, task_type: str, priority: str
) -> None:
    _report_failed(store.fail(task_id, info), info, log, task_type, priority)


def _report_failed(
    failed: TransitionOutcome, info: dict[str, Any], log: Any, task_type: str, priority: str
) -> None:
    metrics.TASK_FAILURES.labels(task_type, priority).inc()
    worker_monitoring.observe_end_to_end(failed.due_at, task_type, priority, "FAILED")
    log.error(
        "task_failed", error_type=info["type"], error=info["message"], retryable=info["retryable"]
    )
