from __future__ import annotations

from typing import Any

import pytest

from taskyard_api.publisher import ConfirmTracker, Publisher, PublishFailed, _ConfirmChannel
from taskyard_common.celery_app import create_celery_app
from taskyard_common.records import TaskRecord
from taskyard_common.settings import Settings
from taskyard_common.status_store import NewTask


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, dict[str, Any]]] = []

    def publish(self, body: Any, **options: Any) -> None:
        self.sent.append((body, options))


def test_a_message_keeps_the_payload_out_of_celerys_reprs() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    celery = create_celery_app("test", settings)
    record = TaskRecord.model_validate(
        {
            "id": "0b4c7a1e-7d7c-4a47-9a55-7d4b3b0f1a11",
            "type": "email",
            "priority": "high",
            "queue": "email.high",
            "status": "QUEUED",
            "max_retries": 3,
            "timeout_seconds": 20,
            "created_at": "2026-11-28T12:00:00.000Z",
            "history": [{"status": "QUEUED", "at": "2026-11-28T12:00:00.000Z"}],
        }
    )
    payload = {"to": ["ada@example.com"], "subject": "s", "text": "secret body"}
    producer = _Producer()

    _ConfirmChannel._send(celery, settings, producer, NewTask(record, payload))  # type: ignore[arg-type]

    body, options = producer.sent[0]
    assert body == ((), {"payload": payload, "max_retries": 3}, body[2])
    assert options["headers"]["task"] == "taskyard.email.send"
    assert options["headers"]["id"] == record.id
    assert options["headers"]["argsrepr"] == "()"
    # The attempt's limits, enforced by the worker's pool: soft at timeout_seconds, the
    # hard kill TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS later.
    assert list(options["headers"]["timelimit"]) == [30, 20]
    assert options["headers"]["kwargsrepr"] == "{'payload': <email>, 'max_retries': 3}"
    assert (options["exchange"], options["routing_key"]) == ("taskyard", "email.high")
    assert options["delivery_mode"] == 2
    assert options["serializer"] == "json"
    assert [q.name for q in options["declare"]] == ["email.high"]


# (first delivery tag, batch size, [(tag, multiple, acked)], outcomes, unsettled)
SETTLE_CASES = [
    (1, 3, [], [None, None, None], 3),
    (1, 3, [(3, True, True)], [True, True, True], 0),
    (1, 3, [(1, False, True), (3, False, True)], [True, None, True], 1),
    (5, 3, [(5, False, False), (7, True, True)], [False, True, True], 0),
    (5, 3, [(6, True, False), (7, False, True)], [False, False, True], 0),
    # Tags of an earlier batch on the same channel, or beyond this one, change nothing.
    (5, 2, [(4, True, True), (9, False, False)], [None, None], 2),
    (5, 2, [(9, True, True)], [True, True], 0),
    # A late duplicate does not flip an outcome.
    (1, 2, [(1, False, False), (2, True, True)], [False, True], 0),
]


@pytest.mark.parametrize(("first_tag", "count", "events", "outcomes", "unsettled"), SETTLE_CASES)
def test_confirms_settle_the_batch_messages_they_name(
    first_tag: int,
    count: int,
    events: list[tuple[int, bool, bool]],
    outcomes: list[bool | None],
    unsettled: int,
) -> None:
    tracker = ConfirmTracker(first_tag, count)
    for tag, multiple, acked in events:
        tracker.settle(tag, multiple, acked)
    assert (tracker.outcomes, tracker.unsettled) == (outcomes, unsettled)
    assert tracker.confirmed() == [o is True for o in outcomes]


def test_a_broker_that_cannot_be_reached_confirms_nothing() -> None:
    url = "amqp://guest:guest@127.0.0.1:1//"
    settings = Settings(_env_file=None, broker_url=url)  # type: ignore[call-arg]
    celery = create_celery_app("test", settings)
    record = TaskRecord.model_validate(
        {
            "id": "0b4c7a1e-7d7c-4a47-9a55-7d4b3b0f1a12",
            "type": "data",
            "priority": "low",
            "queue": "data.low",
            "status": "QUEUED",
            "max_retries": 0,
            "created_at": "2026-11-28T12:00:00.000Z",
        }
    )

    with pytest.raises(PublishFailed) as failed:
        Publisher(celery, settings).publish([NewTask(record, {}), NewTask(record, {})])

    assert failed.value.confirmed == [False, False]
