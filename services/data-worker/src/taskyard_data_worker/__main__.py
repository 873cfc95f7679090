"""`taskyard-data-worker --priority high|normal|low`: consume data.<priority>."""

import sys

from taskyard_common.task_runtime import run_worker
from taskyard_data_worker.app import app


def main() -> None:
    run_worker(app, "data", sys.argv[1:])


if __name__ == "__main__":
    main()
