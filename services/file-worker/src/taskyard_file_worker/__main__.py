"""`taskyard-file-worker --priority high|normal|low`: consume file.<priority>."""

import sys

from taskyard_common.task_runtime import run_worker

from taskyard_file_worker.app import app


def main() -> None:
    run_worker(app, "file", sys.argv[1:])


if __name__ == "__main__":
    main()
