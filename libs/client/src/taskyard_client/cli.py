"""`taskyard`: the Taskyard API from a terminal or a script.

Exit codes (the contract's): 0 success; 1 the task did not succeed (FAILED, CANCELLED, or still
running when --timeout ran out) or the API refused the request (404, 409, 422, ...); 2 usage
(bad arguments, unreadable input, missing or wrong API key); 3 API unreachable or unavailable
(no connection, or 503/429 after every retry).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from taskyard_client.client import Client, Record
from taskyard_client.contract import PRIORITIES, STATUSES, TASK_TYPES
from taskyard_client.errors import (
    ApiError,
    ApiUnreachable,
    MethodNotAllowed,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    WaitTimeout,
)
from taskyard_client.progress import ProgressBar
from taskyard_client.version import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
# What a shell reports for a command stopped by SIGINT.
EXIT_INTERRUPTED = 130
URL_VARIABLE = "TASKYARD_URL"
API_KEY_VARIABLE = "TASKYARD_API_KEY"
# `make run` serves the API here.
DEFAULT_URL = "http://127.0.0.1:8000"
TASK_COLUMNS = ("id", "type", "priority", "status", "attempts", "created_at")
FILE_COLUMNS = ("id", "name", "size", "content_type", "created_at")
QUEUE_COLUMNS = ("name", "ready", "unacked", "consumers")
WORKER_COLUMNS = ("name", "queues", "active", "processed", "last_seen")


class UsageError(Exception):
    """The command cannot run as written (exit 2)."""


class Output:
    """Human text, or JSON for scripts (`--json`): one document, or one record a line."""

    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def document(self, value: Any, human: str) -> None:
        text = json.dumps(value) if self.as_json else human
        if text:
            print(text, file=self.stdout)

    def rows(self, records: Iterable[Record], columns: Sequence[str]) -> int:
        """A table (JSON lines with --json), printed as the records arrive; how many."""
        count = 0
        for record in records:
            if self.as_json:
                print(json.dumps(record), file=self.stdout, flush=True)
            else:
                if count == 0:
                    print("  ".join(f"{c.upper():<{_width(c)}}" for c in columns), file=self.stdout)
                print(_row(record, columns), file=self.stdout, flush=True)
            count += 1
        return count

    def note(self, message: str) -> None:
        print(message, file=self.stderr)


def _width(column: str) -> int:
    return {"id": 36, "status": 10, "name": 24, "created_at": 24, "queues": 24}.get(column, 8)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


def _row(record: Record, columns: Sequence[str]) -> str:
    return "  ".join(f"{_cell(record.get(c)):<{_width(c)}}" for c in columns).rstrip()


def _describe_task(record: Record) -> str:
    lines = [f"{name}: {_cell(record.get(name))}" for name in TASK_COLUMNS]
    lines.append(f"queue: {record.get('queue')}")
    for name in ("started_at", "finished_at", "next_retry_at", "progress", "run_at", "owner"):
        if record.get(name) is not None:
            lines.append(f"{name}: {record[name]}")
    for name in ("result", "error", "callback"):
        if record.get(name) is not None:
            lines.append(f"{name}: {json.dumps(record[name], indent=2)}")
    history = record.get("history") or []
    if history:
        lines.append("history:")
        lines.extend(f"  {entry.get('at')}  {entry.get('status')}" for entry in history)
    return "\n".join(lines)


def _task_line(record: Record) -> str:
    return _row(record, ("id", "status", "queue"))


# -- input


def _read_source(source: str, stdin: TextIO) -> str:
    if source == "-":
        return stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {source}: {error.strerror or error}") from error


def _read_payload(source: str, stdin: TextIO) -> dict[str, Any]:
    text = _read_source(source, stdin)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{_source_name(source)} is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise UsageError(f"{_source_name(source)}: the payload must be a JSON object")
    return payload


def _read_json_lines(source: str, stdin: TextIO) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(_read_source(source, stdin).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{_source_name(source)} line {number}: not JSON: {error}") from error
        if not isinstance(item, dict):
            raise UsageError(f"{_source_name(source)} line {number}: not a JSON object")
        items.append(item)
    if not items:
        raise UsageError(f"{_source_name(source)}: no task (one submit body a line)")
    return items


def _source_name(source: str) -> str:
    return "stdin" if source == "-" else source


# -- commands


def _wait(client: Client, task_id: str, args: argparse.Namespace, out: Output) -> int:
    bar = ProgressBar(out.stderr) if out.stderr.isatty() else None
    try:
        record = client.wait(
            task_id,
            timeout_seconds=args.timeout,
            on_progress=bar.update if bar else None,
        )
    except WaitTimeout as error:
        if bar:
            bar.finish()
        out.note(f"taskyard: {error}")
        last_seen = error.record
        out.document(last_seen, _describe_task(last_seen))
        return EXIT_FAILED
    if bar:
        bar.finish()
    out.document(record, _describe_task(record))
    return EXIT_OK if record["status"] == "SUCCESS" else EXIT_FAILED


def cmd_submit(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    payload = _read_payload(args.payload, stdin)
    record = client.submit(
        args.type,
        payload,
        priority=args.priority,
        max_retries=args.max_retries,
        idempotency_key=args.idempotency_key,
        run_at=args.run_at,
        delay_seconds=args.delay_seconds,
        timeout_seconds=args.time_limit,
        callback_url=args.callback_url,
    )
    if args.wait:
        if not out.as_json:
            print(record["id"] if args.quiet else _task_line(record), file=out.stdout, flush=True)
        return _wait(client, record["id"], args, out)
    out.document(record, record["id"] if args.quiet else _task_line(record))
    return EXIT_OK


def cmd_batch(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    records = client.submit_batch(_read_json_lines(args.input, stdin))
    if args.quiet and not out.as_json:
        print("\n".join(record["id"] for record in records), file=out.stdout)
    else:
        out.rows(records, ("id", "status", "queue"))
    return EXIT_OK


def cmd_get(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    record = client.get(args.task_id)
    out.document(record, _describe_task(record))
    return EXIT_OK


def cmd_wait(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    return _wait(client, args.task_id, args, out)


def cmd_list(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    filters = {"status": args.status, "task_type": args.type, "priority": args.priority}
    if args.all:
        out.rows(client.list(**filters), TASK_COLUMNS)
        return EXIT_OK
    page = client.list_page(**filters, limit=args.limit, cursor=args.cursor)
    out.rows(page.items, TASK_COLUMNS)
    if page.next_cursor and not out.as_json:
        out.note(f"more: --cursor {page.next_cursor} (or --all)")
    return EXIT_OK


def cmd_cancel(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    record = client.cancel(args.task_id)
    out.document(record, _task_line(record))
    return EXIT_OK


def cmd_retry(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    if args.all_failed == bool(args.task_id):
        raise UsageError("retry takes one task id or --all-failed (one of the two)")
    if args.task_id:
        if args.type or args.priority:
            raise UsageError("--type and --priority go with --all-failed")
        record = client.retry(args.task_id)
        out.document(record, _task_line(record))
        return EXIT_OK
    count = out.rows(
        client.retry_failed(task_type=args.type, priority=args.priority), ("id", "status", "queue")
    )
    if not out.as_json:
        out.note(f"{count} failed task(s) queued again")
    return EXIT_OK


def cmd_files_upload(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    for path in args.paths:
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    uploads = (client.upload(path) for path in args.paths)
    if args.quiet and not out.as_json:
        for info in uploads:
            print(info["id"], file=out.stdout, flush=True)
    else:
        out.rows(uploads, FILE_COLUMNS)
    return EXIT_OK


def cmd_files_download(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    target = client.download(args.file_id, args.output)
    out.document({"id": args.file_id, "path": str(target)}, str(target))
    return EXIT_OK


def cmd_files_list(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    try:
        out.rows(client.list_files(), FILE_COLUMNS)
    except MethodNotAllowed as error:
        raise _unsupported(client, "GET /api/files") from error
    return EXIT_OK


def cmd_files_rm(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    for file_id in args.file_ids:
        try:
            client.delete_file(file_id)
        except MethodNotAllowed as error:
            raise _unsupported(client, "DELETE /api/files/<id>") from error
        out.document({"id": file_id, "deleted": True}, f"{file_id} deleted")
    return EXIT_OK


def cmd_queues(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    queues = client.queues()
    if out.as_json:
        out.document({"queues": queues}, "")
    else:
        out.rows(queues, QUEUE_COLUMNS)
    return EXIT_OK


def cmd_workers(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    workers = client.workers()
    if out.as_json:
        out.document({"workers": workers}, "")
    elif not out.rows(workers, WORKER_COLUMNS):
        out.note("no worker is running")
    return EXIT_OK


class Unsupported(Exception):
    """The server answers 405 for the route: it predates that operation (exit 1)."""


def _unsupported(client: Client, operation: str) -> Unsupported:
    return Unsupported(
        f"the API at {client.base_url} does not offer {operation} yet (it answered 405); "
        "upgrade the server to use this command"
    )


# -- the parser


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

    submit = command("submit", cmd_submit, "submit a task (payload JSON from a file or stdin)")
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

    batch = command("batch", cmd_batch, "submit many tasks: JSON lines, one submit body a line")
    batch.add_argument("input", nargs="?", default="-", help="JSON lines file, or - for stdin")
    _quiet_option(batch)

    get = command("get", cmd_get, "show one task")
    get.add_argument("task_id")

    wait = command("wait", cmd_wait, "wait until a task ends; exit 0 only on SUCCESS")
    wait.add_argument("task_id")
    _timeout_option(wait)

    listing = command("list", cmd_list, "list tasks, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--type", choices=TASK_TYPES)
    listing.add_argument("--priority", choices=PRIORITIES)
    listing.add_argument("--limit", type=int, default=50, help="tasks on one page (1-200)")
    listing.add_argument("--cursor", help="the page after the one that printed this cursor")
    listing.add_argument("--all", action="store_true", help="every page")

    cancel = command("cancel", cmd_cancel, "cancel a task that has not finished")
    cancel.add_argument("task_id")

    retry = command("retry", cmd_retry, "run a FAILED or CANCELLED task again")
    retry.add_argument("task_id", nargs="?")
    retry.add_argument("--all-failed", action="store_true", help="every FAILED task")
    retry.add_argument("--type", choices=TASK_TYPES, help="with --all-failed: only this type")
    retry.add_argument("--priority", choices=PRIORITIES, help="with --all-failed")

    files = command("files", _files_usage, "upload, download, list and delete files")
    file_commands = files.add_subparsers(dest="files_command", metavar="FILES_COMMAND")
    upload = command("upload", cmd_files_upload, "upload files", file_commands)
    upload.add_argument("paths", nargs="+")
    _quiet_option(upload, "file ids")
    download = command("download", cmd_files_download, "download a file", file_commands)
    download.add_argument("file_id")
    download.add_argument(
        "-o", "--output", default=".", help="file or folder to write (default: here)"
    )
    command("list", cmd_files_list, "list your files", file_commands)
    remove = command("rm", cmd_files_rm, "delete files", file_commands)
    remove.add_argument("file_ids", nargs="+")

    command("queues", cmd_queues, "depth and consumers of every queue")
    command("workers", cmd_workers, "live workers")
    return parser


def _files_usage(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    raise UsageError("files needs a command: upload, download, list or rm")


def exit_code(error: BaseException) -> int:
    """The contract's exit code for what stopped a command."""
    if isinstance(error, UsageError | Unauthorized):
        return EXIT_USAGE
    if isinstance(error, ServiceUnavailable | RateLimited | ApiUnreachable):
        return EXIT_UNREACHABLE
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILED


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
