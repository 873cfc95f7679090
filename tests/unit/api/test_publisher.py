from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from amqp.exceptions import MessageNacked
from kombu.exceptions import OperationalError

from taskyard_api.errors import BackendUnavailable
from taskyard_api.publisher import publish
from taskyard_common.records import TaskRecord
from taskyard_common.settings import Settings

RECORD = {
    "id": "0b4c7a1e-7d7c-4a47-9a55-7d4b3b0f1a11",
    "type": "email",
    "priority": "high",
    "queue": "email.high",
    "status": "QUEUED",
    "max_retries": 3,
    "created_at": "2026-11-28T12:00:00.000Z",
    "history": [{"status": "QUEUED", "at": "2026-11-28T12:00:00.000Z"}],
}


def test_publish_keeps_the_payload_out_of_celerys_reprs() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    services = SimpleNamespace(
        celery=SimpleNamespace(send_task=lambda name, **options: sent.append((name, options))),
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
    )
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

    publish(services, record, payload)  # type: ignore[arg-type]

    name, options = sent[0]
    assert name == "taskyard.email.send"
    assert options["kwargs"] == {"payload": payload, "max_retries": 3}
    assert (options["queue"], options["routing_key"]) == ("email.high", "email.high")
    assert options["argsrepr"] == "()"
    assert options["kwargsrepr"] == "{'payload': <email>, 'max_retries': 3}"
    # The attempt's limits, enforced by the worker's pool: soft at timeout_seconds, the
    # hard kill TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS later.
    assert (options["soft_time_limit"], options["time_limit"]) == (20, 30)


@pytest.mark.parametrize(
    "failure",
    [
        MessageNacked("the broker refused the message"),
        OperationalError("connection lost before the confirm, retries exhausted"),
        ConnectionResetError("connection reset"),
    ],
)
def test_a_publish_rabbitmq_did_not_confirm_is_a_503(failure: Exception) -> None:
    def send_task(name: str, **options: Any) -> None:
        raise failure

    services = SimpleNamespace(celery=SimpleNamespace(send_task=send_task))
    with pytest.raises(BackendUnavailable) as raised:
        publish(services, TaskRecord.model_validate(RECORD), {})  # type: ignore[arg-type]
    assert raised.value.status == 503
