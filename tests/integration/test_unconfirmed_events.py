"""Task events leave the worker without publisher confirms; task messages keep theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection, Exchange, Queue

from support import servers
from support.polling import eventually
from support.stack import management
from taskyard_common.celery_app import create_celery_app
from taskyard_common.settings import Settings


@pytest.fixture
def broker_url() -> Iterator[str]:
    servers.require_servers()
    vhost = f"taskyard-test-{uuid.uuid4().hex[:8]}"
    management("PUT", f"/vhosts/{vhost}")
    management(
        "PUT", f"/permissions/{vhost}/guest", json={"configure": ".*", "write": ".*", "read": ".*"}
    )
    yield f"amqp://guest:guest@127.0.0.1:{servers.DEFAULT_ENDPOINTS.amqp_port}/{vhost}"
    management("DELETE", f"/vhosts/{vhost}")


def _one_message(queue: Queue) -> dict[str, object]:
    message = queue.get(no_ack=True)
    assert message is not None
    decoded: dict[str, object] = message.decode()
    return decoded


@pytest.mark.parametrize("confirm_events", [False, True])
def test_events_wait_for_confirms_only_when_asked(broker_url: str, confirm_events: bool) -> None:
    settings = Settings(_env_file=None, broker_url=broker_url)  # type: ignore[call-arg]
    app = create_celery_app("events-test", settings, confirm_events=confirm_events)
    with app.connection_for_write() as connection, Connection(broker_url) as listening:
        connection.ensure_connection(max_retries=3)
        events = Queue(
            "events-test",
            Exchange("celeryev", type="topic"),
            routing_key="task.#",
            exclusive=True,
            channel=listening.default_channel,
        )
        events.declare()
        dispatcher = app.events.Dispatcher(connection, hostname="events-test@host")
        dispatcher.send("task-started", uuid="0b4c7a1e-7d7c-4a47-9a55-7d4b3b0f1a11")
        received = eventually(lambda: _one_message(events), timeout_seconds=10)
        assert dispatcher.producer.channel._confirm_selected is confirm_events
        dispatcher.close()

    assert received["type"] == "task-started"
    with app.connection_for_write() as tasks:
        # Task messages (the worker's retries) still publish on confirming channels.
        assert tasks.default_channel.basic_publish.__name__ == "basic_publish_confirm"
