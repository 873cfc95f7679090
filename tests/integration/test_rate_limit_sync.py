"""Rate limits shared by several API processes through a real Redis: the stated tolerance.

Each WindowCounter stands for one API process. Between two syncs a process decides with
the totals it last saw, so together the processes may admit more than the limit, by at
most what each of the others admits in one sync interval.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from limits import parse_many

from support import servers
from support.stack import claim_redis_db, release_redis_db
from taskyard_api.rate_limit import WindowCounter

LIMIT = 100
WINDOW_START = 1_800_000_000.0  # a minute boundary: the whole test sits in one window


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    if not servers.listening(servers.REDIS_HOST, servers.REDIS_PORT):
        servers.missing_server("Redis")
    db = claim_redis_db()
    connection = redis.Redis(host=servers.REDIS_HOST, port=servers.REDIS_PORT, db=db)
    connection.flushdb()
    yield connection
    connection.flushdb()
    release_redis_db(db)


def _counters(client: redis.Redis, processes: int) -> list[WindowCounter]:
    items = parse_many(f"{LIMIT}/minute")
    return [WindowCounter(items, client, clock=lambda: WINDOW_START + 1) for _ in range(processes)]


@pytest.mark.parametrize(("processes", "hits_per_interval"), [(2, 1), (3, 5), (4, 20)])
def test_processes_together_admit_the_limit_within_the_tolerance(
    client: redis.Redis, processes: int, hits_per_interval: int
) -> None:
    counters = _counters(client, processes)
    admitted = 0
    for _ in range(2 * LIMIT):
        for counter in counters:
            admitted += sum(counter.hit("key:caller") is None for _ in range(hits_per_interval))
        for counter in counters:
            counter.sync()

    tolerance = (processes - 1) * hits_per_interval
    print(f"\n{processes} processes, {hits_per_interval} hits each per sync: admitted {admitted}")
    assert LIMIT <= admitted <= LIMIT + tolerance


def test_a_process_sees_the_others_hits_after_one_sync(client: redis.Redis) -> None:
    first, second = _counters(client, 2)
    for _ in range(LIMIT):
        assert first.hit("key:caller") is None
    first.sync()
    # Until its next sync the second process has not heard of the caller: within tolerance.
    assert second.hit("key:caller") is None
    second.sync()

    retry_after = second.hit("key:caller")

    assert retry_after is not None and 1 <= retry_after <= 60
    assert second.hit("key:other") is None
