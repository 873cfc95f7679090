"""`taskyard`: the Taskyard API from a terminal or a script (exit codes: cli/exits.py)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from taskyard_client.cli import commands as handlers
from taskyard_client.cli.exits import Unsupported, UsageError, exit_code
from taskyard_client.cli.output import Output
from taskyard_client.client import Client
from taskyard_client.contract import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    PRIORITIES,
    STATUSES,
    TASK_TYPES,
)
from taskyard_client.errors import ApiError, ApiUnreachable, Unauthorized
from taskyard_client.version import __version__

URL_VARIABLE = "TASKYARD_URL"
API_KEY_VARIABLE = "TASKYARD_API_KEY"
# `make run` serves the API here.
DEFAULT_URL = "http://127.0.0.1:8000"


def _add_common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--url, --api-key and --json go before or after the command; the top level has defaults."""
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    parser.add_argument(
        "--url",
        default=default(os.environ.get(URL_VARIABLE) or DEFAULT_URL),
        help=f"the API's base URL (env {URL_VARIABLE}; default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=default(os.environ.get(API_KEY_VARIABLE)),
        help=f"the API key (env {API_KEY_VARIABLE})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print JSON (one record a line for lists) for scripts",
    )


def _timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, help="stop waiting after this many seconds (exit 1)"
    )


def _quiet_option(parser: argparse.ArgumentParser, what: str = "task ids") -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help=f"print only the {what} (for scripts)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskyard",
        description="Submit and follow Taskyard tasks.",
        epilog="exit codes: 0 success, 1 task or request failed, 2 usage, 3 API unreachable",
    )
    parser.add_argument("--version", action="version", version=f"taskyard {__version__}")
    _add_common_options(parser, top=True)
    common = argparse.ArgumentParser(add_help=False)
    _add_common_options(common, top=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[..., int], help_text: str, into: Any = commands
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = into.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    submit = command("submit", handlers.submit, "submit a task (payload JSON from a file or stdin)")
    submit.add_argument("payload", nargs="?", default="-", help="payload file, or - for stdin")
    submit.add_argument("--type", required=True, choices=TASK_TYPES)
    submit.add_argument("--priority", choices=PRIORITIES)
    submit.add_argument("--max-retries", type=int)
    submit.add_argument("--idempotency-key", help="the same key within 24 h gives the same task")
    when = submit.add_mutually_exclusive_group()
    when.add_argument("--run-at", help="run at this RFC 3339 time (with its offset)")
    when.add_argument("--delay-seconds", type=int, help="run this many seconds from now")
    submit.add_argument(
        "--time-limit",
        type=int,
        metavar="SECONDS",
        help="stop an attempt after this long (the API's timeout_seconds; below the type's limit)",
    )
    submit.add_argument("--callback-url", help="POST the record here when the task ends")
    submit.add_argument("--wait", action="store_true", help="wait for the end, with progress")
    _timeout_option(submit)
    _quiet_option(submit)

    batch = command(
        "batch", handlers.batch, "submit many tasks: JSON lines, one submit body a line"
    )
    batch.add_argument("input", nargs="?", default="-", help="JSON lines file, or - for stdin")
    _quiet_option(batch)

    get = command("get", handlers.get, "show one task")
    get.add_argument("task_id")

    wait = command("wait", handlers.wait, "wait until a task ends; exit 0 only on SUCCESS")
    wait.add_argument("task_id")
    _timeout_option(wait)

    listing = command("list", handlers.list_tasks, "list tasks, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--type", choices=TASK_TYPES)
    listing.add_argument("--priority", choices=PRIORITIES)
    listing.add_argument(
        "--limit",
        type=int,
        default=LIST_LIMIT_DEFAULT,
        help=f"tasks on one page (1-{LIST_LIMIT_MAX})",
    )
    listing.add_argument("--cursor", help="the page after the one that printed this cursor")
    listing.add_argument("--all", action="store_true", help="every page")

    cancel = command("cancel", handlers.cancel, "cancel a task that has not finished")
    cancel.add_argument("task_id")

    retry = command("retry", handlers.retry, "run a FAILED or CANCELLED task again")
    retry.add_argument("task_id", nargs="?")
    retry.add_argument("--all-failed", action="store_true", help="every FAILED task")
    retry.add_argument("--type", choices=TASK_TYPES, help="with --all-failed: only this type")
    retry.add_argument("--priority", choices=PRIORITIES, help="with --all-failed")

    files = command("files", handlers.files_usage, "upload, download, list and delete files")
    file_commands = files.add_subparsers(dest="files_command", metavar="FILES_COMMAND")
    upload = command("upload", handlers.files_upload, "upload files", file_commands)
    upload.add_argument("paths", nargs="+")
    _quiet_option(upload, "file ids")
    download = command("download", handlers.files_download, "download a file", file_commands)
    download.add_argument("file_id")
    download.add_argument(
        "-o", "--output", default=".", help="file or folder to write (default: here)"
    )
    command("list", handlers.files_list, "list your files", file_commands)
    remove = command("rm", handlers.files_rm, "delete files", file_commands)
    remove.add_argument("file_ids", nargs="+")

    command("queues", handlers.queues, "depth and consumers of every queue")
    command("workers", handlers.workers, "live workers")
    return parser


def _report(error: BaseException, out: Output) -> None:
    if isinstance(error, ApiUnreachable):
        out.note(f"taskyard: cannot reach the API: {error}")
    elif isinstance(error, KeyboardInterrupt):
        out.note("taskyard: interrupted")
    else:
        out.note(f"taskyard: {error}")
    if isinstance(error, ApiError):
        for detail in error.details:
            where = ".".join(str(part) for part in detail.get("loc", []))
            out.note(f"  {where}: {detail.get('msg')}")
    if isinstance(error, Unauthorized):
        out.note(f"taskyard: set {API_KEY_VARIABLE} or --api-key to a key the API accepts")


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    client_factory: Callable[[str, str | None], Client] = Client,
) -> int:
    """Run one command; its exit code. `client_factory` lets tests answer without a server."""
    stdin = stdin or sys.stdin
    out = Output(False, stdout or sys.stdout, stderr or sys.stderr)
    args = build_parser().parse_args(argv)
    out.as_json = args.json
    try:
        with client_factory(args.url, args.api_key) as client:
            code: int = args.handler(client, args, out, stdin)
            return code
    except (UsageError, Unsupported, ApiError, ApiUnreachable, KeyboardInterrupt) as error:
        _report(error, out)
        return exit_code(error)
