"""Task records in Redis: one hash and one history list per task, guarded transitions.

Each transition is one Lua script call, so it is atomic and costs one round
trip: a late or duplicate writer (a redelivered message, a worker that lost
the race with a cancel) can never move a record out of a final state.
Listing uses one sorted set per filter combination, scored by creation time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from taskyard_common.clock import now_iso, utc_now
from taskyard_common.limits import LIST_LIMIT_MAX
from taskyard_common.records import (
    FINAL_STATUSES,
    RERUNNABLE_STATUSES,
    CallbackState,
    TaskRecord,
    TaskStatus,
)
from taskyard_common.redis_keys import LUA_FILL_KEY, REDIS_KEYS, WILDCARD, RedisKeys
from taskyard_common.settings import Settings
from taskyard_common.task_cursors import (
    TaskCursor,
    TaskFilters,
    decode_cursor,
    encode_cursor,
    page_filters,
)

# Workers never create records; only the API passes its TASKYARD_IDEMPOTENCY_TTL_SECONDS.
DEFAULT_IDEMPOTENCY_TTL_SECONDS: int = Settings.model_fields["idempotency_ttl_seconds"].default
# Only the API creates records, and passes its TASKYARD_MAX_SCHEDULE_SECONDS.
DEFAULT_MAX_SCHEDULE_SECONDS: int = Settings.model_fields["max_schedule_seconds"].default
_NULL = ""
# Any status but a final one: where a new attempt, a failure or a cancel may come from.
_UNFINISHED = frozenset(TaskStatus) - FINAL_STATUSES
# What a rerun clears of the record's last run (its history and attempts stay).
RERUN_CLEARS = ("result", "error", "started_at", "finished_at", "next_retry_at", "progress")

# Move the record's entries from the old status's indexes to the new one's: the global
# ones and its owner's (records from before owners have none). The templates and the
# wildcard come from RedisKeys.
_LUA_REINDEX = (
    LUA_FILL_KEY
    + """
local function reindex(templates, wildcard, record, old_status, new_status)
  for _, template in ipairs(templates) do
    for _, t in ipairs({record.type, wildcard}) do
      for _, p in ipairs({record.priority, wildcard}) do
        local filters = {type = t, priority = p, status = old_status, owner = record.owner}
        redis.call('ZREM', fill_key(template, filters), record.id)
        filters.status = new_status
        redis.call('ZADD', fill_key(template, filters), record.score, record.id)
      end
    end
  end
end
"""
)

# KEYS: record hash, history list. ARGV: new status(es, comma separated), at, ttl,
# allowed-from statuses (comma separated), attempts increment, index key template,
# owner index key template, wildcard, then field/value pairs.
_LUA_TRANSITION = (
    _LUA_REINDEX
    + """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0, ''} end
local allowed = false
for s in string.gmatch(ARGV[4], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed then return {0, current} end
local final = current
local targets = {}
for s in string.gmatch(ARGV[1], '[^,]+') do table.insert(targets, s) end
-- Coming back from a backoff goes straight to the first target after RECEIVED.
if current == 'RETRYING' and targets[1] == 'RECEIVED' then table.remove(targets, 1) end
for _, s in ipairs(targets) do
  redis.call('RPUSH', KEYS[2], cjson.encode({status = s, at = ARGV[2]}))
  final = s
end
redis.call('HSET', KEYS[1], 'status', final)
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[1], 'attempts', ARGV[5]) end
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local fields = redis.call(
  'HMGET', KEYS[1], 'id', 'type', 'priority', 'score', 'created_at', 'run_at', 'owner')
local record = {id = fields[1], type = fields[2], priority = fields[3], score = fields[4],
                owner = fields[7]}
local templates = {ARGV[6]}
if record.owner then table.insert(templates, ARGV[7]) end
reindex(templates, ARGV[8], record, current, final)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
-- Due at its creation, or at a later run_at (same timestamp format: strings compare as times).
local due_at = fields[5]
if fields[6] and fields[6] ~= '' and (not due_at or fields[6] > due_at) then due_at = fields[6] end
return {1, current, due_at or '', record.owner or ''}
"""
)

# A new record in one call (it used to be a MULTI/EXEC of 22 commands, whose packing and
# replies cost the API about 1 ms of CPU per submit), its idempotency key claimed in the same
# atomic step: no other request can see the key held by a record that does not exist yet.
# A key whose record is gone (expired) is taken over. Returns the holder's id, or '' if created.
# KEYS: record hash, history list, idempotency key ('' for none), then the index sorted sets.
# ARGV: ttl (a scheduled task's counts from its run_at), id, score, stale-before score,
# idempotency ttl, task key template, number of history entries n, the n entries, then
# field/value pairs.
_LUA_CREATE = (
    LUA_FILL_KEY
    + """
if KEYS[3] ~= '' then
  local holder = redis.call('GET', KEYS[3])
  if holder and redis.call('EXISTS', fill_key(ARGV[6], {id = holder})) == 1 then return holder end
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[5])
end
local n = tonumber(ARGV[7])
redis.call('HSET', KEYS[1], unpack(ARGV, 8 + n, #ARGV))
if n > 0 then redis.call('RPUSH', KEYS[2], unpack(ARGV, 8, 7 + n)) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[4])
end
return ''
"""
)

# Undo a create whose message RabbitMQ never confirmed: the record, its index entries and its
# idempotency key, the key only while it still names this record.
# KEYS: record hash, history list, idempotency key ('' for none), then the index sorted sets.
# ARGV: id.
_LUA_DISCARD = """
for i = 4, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('DEL', KEYS[1], KEYS[2])
if KEYS[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""

# A record's callback state, on a record that still exists (a delivery must not revive an
# expired record). Its delivery id is kept beside it, out of the public `callback`: a new
# delivery ('start') replaces it; an attempt writes only while its delivery is the record's
# (records from before delivery ids have none: any attempt is theirs).
# KEYS: record hash. ARGV: state JSON, delivery id, 'start' or 'attempt'.
# Returns 1 written, 0 record gone, -1 another delivery is the record's.
_LUA_SET_CALLBACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] == 'start' then
  redis.call('HSET', KEYS[1], 'callback', ARGV[1], 'callback_delivery', ARGV[2])
  return 1
end
local current = redis.call('HGET', KEYS[1], 'callback_delivery')
if current and current ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'callback', ARGV[1])
return 1
"""
CALLBACK_DELIVERY_FIELD = "callback_delivery"

_JSON_FIELDS = ("result", "error", "payload", "callback")
_INT_FIELDS = ("attempts", "max_retries")


# Told of every transition into a final status this store applies (completion callbacks).
FinalListener = Callable[["StatusStore", str, TaskStatus], None]


@dataclass(frozen=True)
class NewTask:
    """A record about to be created, with its payload and its idempotency scope, if any."""

    record: TaskRecord
    payload: dict[str, Any]
    idempotency_scope: str | None = None


@dataclass(frozen=True)
class TransitionOutcome:
    applied: bool
    previous_status: TaskStatus | None
    # When the task was due (created_at, or a later run_at): returned by an applied
    # transition, so a worker needs no extra read to time the task.
    due_at: str | None = None
    # The task's owner (None on records from before owners), returned by an applied transition.
    owner: str | None = None

    @property
    def missing(self) -> bool:
        return self.previous_status is None


def created_record_ttl_seconds(ttl_seconds: int, now: datetime, run_at: str | None) -> int:
    """The TTL a new record starts with: a scheduled task's record must outlive its wait
    (it holds the owner and payload the task runs with), so the time until run_at is added."""
    if not run_at:
        return ttl_seconds
    wait = math.ceil((datetime.fromisoformat(run_at) - now).total_seconds())
    return ttl_seconds + max(0, wait)


def _encode(value: Any) -> str:
    if value is None:
        return _NULL
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _decode_record(raw: dict[str, str], history: Sequence[str]) -> TaskRecord:
    values: dict[str, Any] = {}
    for field, text in raw.items():
        if field in ("score", "payload", CALLBACK_DELIVERY_FIELD):
            continue
        if text == _NULL:
            values[field] = None
        elif field in _JSON_FIELDS:
            values[field] = json.loads(text)
        elif field in _INT_FIELDS:
            values[field] = int(text)
        elif field == "progress":
            values[field] = float(text)
        else:
            values[field] = text
    values["history"] = [json.loads(entry) for entry in history]
    return TaskRecord.model_validate(values)


class StatusStore:
    def __init__(
        self,
        client: redis.Redis,
        ttl_seconds: int,
        idempotency_ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL_SECONDS,
        on_final: FinalListener | None = None,
        keys: RedisKeys = REDIS_KEYS,
        max_schedule_seconds: int = DEFAULT_MAX_SCHEDULE_SECONDS,
    ) -> None:
        self._redis = client
        self.keys = keys
        self._ttl_seconds = ttl_seconds
        self._idempotency_ttl_seconds = idempotency_ttl_seconds
        self._max_schedule_seconds = max_schedule_seconds
        self._on_final = on_final
        self._transition = client.register_script(_LUA_TRANSITION)
        self._create = client.register_script(_LUA_CREATE)
        self._discard = client.register_script(_LUA_DISCARD)
        self._set_callback = client.register_script(_LUA_SET_CALLBACK)

    @classmethod
    def from_url(
        cls,
        url: str,
        ttl_seconds: int,
        idempotency_ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL_SECONDS,
        on_final: FinalListener | None = None,
        max_schedule_seconds: int = DEFAULT_MAX_SCHEDULE_SECONDS,
    ) -> StatusStore:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=30,
        )
        return cls(
            client,
            ttl_seconds,
            idempotency_ttl_seconds,
            on_final,
            max_schedule_seconds=max_schedule_seconds,
        )

    @property
    def redis(self) -> redis.Redis:
        return self._redis

    def create(self, new: NewTask) -> str | None:
        """Write the record; None, or the id of the task already holding its idempotency key."""
        holder = self._create(*self._create_call(new))
        return holder or None

    def create_many(self, batch: Sequence[NewTask]) -> list[str | None]:
        """`create` for every item, in one round trip; each item is atomic on its own."""
        replies = self._pipelined(self._create, [self._create_call(new) for new in batch])
        return [holder or None for holder in replies]

    def discard_many(self, batch: Sequence[NewTask]) -> None:
        """Undo creates whose messages never reached the broker, in one round trip."""
        calls = [(self._new_task_keys(new), [new.record.id]) for new in batch]
        self._pipelined(self._discard, calls)

    def _create_call(self, new: NewTask) -> tuple[list[str], list[str]]:
        record = new.record
        now = utc_now()
        score = int(now.timestamp() * 1000)
        fields = record.model_dump(exclude={"history"}, mode="json")
        fields["payload"] = new.payload
        fields["score"] = score
        # Index entries are scored by creation time: one of a task scheduled furthest ahead
        # must outlive its wait too (entries of expired records are skipped when listing).
        stale_before = score - (2 * self._ttl_seconds + self._max_schedule_seconds) * 1000
        history = [
            json.dumps(h.model_dump(mode="json"), separators=(",", ":")) for h in record.history
        ]
        args: list[str] = [
            str(created_record_ttl_seconds(self._ttl_seconds, now, record.run_at)),
            record.id,
            str(score),
            str(stale_before),
            str(self._idempotency_ttl_seconds),
            self.keys.template(RedisKeys.TASK),
            str(len(history)),
            *history,
        ]
        for name, value in fields.items():
            args.extend((name, _encode(value)))
        return self._new_task_keys(new), args

    def _new_task_keys(self, new: NewTask) -> list[str]:
        record = new.record
        return [
            self.keys.task(record.id),
            self.keys.history(record.id),
            self.keys.idempotency(new.idempotency_scope) if new.idempotency_scope else "",
            *self._index_keys(record),
        ]

    def _pipelined(self, script: Script, calls: Sequence[tuple[list[str], list[str]]]) -> list[Any]:
        """Many calls of one script in one round trip (redis-py's pipelined scripts would
        first ask SCRIPT EXISTS: a second round trip on every batch)."""
        for _ in range(2):
            pipe = self._redis.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            try:
                return pipe.execute()
            except NoScriptError:
                # Redis restarted or its scripts were flushed: nothing ran; load and go again.
                self._redis.script_load(script.script)
        raise NoScriptError(f"script {script.sha} could not be loaded")

    def get(self, task_id: str) -> TaskRecord | None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.task(task_id))
        pipe.lrange(self.keys.history(task_id), 0, -1)
        raw, history = pipe.execute()
        if not raw:
            return None
        return _decode_record(raw, history)

    def get_many(self, task_ids: Sequence[str]) -> list[TaskRecord | None]:
        """The records of these ids, in order, in one round trip; None where one is gone."""
        return [record for _, record in self._get_many(list(task_ids))]

    def set_progress(self, task_id: str, fraction: float) -> None:
        self._redis.hset(self.keys.task(task_id), "progress", str(max(0.0, min(1.0, fraction))))

    def get_payload(self, task_id: str) -> dict[str, Any] | None:
        text = self._redis.hget(self.keys.task(task_id), "payload")
        return json.loads(text) if text else None

    def transition(
        self,
        task_id: str,
        to: TaskStatus | Sequence[TaskStatus],
        allowed_from: Iterable[TaskStatus],
        *,
        attempts_delta: int = 0,
        **fields: Any,
    ) -> TransitionOutcome:
        targets = [to] if isinstance(to, TaskStatus) else list(to)
        args: list[str] = [
            ",".join(targets),
            now_iso(),
            str(self._ttl_seconds),
            ",".join(allowed_from),
            str(attempts_delta),
            self.keys.template(RedisKeys.INDEX),
            self.keys.template(RedisKeys.OWNER_INDEX),
            WILDCARD,
        ]
        for name, value in fields.items():
            args.extend((name, _encode(value)))
        applied, previous, *found = self._transition(
            keys=[self.keys.task(task_id), self.keys.history(task_id)], args=args
        )
        due_at, owner = found or ("", "")
        if applied and self._on_final is not None and targets[-1] in FINAL_STATUSES:
            self._on_final(self, task_id, targets[-1])
        return TransitionOutcome(
            bool(applied),
            TaskStatus(previous) if previous else None,
            due_at or None,
            owner or None,
        )

    def callback_state(self, task_id: str) -> CallbackState | None:
        text = self._redis.hget(self.keys.task(task_id), "callback")
        return CallbackState.model_validate_json(text) if text else None

    def start_callback_delivery(self, task_id: str, delivery_id: str, state: CallbackState) -> bool:
        """`delivery_id` becomes the record's delivery, in `state`; False: the record is gone."""
        return self._write_callback(task_id, delivery_id, state, "start") == 1

    def set_callback_state(self, task_id: str, delivery_id: str, state: CallbackState) -> bool:
        """An attempt's outcome, written only while `delivery_id` is the record's delivery
        (a delivery left waiting by a rerun must not overwrite the new one's state);
        False when nothing was written: the record is gone or another delivery is its."""
        return self._write_callback(task_id, delivery_id, state, "attempt") == 1

    def is_current_delivery(self, task_id: str, delivery_id: str) -> bool:
        current = self._redis.hget(self.keys.task(task_id), CALLBACK_DELIVERY_FIELD)
        return current is None or current == delivery_id

    def _write_callback(
        self, task_id: str, delivery_id: str, state: CallbackState, mode: str
    ) -> int:
        value = _encode(state.model_dump(mode="json"))
        return int(
            self._set_callback(keys=[self.keys.task(task_id)], args=[value, delivery_id, mode])
        )

    def begin_attempt(self, task_id: str, worker: str) -> TransitionOutcome:
        """RECEIVED then PROCESSING (or PROCESSING alone after a backoff); refused once final."""
        return self.transition(
            task_id,
            [TaskStatus.RECEIVED, TaskStatus.PROCESSING],
            allowed_from=_UNFINISHED,
            attempts_delta=1,
            worker=worker,
            started_at=now_iso(),
            next_retry_at=None,
        )

    def succeed(self, task_id: str, result: dict[str, Any]) -> TransitionOutcome:
        return self._finish(
            task_id,
            TaskStatus.SUCCESS,
            [TaskStatus.PROCESSING],
            result=result,
            error=None,
            progress=1.0,
        )

    def schedule_retry(
        self, task_id: str, error: dict[str, Any], next_retry_at: str
    ) -> TransitionOutcome:
        return self.transition(
            task_id,
            TaskStatus.RETRYING,
            allowed_from=[TaskStatus.PROCESSING],
            error=error,
            next_retry_at=next_retry_at,
        )

    def fail(self, task_id: str, error: dict[str, Any]) -> TransitionOutcome:
        return self._finish(task_id, TaskStatus.FAILED, _UNFINISHED, error=error)

    def cancel(self, task_id: str) -> TransitionOutcome:
        return self._finish(task_id, TaskStatus.CANCELLED, _UNFINISHED)

    def _finish(
        self, task_id: str, to: TaskStatus, allowed_from: Iterable[TaskStatus], **fields: Any
    ) -> TransitionOutcome:
        """A final status: when it ended, and no retry pending."""
        return self.transition(
            task_id,
            to,
            allowed_from=allowed_from,
            finished_at=now_iso(),
            next_retry_at=None,
            **fields,
        )

    def requeue(self, task_id: str) -> TransitionOutcome:
        """FAILED or CANCELLED back to QUEUED for a rerun.

        History and `attempts` are kept: the record counts every attempt over the task's
        life. The rerun's message starts a fresh retry budget (Celery counts its retries).
        """
        cleared: dict[str, Any] = dict.fromkeys(RERUN_CLEARS)
        return self.transition(
            task_id, TaskStatus.QUEUED, allowed_from=RERUNNABLE_STATUSES, **cleared
        )

    def list_records(
        self,
        *,
        status: str | None = None,
        task_type: str | None = None,
        priority: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        owner: str | None = None,
    ) -> tuple[list[TaskRecord], str | None]:
        """Newest first, from where `cursor` left off and with its filters; only `owner`'s
        tasks, or every owner's when None.

        Raises CursorError for a cursor not handed out here, one sent with other filters,
        or one from another owner's list.
        """
        after = decode_cursor(cursor) if cursor else None
        filters = page_filters(TaskFilters(status, task_type, priority), after, owner)
        combination = (
            filters.status or WILDCARD,
            filters.type or WILDCARD,
            filters.priority or WILDCARD,
        )
        key = (
            self.keys.index(*combination)
            if owner is None
            else self.keys.owner_index(owner, *combination)
        )
        limit = max(1, min(limit, LIST_LIMIT_MAX))
        max_score: int | str = "+inf" if after is None else after.score
        after_id = None if after is None else after.task_id
        records: list[TaskRecord] = []
        scores: dict[str, int] = {}
        offset = 0
        while len(records) <= limit:
            batch = self._redis.zrange(
                key,
                max_score,
                "-inf",
                byscore=True,
                desc=True,
                offset=offset,
                num=limit + 1,
                withscores=True,
            )
            if not batch:
                break
            offset += len(batch)
            candidates = []
            for member, score in batch:
                # Ties share a score; in descending order they come in descending id order.
                if after_id is not None and int(score) == max_score and member >= after_id:
                    continue
                candidates.append(member)
                scores[member] = int(score)
            fetched = self._get_many(candidates)
            expired = [task_id for task_id, record in fetched if record is None]
            if expired:
                self._redis.zrem(key, *expired)
                offset -= len(expired)
            records.extend(record for _, record in fetched if record is not None)
        page = records[:limit]
        next_cursor = None
        if len(records) > limit:
            last = page[-1]
            next_cursor = encode_cursor(TaskCursor(scores[last.id], last.id, filters, owner))
        return page, next_cursor

    def _get_many(self, task_ids: list[str]) -> list[tuple[str, TaskRecord | None]]:
        if not task_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.keys.task(task_id))
            pipe.lrange(self.keys.history(task_id), 0, -1)
        raw = pipe.execute()
        return [
            (task_id, _decode_record(raw[2 * i], raw[2 * i + 1]) if raw[2 * i] else None)
            for i, task_id in enumerate(task_ids)
        ]

    def _index_keys(self, record: TaskRecord) -> list[str]:
        """Every index a new record joins: each filter combination, globally and its owner's."""
        combinations = [
            (s, t, p)
            for s in (record.status, WILDCARD)
            for t in (record.type, WILDCARD)
            for p in (record.priority, WILDCARD)
        ]
        return [self.keys.index(*c) for c in combinations] + [
            self.keys.owner_index(record.owner, *c) for c in combinations
        ]
