"""The callback worker's Celery application (`celery -A taskyard_callback_worker.app`)."""

from taskyard_callback_worker.tasks import register_deliver
from taskyard_common import worker_heartbeat
from taskyard_common.celery_app import create_celery_app
from taskyard_common.logs import configure_logging
from taskyard_common.settings import get_settings

settings = get_settings()
configure_logging(settings)
if not settings.callback_signing_secret.get_secret_value():
    raise SystemExit("TASKYARD_CALLBACK_SIGNING_SECRET is not set: callbacks cannot be signed")
app = create_celery_app("taskyard-callback-worker", settings)
worker_heartbeat.install(app, settings)
deliver = register_deliver(app, settings)
