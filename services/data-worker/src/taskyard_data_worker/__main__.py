"""`taskyard-data-worker --priority high|normal|low`: consume data.<priority>."""

from taskyard_common.worker_main import start_worker
from taskyard_data_worker.tasks import process_data


def main() -> None:
    start_worker("data", process_data)
