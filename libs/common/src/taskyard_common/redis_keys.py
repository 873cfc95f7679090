"""Every Redis key Taskyard uses, spelled once (rq's idea: one class owns its keys).

Each format is a template with `{name}` placeholders. Python fills them with
`str.format`; the Lua scripts receive the same templates (prefix filled in) in ARGV
and fill them with `fill_key` (LUA_FILL_KEY), so no script spells a key of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "taskyard"
# The index entry that stands for "any value" of a filter (status, type or priority).
WILDCARD = "*"

# In Lua: the template with each {name} replaced from the table `values` (a table
# replacement is taken literally, so values need no escaping).
LUA_FILL_KEY = """
local function fill_key(template, values)
  return (string.gsub(template, '{(%w+)}', values))
end
"""


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = PREFIX

    # A task's record (a hash) and its history (a list of JSON entries).
    TASK = "{prefix}:task:{id}"
    HISTORY = "{prefix}:task:{id}:history"
    # Sorted set of task ids by creation time (ms), one per filter combination.
    INDEX = "{prefix}:idx:{status}:{type}:{priority}"
    # The same, holding only one owner's tasks: a key lists its own without filtering.
    OWNER_INDEX = "{prefix}:owner:{owner}:idx:{status}:{type}:{priority}"
    # The task id an idempotency key (hashed with its scope) was first used for.
    IDEMPOTENCY = "{prefix}:idem:{scope}"
    # One caller's request count in one window of one rate limit.
    RATE_LIMIT = "{prefix}:ratelimit:{caller}:{limit}:{window}"

    def template(self, pattern: str) -> str:
        """`pattern` with the prefix filled in and the other placeholders left for Lua."""
        return pattern.replace("{prefix}", self.prefix)

    def task(self, task_id: str) -> str:
        return self.TASK.format(prefix=self.prefix, id=task_id)

    def history(self, task_id: str) -> str:
        return self.HISTORY.format(prefix=self.prefix, id=task_id)

    def index(self, status: str, task_type: str, priority: str) -> str:
        return self.INDEX.format(
            prefix=self.prefix, status=status, type=task_type, priority=priority
        )

    def owner_index(self, owner: str, status: str, task_type: str, priority: str) -> str:
        return self.OWNER_INDEX.format(
            prefix=self.prefix, owner=owner, status=status, type=task_type, priority=priority
        )

    def idempotency(self, scope: str) -> str:
        return self.IDEMPOTENCY.format(prefix=self.prefix, scope=scope)

    def rate_limit(self, caller: str, limit: str, window: int | str) -> str:
        return self.RATE_LIMIT.format(prefix=self.prefix, caller=caller, limit=limit, window=window)


REDIS_KEYS = RedisKeys()
