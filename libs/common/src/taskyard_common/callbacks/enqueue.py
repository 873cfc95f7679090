"""Asking for a delivery: when a task with a callback reaches a final status.

`CallbackRequests` is the status store's final-status listener in the workers and the
API, so every way a task ends (a worker's SUCCESS or FAILED, a hard time limit, the API's
cancel, a rerun that could not be queued) asks for one delivery. It asks after the final
status is committed: a process killed between the two asks for none (the record's
`callback` then stays PENDING), and a failure here never undoes or hides that status.
"""

from __future__ import annotations

import uuid

import celery

from taskyard_common.callbacks.address_policy import CALLBACKS_TURNED_OFF
from taskyard_common.logs import get_logger
from taskyard_common.records import CallbackState, CallbackStatus, TaskStatus
from taskyard_common.settings import get_settings
from taskyard_common.status_store import StatusStore
from taskyard_common.topology import CALLBACK_TASK_NAME, callback_queue

EVENTS: dict[TaskStatus, str] = {
    TaskStatus.SUCCESS: "task.succeeded",
    TaskStatus.FAILED: "task.failed",
    TaskStatus.CANCELLED: "task.cancelled",
}
log = get_logger("taskyard.callback")


class CallbackRequests:
    """`app`: the Celery app to publish with; None: the process's current app (a worker's)."""

    def __init__(self, app: celery.Celery | None = None) -> None:
        self._app = app

    def __call__(self, store: StatusStore, task_id: str, status: TaskStatus) -> None:
        try:
            self._request(store, task_id, status)
        except Exception as error:
            # The status is final already; the caller (a worker's success, the API's cancel)
            # must go on as if it were told nothing. Only the callback is lost.
            log.error("callback_enqueue_failed", task_id=task_id, error=str(error))

    def _request(self, store: StatusStore, task_id: str, status: TaskStatus) -> None:
        state = store.callback_state(task_id)
        if state is None:
            return
        delivery_id = str(uuid.uuid4())
        event = EVENTS[status]
        # Each final status is a delivery of its own: a rerun that ends again is told again.
        store.start_callback_delivery(task_id, delivery_id, CallbackState(url=state.url))
        if not get_settings().callbacks_enabled:
            # No worker consumes the queue (a task submitted before callbacks were turned off):
            # the record says FAILED rather than stay PENDING for ever.
            self._not_queued(store, task_id, delivery_id, state.url, CALLBACKS_TURNED_OFF)
            return
        app = self._app or celery.current_app
        try:
            app.send_task(
                CALLBACK_TASK_NAME,
                kwargs={"task_id": task_id, "delivery_id": delivery_id, "event": event},
                # The queue itself, not its name: a task worker's app knows only its own queue.
                # Declared too (kombu does so once per connection): a message to a queue that
                # does not exist yet would be confirmed and dropped.
                queue=callback_queue(),
                declare=[callback_queue()],
                ignore_result=True,
            )
        except Exception as error:
            # The task's own outcome stands; only its callback is lost, and the record says so.
            self._not_queued(store, task_id, delivery_id, state.url, str(error))
            return
        log.info("callback_queued", task_id=task_id, delivery_id=delivery_id, event_name=event)

    @staticmethod
    def _not_queued(
        store: StatusStore, task_id: str, delivery_id: str, url: str, reason: str
    ) -> None:
        store.set_callback_state(
            task_id,
            delivery_id,
            CallbackState(
                url=url, status=CallbackStatus.FAILED, last_error=f"not queued: {reason}"
            ),
        )
        log.error("callback_not_queued", task_id=task_id, delivery_id=delivery_id, error=reason)
