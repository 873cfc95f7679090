"""`taskyard-data-worker --priority high|normal|low`: consume data.<priority>."""

from taskyard_common.worker_main import start_worker


def main() -> None:
    start_worker("data", "taskyard_data_worker.app")


if __name__ == "__main__":
    main()
