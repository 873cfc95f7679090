"""`taskyard-file-worker --priority high|normal|low`: consume file.<priority>."""

from taskyard_common.worker_main import start_worker
from taskyard_file_worker.tasks import process_file


def main() -> None:
    start_worker("file", process_file)


if __name__ == "__main__":
    main()
