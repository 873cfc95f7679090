"""The lifecycle every Taskyard task runs under, whatever its type.

A worker service only supplies a handler `(payload, context) -> result`. Each delivery
becomes an `Attempt` (the record's transitions, told to the observers); what becomes of
it is `attempt_decision.decide`'s verdict; this module wires the two into a Celery task.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from billiard.pool import SIG_SOFT_TIMEOUT
from celery import Celery, Task, signals
from celery.exceptions import Reject, Retry, TimeLimitExceeded

from taskyard_common.attempt import Attempt
from taskyard_common.attempt_decision import AttemptFacts, Verdict, decide
from taskyard_common.attempt_observers import AttemptObserver, Observers, default_observers
from taskyard_common.callbacks.enqueue import CallbackRequests
from taskyard_common.celery_app import task_reprs
from taskyard_common.contracts import PAYLOAD_MODELS
from taskyard_common.retry import BackoffPolicy, error_type_name, time_limit_message
from taskyard_common.settings import Settings
from taskyard_common.status_store import StatusStore
from taskyard_common.storage import FileStore
from taskyard_common.topology import (
    TASK_NAMES,
    TaskType,
    parse_queue_name,
    queue_from_routing_key,
)

# When a retry cannot be published the delivery goes back to the queue and comes straight
# back: pausing first keeps a broker that delivers but refuses publishes (a missing delay
# exchange, a resource alarm) from turning retries into a tight loop against the failing
# service.
RETRY_PUBLISH_FAILURE_PAUSE_MAX_SECONDS = 5


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
    """Per-process connections, made on first use so that forked pool children make their
    own; and the observers every attempt reports to."""

    def __init__(self, settings: Settings, observers: list[AttemptObserver] | None = None) -> None:
        self.settings = settings
        self.backoff = BackoffPolicy.from_settings(settings)
        self.observers = Observers(default_observers() if observers is None else observers)

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


def register_task(
    app: Celery, task_type: TaskType, handler: Handler, runtime: WorkerRuntime
) -> Task:
    payload_model = PAYLOAD_MODELS[task_type]
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
        request = self.request
        routing_key = (request.delivery_info or {}).get("routing_key")
        queue = queue_from_routing_key(routing_key) or self.app.conf.task_queues[0].name
        budget = runtime.settings.retry_max_retries if max_retries is None else max_retries
        attempt = Attempt(
            runtime.store,
            runtime.observers,
            request.id,
            task_type,
            parse_queue_name(queue)[1],
            number=(request.retries or 0) + 1,
            max_retries=budget,
        )
        refused_by = attempt.begin(worker=request.hostname or "")
        result: dict[str, Any] = {}
        error: Exception | None = None
        if refused_by is None:
            try:
                result = handler(
                    payload_model.validate_python(payload),
                    TaskContext(runtime, attempt.task_id, attempt.log, attempt.owner),
                )
            except Retry:
                raise
            except Exception as raised:
                error = raised
        decision = decide(
            AttemptFacts(
                attempt=attempt.number or 1,
                max_retries=budget,
                error=error,
                refused_by=refused_by,
                time_limit_seconds=(request.timelimit or (None, None))[1] or self.soft_time_limit,
            ),
            runtime.backoff,
        )
        match decision.verdict:
            case Verdict.DROP:
                return
            case Verdict.SUCCEED:
                attempt.succeed(result)
            case Verdict.RETRY:
                assert decision.error is not None
                attempt.retry(decision.error, decision.delay_seconds)
                raise publish_retry(
                    self,
                    queue,
                    decision.delay_seconds,
                    task_reprs(task_type, max_retries),
                    attempt.log,
                ) from error
            case Verdict.FAIL:
                assert decision.error is not None
                attempt.fail(decision.error)
                raise TaskFailedError(decision.error["message"]) from None

    _record_hard_time_limits(run, task_type, runtime)
    return run


def _record_hard_time_limits(task: Task, task_type: TaskType, runtime: WorkerRuntime) -> None:
    """FAILED for an attempt whose pool process was killed at its hard time limit.

    The killed process cannot write its record, so the worker's main process does, from
    the task_failure signal Celery sends there for a hard limit; Celery then acknowledges
    the message (task_acks_on_failure_or_timeout), so it is neither redelivered nor lost.
    Celery reports a hard limit twice (its timeout and its failure handlers): the record
    refuses the second FAILED, so the failure is counted, logged and final once, and that
    refusal is no discarded result.
    """

    def on_failure(sender: Any = None, task_id: str = "", exception: Any = None, **_: Any) -> None:
        if getattr(sender, "name", None) != task.name or not isinstance(
            exception, TimeLimitExceeded
        ):
            return
        priority = parse_queue_name(task.app.conf.task_queues[0].name)[1]
        hard_seconds = exception.args[0] if exception.args else None
        attempt = Attempt(runtime.store, runtime.observers, task_id, task_type, priority)
        attempt.fail(
            {
                "type": error_type_name(exception),
                "message": time_limit_message(hard_seconds, killed=True),
                "retryable": False,
            },
            reported_twice=True,
        )

    # One receiver per task name: the latest registration's (a dispatch_uid keeps the first).
    dispatch_uid = f"taskyard-hard-time-limit-{task.name}"
    signals.task_failure.disconnect(dispatch_uid=dispatch_uid)
    signals.task_failure.connect(on_failure, weak=False, dispatch_uid=dispatch_uid)


def publish_retry(
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
