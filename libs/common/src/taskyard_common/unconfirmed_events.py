"""Task events published without waiting for RabbitMQ's publisher confirms.

Events (task-received, task-started, task-succeeded, worker heartbeats) are monitoring
data for Flower and the worker metrics: losing one in a broker failure costs a gap in a
graph, not a task. With `confirm_publish` on the connection, every event would wait a
round trip for its confirm, three per task. Task messages (submits and retries) keep
their confirms: they go through other connections (the API's publisher, the worker's
producer pool), not the event dispatcher's.
"""

from __future__ import annotations

from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher


class UnconfirmedEventDispatcher(EventDispatcher):  # type: ignore[misc]
    def __init__(self, connection: Any = None, *args: Any, **kwargs: Any) -> None:
        # The worker hands the dispatcher a connection of its own; its channels, opened
        # from here on, publish without confirm mode.
        if connection is not None and connection.connected:
            connection.connection.confirm_publish = False
        super().__init__(connection, *args, **kwargs)


class UnconfirmedEvents(Events):  # type: ignore[misc]
    dispatcher_cls = f"{__name__}:UnconfirmedEventDispatcher"
