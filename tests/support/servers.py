"""Where the real servers are, and what a test does when they are missing.

Locally a missing RabbitMQ or Redis skips the test; with CI set it fails it,
so a CI run can never pass by skipping.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import pytest

RABBITMQ_HOST = os.environ.get("TASKYARD_TEST_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("TASKYARD_TEST_RABBITMQ_PORT", "5672"))
RABBITMQ_MANAGEMENT_PORT = int(os.environ.get("TASKYARD_TEST_RABBITMQ_MANAGEMENT_PORT", "15672"))
REDIS_HOST = os.environ.get("TASKYARD_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TASKYARD_TEST_REDIS_PORT", "6379"))


@dataclass(frozen=True)
class Endpoints:
    """Where a stack finds its RabbitMQ (AMQP and management) and its Redis."""

    rabbitmq_host: str = RABBITMQ_HOST
    amqp_port: int = RABBITMQ_PORT
    management_port: int = RABBITMQ_MANAGEMENT_PORT
    redis_host: str = REDIS_HOST
    redis_port: int = REDIS_PORT
    # Every member's ports when RabbitMQ is a cluster (clients get them all, to fail over);
    # empty for a single node.
    cluster_amqp_ports: tuple[int, ...] = ()
    cluster_management_ports: tuple[int, ...] = ()

    def broker_url(self, vhost: str) -> str:
        ports = self.cluster_amqp_ports or (self.amqp_port,)
        return ";".join(f"amqp://guest:guest@{self.rabbitmq_host}:{port}/{vhost}" for port in ports)

    def management_url(self) -> str:
        ports = self.cluster_management_ports or (self.management_port,)
        return ";".join(f"http://guest:guest@{self.rabbitmq_host}:{port}" for port in ports)


DEFAULT_ENDPOINTS = Endpoints()


def listening(host: str, port: int, timeout_seconds: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_seconds):
            return True
    except OSError:
        return False


def missing_server(what: str) -> None:
    message = f"{what} is not reachable"
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI is set: integration tests must run", pytrace=False)
    pytest.skip(message)


def require_servers(endpoints: Endpoints = DEFAULT_ENDPOINTS) -> None:
    for name, host, port in (
        ("RabbitMQ", endpoints.rabbitmq_host, endpoints.amqp_port),
        ("RabbitMQ management", endpoints.rabbitmq_host, endpoints.management_port),
        ("Redis", endpoints.redis_host, endpoints.redis_port),
    ):
        if not listening(host, port):
            missing_server(f"{name} on {host}:{port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
