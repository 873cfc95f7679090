"""`taskyard-data-worker --priority high|normal|low`: consume data.<priority>."""

from taskyard_common.worker_main import start_worker
from taskyard_data_worker.polars_threads import share_cores_with_the_pool
from taskyard_data_worker.tasks import process_data


def main() -> None:
    start_worker("data", process_data, on_start=share_cores_with_the_pool)


if __name__ == "__main__":
    main()
