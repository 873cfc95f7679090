"""The connections one API process shares between requests, built once in create_app."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from flask import current_app

from taskyard_api.publisher import Publisher
from taskyard_common.callbacks.enqueue import CallbackRequests
from taskyard_common.celery_app import create_celery_app
from taskyard_common.settings import Settings
from taskyard_common.status_store import StatusStore
from taskyard_common.storage import FileStore

EXTENSION_KEY = "taskyard"


@dataclass
class Services:
    settings: Settings
    store: StatusStore
    files: FileStore
    celery: Celery
    publisher: Publisher
    api_keys: dict[str, str]  # key name -> key
    admin_key_names: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        api_keys = settings.named_api_keys()
        celery = create_celery_app("taskyard-api", settings)
        return cls(
            settings=settings,
            store=StatusStore.from_url(
                settings.redis_url.get_secret_value(),
                settings.result_ttl_seconds,
                settings.idempotency_ttl_seconds,
                on_final=CallbackRequests(celery),
                max_schedule_seconds=settings.max_schedule_seconds,
            ),
            files=FileStore.from_settings(settings),
            celery=celery,
            publisher=Publisher(celery, settings),
            api_keys=api_keys,
            admin_key_names=settings.admin_key_names(api_keys),
        )


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
