"""`taskyard-email-worker --priority high|normal|low`: consume email.<priority>."""

from taskyard_common.worker_main import start_worker
from taskyard_email_worker.tasks import send_email, warn_when_smtp_unset


def main() -> None:
    start_worker("email", send_email, on_start=warn_when_smtp_unset)


if __name__ == "__main__":
    main()
