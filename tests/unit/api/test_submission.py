"""submission.accept without servers: which tasks are created, answered by their key,
published, and discarded again, with a store and a publisher that only record calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from taskyard_api import create_app, submission
from taskyard_api.auth import OPEN_CALLER
from taskyard_api.publisher import PublishFailed
from taskyard_common.contracts import SubmitRequest
from taskyard_common.records import TaskRecord
from taskyard_common.settings import Settings
from taskyard_common.status_store import NewTask

BODY = {"type": "data", "payload": {"input": {"records": [{"x": 1}]}}}


@dataclass
class FakeStore:
    """Keys map to task ids; `vanish` names holders whose record is gone when read."""

    keys: dict[str, str] = field(default_factory=dict)
    records: dict[str, TaskRecord] = field(default_factory=dict)
    vanish: set[str] = field(default_factory=set)
    create_calls: int = 0
    discarded: list[str] = field(default_factory=list)

    def create_many(self, batch: Sequence[NewTask]) -> list[str | None]:
        self.create_calls += 1
        holders: list[str | None] = []
        for new in batch:
            holder = self.keys.get(new.idempotency_scope or "")
            if holder and holder in self.records:
                holders.append(holder)
                continue
            if new.idempotency_scope:
                self.keys[new.idempotency_scope] = new.record.id
            self.records[new.record.id] = new.record
            holders.append(None)
        return holders

    def get_many(self, task_ids: Sequence[str]) -> list[TaskRecord | None]:
        found = []
        for task_id in task_ids:
            if task_id in self.vanish:
                self.vanish.discard(task_id)
                self.records.pop(task_id, None)
            found.append(self.records.get(task_id))
        return found

    def discard_many(self, batch: Sequence[NewTask]) -> None:
        for new in batch:
            self.discarded.append(new.record.id)
            self.records.pop(new.record.id, None)
            if self.keys.get(new.idempotency_scope or "") == new.record.id:
                del self.keys[new.idempotency_scope or ""]


@dataclass
class FakePublisher:
    refuse: set[int] = field(default_factory=set)  # positions in the published batch
    published: list[list[str]] = field(default_factory=list)

    def publish(self, tasks: Sequence[NewTask]) -> None:
        self.published.append([t.record.id for t in tasks])
        confirmed = [i not in self.refuse for i in range(len(tasks))]
        if not all(confirmed):
            raise PublishFailed(confirmed, "nack")


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_url=f"file://{tmp_path}/files",
        rate_limit="off",
        redis_url="redis://127.0.0.1:1/0",
        broker_url="amqp://guest:guest@127.0.0.1:1//",
        log_format="console",
    )
    return create_app(settings)


def _accept(
    app: Flask, store: FakeStore, publisher: FakePublisher, keys: list[str | None]
) -> list[submission.Accepted]:
    found: Any = app.extensions["taskyard"]
    found.store, found.publisher = store, publisher
    requests = [submission.Request(SubmitRequest.model_validate(BODY).root, key) for key in keys]
    with app.test_request_context("/api/tasks/batch", method="POST"):
        return submission.accept(found, requests, OPEN_CALLER)


def test_new_tasks_are_created_and_published_together(app: Flask) -> None:
    store, publisher = FakeStore(), FakePublisher()

    accepted = _accept(app, store, publisher, [None, "a", None])

    assert [a.created for a in accepted] == [True, True, True]
    assert publisher.published == [[a.record.id for a in accepted]]
    assert store.create_calls == 1


def test_a_repeat_with_the_same_keys_publishes_only_what_is_new(app: Flask) -> None:
    store, publisher = FakeStore(), FakePublisher()
    first = _accept(app, store, publisher, ["a", "b"])

    again = _accept(app, store, publisher, ["a", "c", "b"])

    assert [a.created for a in again] == [False, True, False]
    assert [again[0].record.id, again[2].record.id] == [r.record.id for r in first]
    assert publisher.published[-1] == [again[1].record.id]


def test_a_holder_gone_between_claim_and_read_is_claimed_again(app: Flask) -> None:
    store, publisher = FakeStore(), FakePublisher()
    (first,) = _accept(app, store, publisher, ["a"])
    store.vanish.add(first.record.id)

    (second,) = _accept(app, store, publisher, ["a"])

    assert second.created and second.record.id != first.record.id
    assert store.keys[next(iter(store.keys))] == second.record.id
    assert store.create_calls == 3  # the first submit, then the claim and its second try


def test_unconfirmed_tasks_are_discarded_and_reported(app: Flask) -> None:
    store, publisher = FakeStore(), FakePublisher(refuse={1, 3})

    with pytest.raises(submission.NotConfirmed) as refused:
        _accept(app, store, publisher, ["a", "b", None, "d"])

    assert refused.value.unconfirmed == [1, 3]
    assert refused.value.status == 503 and refused.value.headers["Retry-After"]
    published = publisher.published[0]
    assert store.discarded == [published[1], published[3]]
    assert set(store.records) == {published[0], published[2]}
    assert len(store.keys) == 1  # "a" stays claimed by its confirmed task; "b" is free


def test_unconfirmed_positions_map_back_to_request_order(app: Flask) -> None:
    store, publisher = FakeStore(), FakePublisher()
    _accept(app, store, publisher, ["a"])
    publisher.refuse = {0}

    with pytest.raises(submission.NotConfirmed) as refused:
        _accept(app, store, publisher, ["a", "b"])

    # Only "b" was published (as position 0); it is request index 1.
    assert refused.value.unconfirmed == [1]
