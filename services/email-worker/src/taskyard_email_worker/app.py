"""The email worker's Celery application (`celery -A taskyard_email_worker.app`)."""

from taskyard_common.celery_app import create_celery_app
from taskyard_common.logs import configure_logging, get_logger
from taskyard_common.settings import get_settings
from taskyard_common.task_runtime import WorkerRuntime, register_task
from taskyard_email_worker.tasks import send_email

settings = get_settings()
configure_logging(settings)
app = create_celery_app("taskyard-email-worker", settings)
send = register_task(app, "email", send_email, WorkerRuntime(settings))

if not settings.smtp_host.strip():
    get_logger("taskyard.email").warning(
        "smtp_not_configured", hint="set TASKYARD_SMTP_HOST; email tasks fail until then"
    )
