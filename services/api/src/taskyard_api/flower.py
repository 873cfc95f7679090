"""`taskyard-flower`: Flower configured from the TASKYARD_* settings.

Extra arguments (for example --address and --port) pass straight to Flower.
"""

from __future__ import annotations

import sys

from celery.bin.celery import celery as celery_command

from taskyard_common.celery_app import create_celery_app
from taskyard_common.logs import configure_logging, get_logger
from taskyard_common.settings import get_settings

OFFLINE_WORKER_PURGE_SECONDS = 60
settings = get_settings()
celery_app = create_celery_app("taskyard-flower", settings)
log = get_logger("taskyard.flower")


def flower_arguments(extra: list[str]) -> list[str]:
    management = settings.rabbitmq_management_url.get_secret_value().rstrip("/")
    arguments = [
        "--app", "taskyard_api.flower:celery_app",
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
