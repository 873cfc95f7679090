"""`taskyard-flower`: Flower configured from the TASKYARD_* settings.

Basic auth from TASKYARD_FLOWER_BASIC_AUTH (Flower's /metrics and /healthcheck
stay open, for Prometheus and probes), a fixed cookie secret, the Broker tab fed by
the RabbitMQ management API and listing all nine queues, offline workers purged
after a minute. Extra arguments (for example --address and --port) pass straight
to Flower and win over these.
"""

from __future__ import annotations

import sys

from celery.bin.celery import celery as celery_command
from flower.views import BaseHandler

from taskyard_common import topology
from taskyard_common.celery_app import create_celery_app
from taskyard_common.logs import configure_logging, get_logger
from taskyard_common.settings import get_settings

OFFLINE_WORKER_PURGE_SECONDS = 60
settings = get_settings()
celery_app = create_celery_app("taskyard-flower", settings)
log = get_logger("taskyard.flower")
_worker_queue_names = BaseHandler.get_active_queue_names


def _taskyard_queue_names(handler: BaseHandler) -> list[str]:
    """Flower's Broker tab shows the queues live workers consume; show all nine always,
    so a queue whose workers are down (or scaled to zero by KEDA) is still in sight."""
    return sorted(set(_worker_queue_names(handler)) | set(topology.QUEUE_NAMES))


BaseHandler.get_active_queue_names = _taskyard_queue_names  # type: ignore[method-assign]


def flower_arguments(extra: list[str]) -> list[str]:
    # Flower's Broker tab takes one management API: the first member's (in Kubernetes the
    # Service, which any live member answers).
    management = settings.management_urls()[0].rstrip("/")
    arguments = [
        "--app",
        "taskyard_api.flower:celery_app",
        "flower",
        f"--broker_api={management}/api/",
        f"--purge_offline_workers={OFFLINE_WORKER_PURGE_SECONDS}",
        "--persistent=False",
    ]
    basic_auth = settings.flower_basic_auth.get_secret_value()
    if basic_auth:
        arguments.append(f"--basic_auth={basic_auth}")
    else:
        log.warning("flower_open", message="TASKYARD_FLOWER_BASIC_AUTH is empty: Flower is open")
    cookie_secret = settings.flower_cookie_secret.get_secret_value()
    if cookie_secret:
        arguments.append(f"--cookie_secret={cookie_secret}")
    return arguments + extra


def main() -> None:
    configure_logging(settings)
    celery_command.main(args=flower_arguments(sys.argv[1:]), prog_name="taskyard-flower")


if __name__ == "__main__":
    main()
