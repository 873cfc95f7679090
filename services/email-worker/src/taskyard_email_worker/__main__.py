"""`taskyard-email-worker --priority high|normal|low`: consume email.<priority>."""

import sys

from taskyard_common.task_runtime import run_worker

from taskyard_email_worker.app import app


def main() -> None:
    run_worker(app, "email", sys.argv[1:])


if __name__ == "__main__":
    main()
