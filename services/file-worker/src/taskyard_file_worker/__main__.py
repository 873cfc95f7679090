"""`taskyard-file-worker --priority high|normal|low`: consume file.<priority>."""

from taskyard_common.worker_main import start_worker


def main() -> None:
    start_worker("file", "taskyard_file_worker.app")


if __name__ == "__main__":
    main()
