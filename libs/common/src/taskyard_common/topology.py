"""Queue topology: the exchange, the nine task queues, the callbacks queue and the task names.

Queue names exist here and nowhere else; the API, the workers and the chart's
tests all take them from this module.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from kombu import Exchange, Queue

TaskType = Literal["data", "email", "file"]
Priority = Literal["high", "normal", "low"]

TASK_TYPES: Final[tuple[TaskType, ...]] = get_args(TaskType)
PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)
DEFAULT_PRIORITY: Final[Priority] = "normal"

# Topic, not direct: Celery's native delayed delivery for quorum queues needs it.
EXCHANGE_NAME: Final = "taskyard"
EXCHANGE_TYPE: Final = "topic"

TASK_NAMES: Final[dict[TaskType, str]] = {
    "data": "taskyard.data.process",
    "email": "taskyard.email.send",
    "file": "taskyard.file.process",
}


# Completion callbacks: their own queue, task and worker (taskyard-callback-worker).
CALLBACK_QUEUE_NAME: Final = "callbacks"
CALLBACK_TASK_NAME: Final = "taskyard.callback.deliver"


def queue_name(task_type: TaskType, priority: Priority) -> str:
    return f"{task_type}.{priority}"


QUEUE_NAMES: Final[tuple[str, ...]] = tuple(
    queue_name(task_type, priority) for task_type in TASK_TYPES for priority in PRIORITIES
)


def parse_queue_name(name: str) -> tuple[TaskType, Priority]:
    task_type, _, priority = name.partition(".")
    if task_type not in TASK_TYPES or priority not in PRIORITIES:
        raise ValueError(f"not a Taskyard queue: {name!r}")
    return task_type, priority  # type: ignore[return-value]


def queue_from_routing_key(routing_key: str | None) -> str | None:
    """The queue a message was routed by; a delayed retry's key has the delay bits in front
    ("0.1.0.data.high"). None for anything that is not one of the nine."""
    name = ".".join((routing_key or "").split(".")[-2:])
    try:
        parse_queue_name(name)
    except ValueError:
        return None
    return name


def exchange() -> Exchange:
    return Exchange(EXCHANGE_NAME, type=EXCHANGE_TYPE, durable=True)


def _durable_queue(name: str, taskyard_exchange: Exchange) -> Queue:
    return Queue(
        name,
        taskyard_exchange,
        routing_key=name,
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )


def callback_queue() -> Queue:
    return _durable_queue(CALLBACK_QUEUE_NAME, exchange())


def kombu_queues() -> list[Queue]:
    """The nine task queues and the callbacks queue: durable quorum queues, each bound by its
    own name as routing key."""
    taskyard_exchange = exchange()
    return [_durable_queue(name, taskyard_exchange) for name in QUEUE_NAMES] + [
        _durable_queue(CALLBACK_QUEUE_NAME, taskyard_exchange)
    ]
