"""`taskyard-callback-worker [celery worker options]`: consume the callbacks queue."""

from taskyard_common.worker_main import start_callback_worker


def main() -> None:
    start_callback_worker("taskyard_callback_worker.app")


if __name__ == "__main__":
    main()
