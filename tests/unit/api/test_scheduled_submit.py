"""run_at and delay_seconds on submit: validated (a table), recorded as SCHEDULED and
published through the broker's delay exchanges. No servers: a request that passed
validation gets a 503 from the absent Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from kombu.transport.native_delayed_delivery import calculate_routing_key

from taskyard_api import create_app, submission
from taskyard_api.auth import OPEN_CALLER
from taskyard_api.publisher import DELAY_ENTRY_EXCHANGE, _ConfirmChannel
from taskyard_common.celery_app import create_celery_app
from taskyard_common.clock import iso, utc_now
from taskyard_common.contracts import SubmitRequest
from taskyard_common.records import TaskRecord
from taskyard_common.settings import Settings, get_settings
from taskyard_common.status_store import NewTask

MAX_SCHEDULE_SECONDS = 3600
PAYLOAD = {"input": {"records": [{"x": 1}]}}
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_url=f"file://{tmp_path}/files",
        rate_limit="off",
        redis_url="redis://127.0.0.1:1/0",
        broker_url="amqp://guest:guest@127.0.0.1:1//",
        log_format="console",
    )


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    # The submit model checks the schedule against the process settings.
    monkeypatch.setenv("TASKYARD_MAX_SCHEDULE_SECONDS", str(MAX_SCHEDULE_SECONDS))
    get_settings.cache_clear()
    yield create_app(_settings(tmp_path))
    get_settings.cache_clear()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _ahead(seconds: float) -> str:
    return (utc_now() + timedelta(seconds=seconds)).isoformat()


BOTH = "Give run_at or delay_seconds, not both"
TOO_FAR = f"At most {MAX_SCHEDULE_SECONDS} seconds ahead (TASKYARD_MAX_SCHEDULE_SECONDS)"

# (schedule fields, None when valid or the 422's [(loc, msg)])
VALIDATION_CASES: list[tuple[dict[str, Any], list[tuple[list[Any], str]] | None]] = [
    ({"delay_seconds": 3}, None),
    ({"delay_seconds": 0}, None),
    ({"delay_seconds": MAX_SCHEDULE_SECONDS}, None),
    ({"run_at": _ahead(60)}, None),
    (
        {
            "run_at": (utc_now() + timedelta(seconds=60))
            .astimezone(timezone(timedelta(hours=1)))
            .isoformat()
        },
        None,
    ),
    # In the past: runs now.
    ({"run_at": "2020-01-01T00:00:00Z"}, None),
    ({"run_at": _ahead(60), "delay_seconds": 5}, [(["delay_seconds"], BOTH)]),
    ({"delay_seconds": MAX_SCHEDULE_SECONDS + 1}, [(["delay_seconds"], TOO_FAR)]),
    ({"run_at": _ahead(MAX_SCHEDULE_SECONDS + 600)}, [(["run_at"], TOO_FAR)]),
    (
        {"run_at": "2030-01-01T00:00:00"},
        [(["run_at"], "Input should have timezone info")],
    ),
    ({"run_at": "tomorrow"}, [(["run_at"], "Input should be a valid datetime")]),
    (
        {"run_at": "0001-01-01T00:00:00+01:00"},
        [(["run_at"], "Input is outside the datetime range")],
    ),
    ({"delay_seconds": -1}, [(["delay_seconds"], "Input should be greater than or equal to 0")]),
    ({"delay_seconds": "3"}, [(["delay_seconds"], "Input should be a valid integer")]),
]


@pytest.mark.parametrize(("schedule", "errors"), VALIDATION_CASES)
def test_the_schedule_is_validated(
    client: FlaskClient, schedule: dict[str, Any], errors: list[tuple[list[Any], str]] | None
) -> None:
    response = client.post("/api/tasks", json={"type": "data", "payload": PAYLOAD, **schedule})
    if errors is None:
        # Validation passed: the request got as far as the (absent) Redis.
        assert response.status_code == 503, response.get_data(as_text=True)
        return
    assert response.status_code == 422, response.get_data(as_text=True)
    details = response.get_json()["error"]["details"]
    assert [d["loc"] for d in details] == [loc for loc, _ in errors]
    for detail, (_, message) in zip(details, errors, strict=True):
        assert detail["msg"].startswith(message), detail


def test_a_batch_item_is_validated_the_same_way(client: FlaskClient) -> None:
    item = {"type": "data", "payload": PAYLOAD, "run_at": _ahead(60), "delay_seconds": 5}
    response = client.post("/api/tasks/batch", json={"tasks": [item]})
    assert response.status_code == 422, response.get_data(as_text=True)
    details = response.get_json()["error"]["details"]
    assert [(d["loc"], d["msg"]) for d in details] == [(["tasks", 0, "delay_seconds"], BOTH)]


def _new_task(app: Flask, schedule: dict[str, Any]) -> NewTask:
    found: Any = app.extensions["taskyard"]
    request = submission.Request(
        SubmitRequest.model_validate({"type": "data", "payload": PAYLOAD, **schedule}).root
    )
    with app.test_request_context("/api/tasks", method="POST"):
        return submission._new_task(found, request, OPEN_CALLER)


def test_a_task_ahead_is_scheduled_with_its_run_at(app: Flask) -> None:
    before = utc_now()
    record = _new_task(app, {"delay_seconds": 30}).record
    assert record.status == "SCHEDULED"
    assert [h.status for h in record.history] == ["SCHEDULED"]
    assert record.run_at is not None
    run_at = datetime.fromisoformat(record.run_at)
    assert before + timedelta(seconds=29) < run_at <= utc_now() + timedelta(seconds=30)


@pytest.mark.parametrize("schedule", [{}, {"run_at": "2020-01-01T00:00:00+02:00"}])
def test_a_task_not_ahead_is_queued(app: Flask, schedule: dict[str, Any]) -> None:
    record = _new_task(app, schedule).record
    assert record.status == "QUEUED"
    assert [h.status for h in record.history] == ["QUEUED"]
    assert record.run_at == ("2019-12-31T22:00:00.000Z" if schedule else None)


def _record(status: str, run_at: datetime | None) -> TaskRecord:
    return TaskRecord.model_validate(
        {
            "id": "0b4c7a1e-7d7c-4a47-9a55-7d4b3b0f1a13",
            "type": "data",
            "priority": "low",
            "queue": "data.low",
            "status": status,
            "max_retries": 0,
            "created_at": iso(NOW),
            "run_at": None if run_at is None else iso(run_at),
        }
    )


class _Producer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def publish(self, body: Any, **options: Any) -> None:
        self.sent.append(options)


# (status, run_at, exchange, routing key, eta header)
ROUTING_CASES = [
    (
        "SCHEDULED",
        NOW + timedelta(seconds=10),
        DELAY_ENTRY_EXCHANGE,
        calculate_routing_key(10, "data.low"),
        (NOW + timedelta(seconds=10)).isoformat(),
    ),
    # Whole seconds, rounded up: never before run_at.
    (
        "SCHEDULED",
        NOW + timedelta(seconds=9, milliseconds=500),
        DELAY_ENTRY_EXCHANGE,
        calculate_routing_key(10, "data.low"),
        (NOW + timedelta(seconds=9, milliseconds=500)).isoformat(),
    ),
    # Due by the time it is published: straight to its queue.
    ("SCHEDULED", NOW - timedelta(seconds=1), "taskyard", "data.low", None),
    # A rerun of a cancelled scheduled task runs at once.
    ("QUEUED", NOW + timedelta(seconds=10), "taskyard", "data.low", None),
    ("QUEUED", None, "taskyard", "data.low", None),
]


@pytest.mark.parametrize(("status", "run_at", "exchange", "routing_key", "eta"), ROUTING_CASES)
def test_a_scheduled_message_goes_through_the_delay_exchanges(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: str,
    run_at: datetime | None,
    exchange: str,
    routing_key: str,
    eta: str | None,
) -> None:
    monkeypatch.setattr("taskyard_api.publisher.utc_now", lambda: NOW)
    settings = _settings(tmp_path)
    producer = _Producer()

    _ConfirmChannel._send(
        create_celery_app("test", settings),
        settings,
        producer,  # type: ignore[arg-type]
        NewTask(_record(status, run_at), PAYLOAD),
    )

    options = producer.sent[0]
    assert (options["exchange"], options["routing_key"]) == (exchange, routing_key)
    assert options["headers"]["eta"] == eta
    # The task's own queue is declared either way: the delayed message ends up there.
    assert [q.name for q in options["declare"]] == ["data.low"]
