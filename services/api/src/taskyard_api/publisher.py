"""Publishing a task: by name onto its queue, with publisher confirms, or a clean 503."""

from __future__ import annotations

from typing import Any

from amqp.exceptions import MessageNacked
from kombu.exceptions import KombuError, OperationalError

from taskyard_api.errors import BackendUnavailable
from taskyard_api.services import Services
from taskyard_common import topology
from taskyard_common.celery_app import task_reprs
from taskyard_common.records import TaskRecord


def publish(services: Services, record: TaskRecord, payload: dict[str, Any]) -> None:
    """Returns once RabbitMQ has confirmed the message (confirm_publish), else raises 503.

    A connection lost before the confirm is retried (task_publish_retry) on the next broker
    URL; a message the broker refuses (basic.nack, e.g. a quorum queue without a majority)
    was not accepted either: 503, never 202. The message carries the attempt's time limits,
    which the worker's prefork pool enforces (and a retry the worker publishes keeps).
    """
    soft_limit, hard_limit = services.settings.attempt_time_limits(
        record.type, record.timeout_seconds
    )
    try:
        services.celery.send_task(
            topology.TASK_NAMES[record.type],
            kwargs={"payload": payload, "max_retries": record.max_retries},
            task_id=record.id,
            queue=record.queue,
            routing_key=record.queue,
            exchange=topology.EXCHANGE_NAME,
            ignore_result=True,
            soft_time_limit=soft_limit,
            time_limit=hard_limit,
            **task_reprs(record.type, record.max_retries),
        )
    except (OperationalError, KombuError, MessageNacked, OSError, ConnectionError) as error:
        raise BackendUnavailable("rabbitmq", error) from error
