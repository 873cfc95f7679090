"""The file worker's Celery application (`celery -A taskyard_file_worker.app`)."""

from taskyard_common.celery_app import create_celery_app
from taskyard_common.logs import configure_logging
from taskyard_common.settings import get_settings
from taskyard_common.task_runtime import WorkerRuntime, register_task
from taskyard_file_worker.tasks import process_file

settings = get_settings()
configure_logging(settings)
app = create_celery_app("taskyard-file-worker", settings)
process = register_task(app, "file", process_file, WorkerRuntime(settings))
