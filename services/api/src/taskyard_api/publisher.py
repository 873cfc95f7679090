"""Publishing tasks: Celery protocol 2 messages put back to back on one channel, then one
wait until RabbitMQ has confirmed (or refused) every one of them.

Celery's own `send_task` with `confirm_publish` waits for each message's confirm before
the next is sent: a round trip per task. Here a channel in confirm mode takes the whole
batch, and the acks (often one `multiple` ack for many messages) are collected after.
"""

from __future__ import annotations

import contextlib
import queue
import select
import time
from collections.abc import Iterator, Sequence
from datetime import datetime

import amqp
import kombu
from celery import Celery
from kombu.exceptions import KombuError
from kombu.transport.native_delayed_delivery import (
    MAX_LEVEL,
    bind_queue_to_native_delayed_delivery_exchange,
    calculate_routing_key,
    declare_native_delayed_delivery_exchanges_and_queues,
    level_name,
)

from taskyard_common import topology
from taskyard_common.celery_app import (
    BROKER_CONNECT_TIMEOUT_SECONDS,
    PUBLISH_RETRY_MAX_SECONDS,
    task_reprs,
)
from taskyard_common.clock import utc_now
from taskyard_common.records import TaskRecord, TaskStatus
from taskyard_common.schedule import broker_delay_seconds
from taskyard_common.settings import Settings
from taskyard_common.status_store import NewTask

CONFIRM_TIMEOUT_SECONDS = 10.0
CONNECT_RETRIES = 2
IDLE_PROBE_SECONDS = 0.001
PERSISTENT = 2
_QUEUES = {q.name: q for q in topology.kombu_queues()}
# Every delay enters at the top level, which routes it down by the bits of its routing key.
DELAY_ENTRY_EXCHANGE = level_name(MAX_LEVEL)


def scheduled_run_at(record: TaskRecord) -> datetime | None:
    """When a SCHEDULED record's message is due; None for every other record (a rerun of a
    cancelled scheduled task runs at once)."""
    if record.status is not TaskStatus.SCHEDULED or record.run_at is None:
        return None
    return datetime.fromisoformat(record.run_at)


class PublishFailed(Exception):
    """Some messages were not confirmed; `confirmed[i]` tells which ones were."""

    def __init__(self, confirmed: list[bool], cause: BaseException | str) -> None:
        super().__init__(str(cause))
        self.confirmed = confirmed
        self.cause = cause


class ConfirmTracker:
    """Which of a batch's messages RabbitMQ has acked (True) or nacked (False) so far.

    The batch's messages carry the delivery tags first_tag, first_tag + 1, ...; an ack or
    nack with `multiple` settles every tag up to its own.
    """

    def __init__(self, first_tag: int, count: int) -> None:
        self.first_tag = first_tag
        self.outcomes: list[bool | None] = [None] * count
        self.unsettled = count
        self._lowest_open = 0

    def settle(self, delivery_tag: int, multiple: bool, confirmed: bool) -> None:
        last = delivery_tag - self.first_tag
        first = self._lowest_open if multiple else last
        outcomes = self.outcomes
        for index in range(max(first, 0), min(last + 1, len(outcomes))):
            if outcomes[index] is None:
                outcomes[index] = confirmed
                self.unsettled -= 1
        while self._lowest_open < len(outcomes) and outcomes[self._lowest_open] is not None:
            self._lowest_open += 1

    def confirmed(self) -> list[bool]:
        return [outcome is True for outcome in self.outcomes]


class _ConfirmChannel:
    """One connection with one channel in confirm mode, used by one request at a time.

    Delivery tags count the channel's publishes from 1, so the channel remembers how many
    it has sent; an ack for tag t with `multiple` confirms every tag up to t.
    """

    def __init__(self, broker_url: str) -> None:
        # No heartbeats: nothing would send them between requests, and RabbitMQ would then
        # close an idle connection. confirm_publish stays off: confirms are collected here.
        self.connection = kombu.Connection(
            broker_url, connect_timeout=BROKER_CONNECT_TIMEOUT_SECONDS, heartbeat=0
        )
        self._producer: kombu.Producer | None = None
        self._delays_declared = False
        self._sent = 0
        self._tracker = ConfirmTracker(1, 0)

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return (
            *self.connection.connection_errors,
            *self.connection.channel_errors,
            amqp.exceptions.AMQPError,
            KombuError,
            OSError,
        )

    def _closed_by_broker(self) -> bool:
        """Whether RabbitMQ closed the idle connection (it restarted, say): found before
        anything is sent on it, so nothing can have reached the broker yet."""
        sock = self.connection.connection.sock
        if sock is None:
            return True
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            self.connection.drain_events(timeout=IDLE_PROBE_SECONDS)
        except TimeoutError:
            return False
        except self.errors:
            return True
        return False

    def _open(self) -> kombu.Producer:
        if self._producer is not None and self._closed_by_broker():
            self.reset()
        if self._producer is None:
            self.connection.ensure_connection(
                max_retries=CONNECT_RETRIES, interval_max=PUBLISH_RETRY_MAX_SECONDS
            )
            channel = self.connection.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._sent = 0
            self._delays_declared = False
            self._producer = kombu.Producer(channel, auto_declare=False)
        return self._producer

    def _declare_delays(self, celery: Celery) -> None:
        """The delay exchanges and queues, and every task queue's binding to them, once per
        connection: the workers declare them too, but a scheduled task may come before any
        worker has started, and a delayed message with nowhere to go is dropped."""
        if self._delays_declared:
            return
        declare_native_delayed_delivery_exchanges_and_queues(
            self.connection, celery.conf.broker_native_delayed_delivery_queue_type
        )
        # A binding needs its queue: declared here, before any worker may have.
        with self.connection.channel() as channel:
            for task_queue in _QUEUES.values():
                task_queue.bind(channel).declare()
        for task_queue in _QUEUES.values():
            bind_queue_to_native_delayed_delivery_exchange(self.connection, task_queue)
        self._delays_declared = True

    def reset(self) -> None:
        """Drop the connection: acks still in flight on it must not count for a later batch."""
        self._producer = None
        with contextlib.suppress(*self.errors):
            self.connection.close()

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._tracker.settle(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._tracker.settle(delivery_tag, multiple, False)

    def publish(self, celery: Celery, settings: Settings, tasks: Sequence[NewTask]) -> list[bool]:
        """Publish every task, then wait once for all confirms; raises PublishFailed."""
        # Settles nothing until the channel is open and the batch's first tag known.
        self._tracker = ConfirmTracker(0, len(tasks))
        try:
            producer = self._open()
            if any(scheduled_run_at(new.record) for new in tasks):
                self._declare_delays(celery)
            self._tracker.first_tag = self._sent + 1
            for new in tasks:
                self._send(celery, settings, producer, new)
                self._sent += 1
            deadline = time.monotonic() + CONFIRM_TIMEOUT_SECONDS
            while self._tracker.unsettled:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no confirm from RabbitMQ in {CONFIRM_TIMEOUT_SECONDS}s")
                self.connection.drain_events(timeout=remaining)
        except self.errors as error:
            self.reset()
            raise PublishFailed(self._tracker.confirmed(), error) from error
        confirmed = self._tracker.confirmed()
        if not all(confirmed):
            # A quorum queue that refused a publish tells the channel so, and a channel may
            # stay refused after the queue's limit is gone: the next batch gets a fresh one.
            self.reset()
            raise PublishFailed(confirmed, "RabbitMQ refused some messages (nack)")
        return confirmed

    @staticmethod
    def _send(celery: Celery, settings: Settings, producer: kombu.Producer, new: NewTask) -> None:
        record = new.record
        # The attempt's time limits travel with the message: the worker's prefork pool
        # enforces them, and a retry the worker publishes keeps them.
        soft_limit, hard_limit = settings.attempt_time_limits(record.type, record.timeout_seconds)
        run_at = scheduled_run_at(record)
        delay = 0 if run_at is None else broker_delay_seconds(run_at, utc_now())
        exchange, routing_key = topology.EXCHANGE_NAME, record.queue
        if delay:
            exchange = DELAY_ENTRY_EXCHANGE
            routing_key = calculate_routing_key(delay, record.queue)
        headers, properties, body, _ = celery.amqp.as_task_v2(
            record.id,
            topology.TASK_NAMES[record.type],
            kwargs={"payload": new.payload, "max_retries": record.max_retries},
            soft_time_limit=soft_limit,
            time_limit=hard_limit,
            # The worker holds a message that comes early until then: never before run_at.
            eta=run_at if delay else None,
            ignore_result=True,
            **task_reprs(record.type, record.max_retries),
        )
        producer.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            serializer="json",
            headers=headers,
            delivery_mode=PERSISTENT,
            # Declared once per connection (kombu remembers): a message to a queue that does
            # not exist yet would be confirmed and dropped.
            declare=[_QUEUES[record.queue]],
            retry=False,
            **properties,
        )


class Publisher:
    """The API process's confirm channels, one per request thread that publishes."""

    def __init__(self, celery: Celery, settings: Settings) -> None:
        self._celery = celery
        self._settings = settings
        self._broker_url = settings.broker_url.get_secret_value()
        self._idle: queue.LifoQueue[_ConfirmChannel] = queue.LifoQueue()

    @contextlib.contextmanager
    def _channel(self) -> Iterator[_ConfirmChannel]:
        try:
            channel = self._idle.get_nowait()
        except queue.Empty:
            channel = _ConfirmChannel(self._broker_url)
        try:
            yield channel
        finally:
            self._idle.put(channel)

    def publish(self, tasks: Sequence[NewTask]) -> None:
        """Returns once RabbitMQ confirmed every message; raises PublishFailed otherwise."""
        if not tasks:
            return
        with self._channel() as channel:
            channel.publish(self._celery, self._settings, tasks)
