"""`taskyard-admin`: operator commands run beside the API (same settings, same storage).

    taskyard-admin purge-expired [--as-of 2030-01-01T00:00:00Z]

deletes every upload and task output whose expires_at has passed (one log line a
file) and prints how many it deleted. The chart runs it as a CronJob, `make run`
hourly. Exit codes: 0 done, 1 the storage failed, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from taskyard_common.logs import configure_logging, get_logger
from taskyard_common.settings import get_settings
from taskyard_common.storage import FileStore, StorageMisconfigured, StorageUnavailable

log = get_logger("taskyard.admin")


def time_with_zone(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. a trailing Z")
    return moment


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="taskyard-admin", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    purge = commands.add_parser("purge-expired", help="delete files whose expires_at has passed")
    purge.add_argument(
        "--as-of",
        type=time_with_zone,
        default=None,
        metavar="TIME",
        help="delete what has expired by this ISO 8601 time (default: now)",
    )
    return top


def purge_expired(store: FileStore, as_of: datetime | None) -> int:
    deleted = 0
    for stored in store.purge_expired(as_of):
        deleted += 1
        log.info("file_expired", file_id=stored.id, expires_at=stored.expires_at)
    return deleted


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings)
    try:
        deleted = purge_expired(FileStore.from_settings(settings), arguments.as_of)
    except (StorageUnavailable, StorageMisconfigured) as error:
        log.error("purge_failed", error=str(error))
        return 1
    log.info("purge_done", deleted=deleted)
    print(f"{deleted} expired files deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
