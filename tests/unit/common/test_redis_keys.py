"""The Redis key scheme: one class spells every key, as records already in Redis have them."""

from __future__ import annotations

import pytest

from taskyard_common.redis_keys import REDIS_KEYS, RedisKeys


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (REDIS_KEYS.task("t1"), "taskyard:task:t1"),
        (REDIS_KEYS.history("t1"), "taskyard:task:t1:history"),
        (REDIS_KEYS.index("QUEUED", "data", "*"), "taskyard:idx:QUEUED:data:*"),
        (REDIS_KEYS.idempotency("abc"), "taskyard:idem:abc"),
        (REDIS_KEYS.rate_limit("ci", "600/60", 120), "taskyard:ratelimit:ci:600/60:120"),
        (RedisKeys("other").task("t1"), "other:task:t1"),
    ],
)
def test_key_strings(key: str, expected: str) -> None:
    assert key == expected


def test_templates_for_lua_keep_their_placeholders() -> None:
    assert RedisKeys("p").template(RedisKeys.INDEX) == "p:idx:{status}:{type}:{priority}"
