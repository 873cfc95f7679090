"""The `taskyard` console script, run as a subprocess against a real stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.servers import free_port
from support.stack import Stack

from .conftest import Cli

pytestmark = pytest.mark.integration

SALES = {"input": {"records": [{"region": "eu", "amount": 10}, {"region": "us", "amount": 3}]}}
FAILS = {**SALES, "operations": [{"op": "select", "columns": ["nope"]}]}


def write_json(path: Path, value: object) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def lines_of_json(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_submit_from_a_file_and_from_stdin_then_wait_and_get(cli: Cli, tmp_path: Path) -> None:
    submitted = cli(
        "submit",
        "--type",
        "data",
        "--priority",
        "high",
        "--json",
        write_json(tmp_path / "sales.json", SALES),
    )
    assert submitted.returncode == 0, submitted.stderr
    task = json.loads(submitted.stdout)
    assert (task["status"], task["queue"]) == ("QUEUED", "data.high")

    waited = cli("wait", str(task["id"]), "--json")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "SUCCESS"

    piped = cli("submit", "--type", "data", "--wait", "--json", input_text=json.dumps(SALES))
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["result"]["row_count"] == 2
    assert "\r" not in piped.stderr  # no progress bar when stderr is not a terminal

    shown = cli("get", str(task["id"]))
    assert shown.returncode == 0
    assert "status: SUCCESS" in shown.stdout
    assert '"row_count": 2' in shown.stdout
    assert shown.stdout.rstrip().endswith("SUCCESS")  # the history, last transition last


def test_quiet_submit_prints_only_the_id_for_scripts(cli: Cli, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "sales.json", SALES)
    submitted = cli("submit", "-q", "--type", "data", payload, "--idempotency-key", "cli-q-1")
    task_id = submitted.stdout.strip()
    assert len(task_id) == 36 and submitted.returncode == 0
    again = cli("submit", "-q", "--type", "data", payload, "--idempotency-key", "cli-q-1")
    assert again.stdout.strip() == task_id


def test_list_one_page_or_all_pages_with_filters(cli: Cli, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "sales.json", SALES)
    ids = {
        cli("submit", "-q", "--type", "data", "--priority", "high", payload).stdout.strip()
        for _ in range(3)
    }

    page = cli("list", "--type", "data", "--priority", "high", "--limit", "1")
    assert page.returncode == 0, page.stderr
    header, *rows = page.stdout.splitlines()
    assert header.split() == ["ID", "TYPE", "PRIORITY", "STATUS", "ATTEMPTS", "CREATED_AT"]
    assert len(rows) == 1 and rows[0].split()[1:3] == ["data", "high"]
    assert "more: --cursor " in page.stderr

    every = cli("list", "--type", "data", "--priority", "high", "--all", "--limit", "1", "--json")
    listed = [record["id"] for record in lines_of_json(every.stdout)]
    assert ids <= set(listed) and len(listed) == len(set(listed))


def test_a_failed_task_exits_1_and_retry_all_failed_requeues_it(cli: Cli, tmp_path: Path) -> None:
    failed = cli("submit", "--type", "data", "--wait", write_json(tmp_path / "bad.json", FAILS))
    assert failed.returncode == 1, failed.stderr
    assert "status: FAILED" in failed.stdout
    task_id = failed.stdout.split()[0]

    retried = cli("retry", "--all-failed", "--type", "data", "--json")
    assert retried.returncode == 0, retried.stderr
    assert task_id in [record["id"] for record in lines_of_json(retried.stdout)]
    assert cli("wait", task_id).returncode == 1

    none = cli("retry", "--all-failed", "--type", "email")
    assert (none.returncode, none.stderr.strip()) == (0, "0 failed task(s) queued again")


def test_cancel_and_retry_and_their_refusals(cli: Cli, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "sales.json", SALES)
    # data.low has no worker: the task stays QUEUED until cancelled
    task_id = cli("submit", "-q", "--type", "data", "--priority", "low", payload).stdout.strip()

    cancelled = cli("cancel", task_id)
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout
    again = cli("cancel", task_id)
    assert again.returncode == 1
    assert "409 conflict: task is CANCELLED" in again.stderr

    rerun = cli("retry", task_id, "--json")
    assert rerun.returncode == 0 and json.loads(rerun.stdout)["status"] == "QUEUED"
    assert cli("cancel", task_id).returncode == 0

    missing = cli("get", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 1 and "404 not_found" in missing.stderr


def test_exit_codes_for_usage_bad_input_wrong_key_and_no_api(cli: Cli, tmp_path: Path) -> None:
    assert cli("submit", "--type", "data", input_text="{not json").returncode == 2
    assert cli("submit", "--type", "fax", input_text="{}").returncode == 2
    assert cli("retry").returncode == 2
    assert cli("submit", "--type", "data", str(tmp_path / "absent.json")).returncode == 2

    invalid = cli("submit", "--type", "email", input_text='{"to": ["nobody"], "text": "x"}')
    assert invalid.returncode == 1
    assert "422 validation_error" in invalid.stderr
    assert "payload.to" in invalid.stderr

    wrong_key = cli("queues", "--api-key", "not-the-key")
    assert wrong_key.returncode == 2
    assert "TASKYARD_API_KEY" in wrong_key.stderr

    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = cli("--url", nowhere, "queues")
    assert unreachable.returncode == 3
    assert "cannot reach the API" in unreachable.stderr

    # a flag wins over the environment
    good_url = cli.env["TASKYARD_URL"]
    cli.env = {**cli.env, "TASKYARD_URL": nowhere}
    assert cli("queues").returncode == 3
    assert cli("queues", "--url", good_url).returncode == 0


def test_batch_reads_json_lines(cli: Cli) -> None:
    lines = "\n".join(
        json.dumps({"type": "data", "priority": priority, "payload": SALES})
        for priority in ("high", "normal")
    )
    batch = cli("batch", "--json", input_text=lines + "\n\n")
    if batch.returncode == 1 and ("405 " in batch.stderr or "404 " in batch.stderr):
        pytest.skip("this API has no POST /api/tasks/batch yet")
    assert batch.returncode == 0, batch.stderr
    records = lines_of_json(batch.stdout)
    assert [r["queue"] for r in records] == ["data.high", "data.normal"]

    broken = cli("batch", input_text=lines + "\n{oops\n")
    assert broken.returncode == 2 and "stdin line 3" in broken.stderr


def test_files_upload_download_list_rm(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "report.csv"
    source.write_text("region,amount\neu,10\n")
    uploaded = cli("files", "upload", str(source), "--json")
    assert uploaded.returncode == 0, uploaded.stderr
    file_id = str(json.loads(uploaded.stdout)["id"])

    out = tmp_path / "out"
    out.mkdir()
    downloaded = cli("files", "download", file_id, "-o", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    assert (out / "report.csv").read_text() == source.read_text()
    assert downloaded.stdout.strip() == str(out / "report.csv")

    listed = cli("files", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert file_id in [record["id"] for record in lines_of_json(listed.stdout)]
    removed = cli("files", "rm", file_id)
    assert removed.returncode == 0 and f"{file_id} deleted" in removed.stdout
    assert cli("files", "download", file_id, "-o", str(out)).returncode == 1


def test_queues_and_workers_tables(cli: Cli, client_stack: Stack) -> None:
    queues = cli("queues")
    assert queues.returncode == 0, queues.stderr
    assert queues.stdout.splitlines()[0].split() == ["NAME", "READY", "UNACKED", "CONSUMERS"]
    assert any(line.startswith("data.normal ") for line in queues.stdout.splitlines())

    as_json = json.loads(cli("queues", "--json").stdout)
    assert {q["name"] for q in as_json["queues"]} >= {"data.normal", "data.low"}

    workers = cli("workers", "--json")
    assert workers.returncode == 0 and "workers" in json.loads(workers.stdout)
