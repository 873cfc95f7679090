"""The status store's guarded transitions against a real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from support import servers
from support.stack import claim_redis_db, release_redis_db
from taskyard_callback_worker.tasks import Deliveries
from taskyard_common import status_store
from taskyard_common.clock import iso, now_iso, utc_now
from taskyard_common.records import (
    CallbackState,
    CallbackStatus,
    HistoryEntry,
    TaskRecord,
    TaskStatus,
)
from taskyard_common.settings import Settings
from taskyard_common.status_store import NewTask, StatusStore
from taskyard_common.task_cursors import CursorError


@pytest.fixture
def store() -> Iterator[StatusStore]:
    if not servers.listening(servers.REDIS_HOST, servers.REDIS_PORT):
        servers.missing_server("Redis")
    db = claim_redis_db()
    client = redis.Redis(
        host=servers.REDIS_HOST, port=servers.REDIS_PORT, db=db, decode_responses=True
    )
    client.flushdb()
    yield StatusStore(client, ttl_seconds=60)
    client.flushdb()
    release_redis_db(db)


def new_record(**overrides: object) -> TaskRecord:
    at = now_iso()
    return TaskRecord.model_validate(
        {
            "id": str(uuid.uuid4()),
            "type": "data",
            "priority": "normal",
            "queue": "data.normal",
            "status": "QUEUED",
            "max_retries": 3,
            "created_at": at,
            "history": [HistoryEntry(status=TaskStatus.QUEUED, at=at)],
            **overrides,
        }
    )


def queued(store: StatusStore, **overrides: object) -> TaskRecord:
    record = new_record(**overrides)
    assert store.create(NewTask(record, {"input": {"records": []}})) is None
    return record


def statuses(store: StatusStore, task_id: str) -> list[str]:
    record = store.get(task_id)
    assert record is not None
    return [h.status for h in record.history]


def test_a_final_state_is_never_overwritten_by_a_stale_writer(store: StatusStore) -> None:
    record = queued(store)
    assert store.begin_attempt(record.id, "w1").applied
    assert store.succeed(record.id, {"ok": True}).applied

    late = store.begin_attempt(record.id, "w2")
    assert not late.applied and late.previous_status == TaskStatus.SUCCESS
    assert not store.fail(record.id, {"type": "X", "message": "", "retryable": False}).applied
    assert not store.cancel(record.id).applied
    final = store.get(record.id)
    assert final is not None and final.status == TaskStatus.SUCCESS
    assert final.result == {"ok": True}
    assert statuses(store, record.id) == ["QUEUED", "RECEIVED", "PROCESSING", "SUCCESS"]


def test_after_a_backoff_the_task_goes_straight_to_processing(store: StatusStore) -> None:
    record = queued(store)
    store.begin_attempt(record.id, "w1")
    store.schedule_retry(record.id, {"type": "E", "message": "m", "retryable": True}, now_iso())
    store.begin_attempt(record.id, "w1")
    got = store.get(record.id)
    assert got is not None and got.attempts == 2 and got.next_retry_at is None
    assert statuses(store, record.id) == [
        "QUEUED",
        "RECEIVED",
        "PROCESSING",
        "RETRYING",
        "PROCESSING",
    ]


def test_a_redelivery_after_a_crash_counts_a_new_attempt(store: StatusStore) -> None:
    record = queued(store)
    store.begin_attempt(record.id, "w1")
    assert store.begin_attempt(record.id, "w2").applied
    got = store.get(record.id)
    assert got is not None and got.attempts == 2 and got.worker == "w2"


def test_status_indexes_follow_transitions(store: StatusStore) -> None:
    first = queued(store)
    # Newest first is by creation millisecond; tasks created in the same one come in id order.
    time.sleep(0.002)
    second = queued(store, priority="high", queue="data.high")
    store.begin_attempt(first.id, "w")
    store.fail(first.id, {"type": "E", "message": "m", "retryable": False})

    failed, _ = store.list_records(status="FAILED")
    assert [r.id for r in failed] == [first.id]
    assert [r.id for r in store.list_records(status="QUEUED")[0]] == [second.id]
    assert [r.id for r in store.list_records(priority="high")[0]] == [second.id]
    assert [r.id for r in store.list_records()[0]] == [second.id, first.id]

    assert store.requeue(first.id).applied
    assert store.list_records(status="FAILED")[0] == []
    requeued = store.get(first.id)
    assert requeued is not None and requeued.attempts == 1 and requeued.error is None


def test_a_rerun_keeps_counting_attempts(store: StatusStore) -> None:
    record = queued(store)
    store.begin_attempt(record.id, "w1")
    store.fail(record.id, {"type": "E", "message": "m", "retryable": False})
    assert store.requeue(record.id).applied
    assert store.begin_attempt(record.id, "w2").applied
    got = store.get(record.id)
    assert got is not None and got.attempts == 2
    assert statuses(store, record.id).count("PROCESSING") == got.attempts


def test_a_cursor_alone_pages_on_with_the_filters_it_was_made_with(store: StatusStore) -> None:
    lows = []
    for priority in ("low", "high", "low", "high", "low"):
        time.sleep(0.002)
        record = queued(store, priority=priority, queue=f"data.{priority}")
        if priority == "low":
            lows.append(record.id)
    first, cursor = store.list_records(priority="low", limit=2)
    assert cursor is not None
    rest, end = store.list_records(cursor=cursor, limit=5)
    assert [r.id for r in first + rest] == list(reversed(lows)) and end is None
    with pytest.raises(CursorError, match="priority"):
        store.list_records(priority="high", cursor=cursor)


def test_records_expire_with_the_ttl(store: StatusStore) -> None:
    record = queued(store)
    assert 0 < store.redis.ttl(store.keys.task(record.id)) <= 60
    assert 0 < store.redis.ttl(store.keys.history(record.id)) <= 60
    store.redis.delete(store.keys.task(record.id))
    assert store.list_records()[0] == []


def test_a_scheduled_record_lives_its_wait_plus_the_ttl_then_the_plain_ttl(
    store: StatusStore,
) -> None:
    delay = 10 * 24 * 3600
    record = queued(store, status="SCHEDULED", run_at=iso(utc_now() + timedelta(seconds=delay)))
    for key in (store.keys.task(record.id), store.keys.history(record.id)):
        assert delay + 50 < store.redis.ttl(key) <= delay + 61

    # Its index entry (scored by creation time) survives the pruning of a later create even
    # once older than twice the TTL; the wildcard index lists it.
    aged = int((utc_now() - timedelta(seconds=delay)).timestamp() * 1000)
    everything = store.keys.index("*", "*", "*")
    store.redis.zadd(everything, {record.id: aged})
    queued(store)
    assert store.redis.zscore(everything, record.id) == aged

    assert store.begin_attempt(record.id, "w1").applied
    for key in (store.keys.task(record.id), store.keys.history(record.id)):
        assert 0 < store.redis.ttl(key) <= 60


def test_a_held_idempotency_key_answers_its_holder_and_creates_nothing(
    store: StatusStore,
) -> None:
    first, second = new_record(), new_record()
    payload = {"input": {"records": []}}

    assert store.create_many([NewTask(first, payload, "scope-a")]) == [None]
    assert store.create_many([NewTask(second, payload, "scope-a")]) == [first.id]
    assert store.get(second.id) is None
    assert [r.id for r in store.list_records()[0]] == [first.id]


def test_a_key_whose_record_expired_is_taken_over(store: StatusStore) -> None:
    gone, fresh = new_record(), new_record()
    store.redis.set(store.keys.idempotency("scope-b"), gone.id)

    assert store.create(NewTask(fresh, {}, "scope-b")) is None
    assert store.redis.get(store.keys.idempotency("scope-b")) == fresh.id


def test_discard_removes_the_record_and_releases_only_its_own_key(store: StatusStore) -> None:
    mine, other = new_record(), new_record()
    store.create_many([NewTask(mine, {}, "scope-c"), NewTask(other, {}, "scope-d")])
    store.redis.set(store.keys.idempotency("scope-d"), "someone-else")

    store.discard_many([NewTask(mine, {}, "scope-c"), NewTask(other, {}, "scope-d")])

    assert store.get(mine.id) is None and store.get(other.id) is None
    assert store.redis.get(store.keys.idempotency("scope-c")) is None
    assert store.redis.get(store.keys.idempotency("scope-d")) == "someone-else"
    assert store.list_records()[0] == []


def test_create_many_loads_a_script_redis_does_not_know(store: StatusStore) -> None:
    # As after a Redis restart; a script of its own rather than a flush of the shared server.
    unknown = f"{status_store._LUA_CREATE}-- {uuid.uuid4()}"
    store._create = store.redis.register_script(unknown)  # type: ignore[attr-defined]
    record = new_record()
    assert store.create_many([NewTask(record, {})]) == [None]
    assert store.get(record.id) is not None


def test_only_the_current_delivery_writes_the_callback_state(store: StatusStore) -> None:
    record = queued(store, callback={"url": "https://hooks.example.com/x"})
    pending = CallbackState(url="https://hooks.example.com/x")
    assert store.start_callback_delivery(record.id, "d1", pending)
    assert store.set_callback_state(record.id, "d1", pending.model_copy(update={"attempts": 1}))
    # A rerun ended again: its delivery d2 is the record's now.
    assert store.start_callback_delivery(record.id, "d2", pending)
    delivered = pending.model_copy(update={"status": CallbackStatus.DELIVERED, "attempts": 1})
    assert store.set_callback_state(record.id, "d2", delivered)
    assert not store.is_current_delivery(record.id, "d1")
    stale = pending.model_copy(update={"status": CallbackStatus.FAILED, "attempts": 2})
    assert not store.set_callback_state(record.id, "d1", stale)
    assert store.callback_state(record.id) == delivered
    kept = store.get(record.id)
    assert kept is not None and kept.callback == delivered


def test_the_callback_worker_drops_an_attempt_of_a_superseded_delivery(
    store: StatusStore,
) -> None:
    record = queued(store, callback={"url": "https://93.184.216.34/hook"})
    current = CallbackState(url="https://93.184.216.34/hook")
    store.start_callback_delivery(record.id, "new-delivery", current)
    deliveries = Deliveries(Settings())
    deliveries.runtime.__dict__["store"] = store  # the runtime's cached store, on the test's db
    assert deliveries.attempt(record.id, "old-delivery", "task.failed", 2) is None
    assert store.callback_state(record.id) == current
