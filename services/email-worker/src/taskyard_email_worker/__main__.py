"""`taskyard-email-worker --priority high|normal|low`: consume email.<priority>."""

from taskyard_common.worker_main import start_worker


def main() -> None:
    start_worker("email", "taskyard_email_worker.app")


if __name__ == "__main__":
    main()
