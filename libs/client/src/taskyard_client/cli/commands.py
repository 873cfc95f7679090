"""The command handlers: each gets the client, its arguments, the output and stdin, and
gives the exit code."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from taskyard_client.cli.exits import EXIT_FAILED, EXIT_OK, Unsupported, UsageError
from taskyard_client.cli.inputs import read_json_lines, read_payload
from taskyard_client.cli.output import (
    FILE_COLUMNS,
    QUEUE_COLUMNS,
    TASK_COLUMNS,
    TASK_LINE_COLUMNS,
    WORKER_COLUMNS,
    Output,
    describe_task,
    task_line,
)
from taskyard_client.client import Client, Record, Records
from taskyard_client.errors import MethodNotAllowed, WaitTimeout
from taskyard_client.progress import ProgressBar


def _show(out: Output, record: Record, describe: Callable[[Record], str]) -> int:
    out.document(record, describe(record))
    return EXIT_OK


def _wait_and_show(client: Client, task_id: str, args: argparse.Namespace, out: Output) -> int:
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
        out.document(last_seen, describe_task(last_seen))
        return EXIT_FAILED
    if bar:
        bar.finish()
    out.document(record, describe_task(record))
    return EXIT_OK if record["status"] == "SUCCESS" else EXIT_FAILED


def submit(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    payload = read_payload(args.payload, stdin)
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
            print(record["id"] if args.quiet else task_line(record), file=out.stdout, flush=True)
        return _wait_and_show(client, record["id"], args, out)
    out.document(record, record["id"] if args.quiet else task_line(record))
    return EXIT_OK


def batch(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    records = client.submit_batch(read_json_lines(args.input, stdin))
    if args.quiet and not out.as_json:
        print("\n".join(record["id"] for record in records), file=out.stdout)
    else:
        out.rows(records, TASK_LINE_COLUMNS)
    return EXIT_OK


def get(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    return _show(out, client.get(args.task_id), describe_task)


def wait(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    return _wait_and_show(client, args.task_id, args, out)


def list_tasks(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    filters = {"status": args.status, "task_type": args.type, "priority": args.priority}
    if args.all:
        out.rows(client.list(**filters), TASK_COLUMNS)
        return EXIT_OK
    page = client.list_page(**filters, limit=args.limit, cursor=args.cursor)
    out.rows(page.items, TASK_COLUMNS)
    if page.next_cursor and not out.as_json:
        out.note(f"more: --cursor {page.next_cursor} (or --all)")
    return EXIT_OK


def cancel(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    return _show(out, client.cancel(args.task_id), task_line)


def retry(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    if args.all_failed == bool(args.task_id):
        raise UsageError("retry takes one task id or --all-failed (one of the two)")
    if args.task_id:
        if args.type or args.priority:
            raise UsageError("--type and --priority go with --all-failed")
        return _show(out, client.retry(args.task_id), task_line)
    count = out.rows(
        client.retry_failed(task_type=args.type, priority=args.priority), TASK_LINE_COLUMNS
    )
    if not out.as_json:
        out.note(f"{count} failed task(s) queued again")
    return EXIT_OK


def files_upload(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
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


def files_download(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    target = client.download(args.file_id, args.output)
    out.document({"id": args.file_id, "path": str(target)}, str(target))
    return EXIT_OK


def files_list(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    try:
        out.rows(client.list_files(), FILE_COLUMNS)
    except MethodNotAllowed as error:
        raise _unsupported(client, "GET /api/files") from error
    return EXIT_OK


def files_rm(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    for file_id in args.file_ids:
        try:
            client.delete_file(file_id)
        except MethodNotAllowed as error:
            raise _unsupported(client, "DELETE /api/files/<id>") from error
        out.document({"id": file_id, "deleted": True}, f"{file_id} deleted")
    return EXIT_OK


def queues(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    return _listing(out, "queues", client.queues(), QUEUE_COLUMNS)


def workers(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    return _listing(out, "workers", client.workers(), WORKER_COLUMNS, "no worker is running")


def _listing(
    out: Output, name: str, items: Records, columns: Sequence[str], when_empty: str | None = None
) -> int:
    """A table, or the API's `{name: items}` document with --json."""
    if out.as_json:
        out.document({name: items}, "")
    elif not out.rows(items, columns) and when_empty:
        out.note(when_empty)
    return EXIT_OK


def _unsupported(client: Client, operation: str) -> Unsupported:
    return Unsupported(
        f"the API at {client.base_url} does not offer {operation} yet (it answered 405); "
        "upgrade the server to use this command"
    )


def files_usage(client: Client, args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    raise UsageError("files needs a command: upload, download, list or rm")
