"""The Celery application every Taskyard process builds: JSON only, late acks, confirms."""

from __future__ import annotations

import copy
from typing import Any

from celery import Celery

from taskyard_common import topology
from taskyard_common.settings import Settings
from taskyard_common.unconfirmed_events import UnconfirmedEvents

# RabbitMQ drops a channel whose message stays unacked longer than its consumer_timeout;
# the chart raises it, and this keeps a running task's heartbeat well inside it.
BROKER_HEARTBEAT_SECONDS = 30
BROKER_CONNECT_TIMEOUT_SECONDS = 5
PUBLISH_RETRY_MAX_SECONDS = 2
# The read-only remote-control command workers register (worker_monitoring) and the API
# broadcasts for GET /api/workers.
STATUS_COMMAND = "taskyard_status"


# Every process's Celery settings but those that come from the topology or the environment.
CELERY_SETTINGS: dict[str, Any] = {
    "task_serializer": "json",
    "result_serializer": "json",
    "event_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": ["json"],
    # Status and results live in the Taskyard status store, not a Celery backend.
    "result_backend": None,
    "task_ignore_result": True,
    "task_store_errors_even_if_ignored": False,
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "task_acks_on_failure_or_timeout": True,
    "worker_prefetch_multiplier": 1,
    "task_default_delivery_mode": "persistent",
    "task_default_exchange": topology.EXCHANGE_NAME,
    "task_default_exchange_type": topology.EXCHANGE_TYPE,
    "task_default_queue_type": "quorum",
    "task_create_missing_queues": False,
    "task_publish_retry": True,
    "task_publish_retry_policy": {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": PUBLISH_RETRY_MAX_SECONDS,
    },
    "broker_transport_options": {"confirm_publish": True},
    "broker_connection_timeout": BROKER_CONNECT_TIMEOUT_SECONDS,
    "broker_heartbeat": BROKER_HEARTBEAT_SECONDS,
    "broker_connection_retry_on_startup": True,
    "broker_connection_max_retries": None,
    # Right after a broker restart a quorum queue can still be recovering, and declaring or
    # consuming it fails with a channel error: retry as for a lost connection, not exit.
    "broker_channel_error_retry": True,
    "broker_pool_limit": 10,
    "worker_send_task_events": True,
    "task_send_sent_event": False,
    "worker_hijack_root_logger": False,
    "worker_redirect_stdouts": False,
    # Delayed delivery declared once per cluster, not once per member URL.
    "worker_consumer": "taskyard_common.cluster_consumer:ClusterConsumer",
    # Retries wait in the broker, not as ETA tasks in the worker: an idle worker stops at once.
    "worker_enable_soft_shutdown_on_idle": False,
    "worker_cancel_long_running_tasks_on_connection_loss": True,
    "worker_enable_remote_control": True,
    "worker_disable_rate_limits": True,
    "enable_utc": True,
}


def create_celery_app(main: str, settings: Settings, *, confirm_events: bool = False) -> Celery:
    """`confirm_events=True` is Celery's own behaviour with confirm_publish, kept for the
    benchmark's baseline; Taskyard sends events unconfirmed (see unconfirmed_events)."""
    app = Celery(
        main,
        broker=settings.broker_url.get_secret_value(),
        set_as_current=True,
        events=None if confirm_events else UnconfirmedEvents,
    )
    app.conf.update(
        # Each app its own copy of the nested options, which Celery may change in place.
        copy.deepcopy(CELERY_SETTINGS),
        task_queues=topology.kombu_queues(),
        worker_concurrency=settings.worker_concurrency,
        worker_soft_shutdown_timeout=settings.worker_soft_shutdown_timeout_seconds,
    )
    return app


def task_reprs(task_type: str, max_retries: int | None) -> dict[str, str]:
    """The argsrepr and kwargsrepr publishing options: what Celery shows of a task's
    arguments in its headers, events and Flower.

    Never the payload: it can hold addresses and mail bodies, and Celery would walk it
    with saferepr on every publish.
    """
    return {
        "argsrepr": "()",
        "kwargsrepr": f"{{'payload': <{task_type}>, 'max_retries': {max_retries}}}",
    }
