"""The command line without a server: exit codes as a table, output formats, flags over env."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from taskyard_client import (
    ApiUnreachable,
    Client,
    Conflict,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from taskyard_client.cli import main
from taskyard_client.cli.exits import Unsupported, UsageError, exit_code

TASK_ID = "6f1c1a59-3e43-4a43-9e0e-0c3e4e1a2b3c"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("bad flag"), 2),
        (Unauthorized(401, {}), 2),
        (NotFound(404, {}), 1),
        (Conflict(409, {}), 1),
        (ValidationFailed(422, {}), 1),
        (Unsupported("no GET /api/files"), 1),
        (RateLimited(429, {}), 3),
        (ServiceUnavailable(503, {}), 3),
        (ApiUnreachable("refused"), 3),
        (KeyboardInterrupt(), 130),
    ],
)
def test_exit_codes(error: BaseException, code: int) -> None:
    assert exit_code(error) == code


class Run:
    """main() with answers from a MockTransport; what it printed and which URL it used."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.urls: list[str] = []
        self.keys: list[str | None] = []
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()

    def factory(self, url: str, api_key: str | None) -> Client:
        self.urls.append(url)
        self.keys.append(api_key)
        return Client(
            url, api_key, transport=httpx.MockTransport(self.answer), sleep=lambda _: None
        )

    def __call__(self, *argv: str, stdin: str = "") -> int:
        return main(
            list(argv),
            stdin=io.StringIO(stdin),
            stdout=self.stdout,
            stderr=self.stderr,
            client_factory=self.factory,
        )


def task(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": TASK_ID,
        "type": "data",
        "priority": "normal",
        "queue": "data.normal",
        "status": status,
        "attempts": 1,
        "max_retries": 3,
        "created_at": "2026-01-01T00:00:00Z",
        **fields,
    }


@pytest.mark.parametrize(("final", "code"), [("SUCCESS", 0), ("FAILED", 1), ("CANCELLED", 1)])
def test_submit_wait_exits_by_the_final_status(final: str, code: int) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert json.loads(request.content) == {"type": "data", "payload": {"a": 1}}
            return httpx.Response(202, json=task("QUEUED"))
        return httpx.Response(200, json=task(final))

    run = Run(answer)
    assert run("submit", "--type", "data", "--wait", "--json", stdin='{"a": 1}') == code
    assert json.loads(run.stdout.getvalue())["status"] == final
    assert run.stderr.getvalue() == ""  # no terminal, no progress bar


def test_submit_flags_become_the_contracts_fields() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(202, json=task("SCHEDULED"))

    run = Run(answer)
    argv = ["submit", "--type", "data", "--priority", "low", "--max-retries", "0"]
    argv += ["--idempotency-key", "k1", "--delay-seconds", "30", "--time-limit", "5"]
    argv += ["--callback-url", "https://example.com/hook", "-q"]
    assert run(*argv, stdin="{}") == 0
    assert run.stdout.getvalue().strip() == TASK_ID
    assert json.loads(sent[0].content) == {
        "type": "data",
        "payload": {},
        "priority": "low",
        "max_retries": 0,
        "delay_seconds": 30,
        "timeout_seconds": 5,
        "callback_url": "https://example.com/hook",
    }
    assert sent[0].headers["Idempotency-Key"] == "k1"


def test_run_at_and_delay_together_is_a_usage_error() -> None:
    run = Run(lambda request: pytest.fail("no request expected"))
    with pytest.raises(SystemExit) as stopped:
        run("submit", "--type", "data", "--run-at", "2030-01-01T00:00:00Z", "--delay-seconds", "1")
    assert stopped.value.code == 2


def test_list_prints_a_table_or_json_lines_and_points_at_the_next_page() -> None:
    page = {"items": [task("SUCCESS"), task("FAILED", id="x" * 36)], "next_cursor": "abc"}
    run = Run(lambda request: httpx.Response(200, json=page))
    assert run("list", "--limit", "2") == 0
    lines = run.stdout.getvalue().splitlines()
    assert lines[0].split() == ["ID", "TYPE", "PRIORITY", "STATUS", "ATTEMPTS", "CREATED_AT"]
    assert lines[2].split()[:4] == ["x" * 36, "data", "normal", "FAILED"]
    assert run.stderr.getvalue().strip() == "more: --cursor abc (or --all)"

    as_json = Run(lambda request: httpx.Response(200, json=page))
    assert as_json("list", "--json") == 0
    assert [json.loads(line)["status"] for line in as_json.stdout.getvalue().splitlines()] == [
        "SUCCESS",
        "FAILED",
    ]


def test_files_list_on_an_api_without_it_says_so() -> None:
    refused = {"error": {"code": "method_not_allowed", "message": "The method is not allowed"}}
    run = Run(lambda request: httpx.Response(405, json=refused))
    assert run("files", "list") == 1
    assert "does not offer GET /api/files yet" in run.stderr.getvalue()


def test_422_details_are_printed_under_the_message() -> None:
    body = {
        "error": {
            "code": "validation_error",
            "message": "payload.to.0: bad",
            "details": [{"loc": ["payload", "to", 0], "msg": "not an email"}],
        }
    }
    run = Run(lambda request: httpx.Response(422, json=body))
    assert run("submit", "--type", "email", stdin="{}") == 1
    assert run.stderr.getvalue().splitlines() == [
        "taskyard: 422 validation_error: payload.to.0: bad",
        "  payload.to.0: not an email",
    ]


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_URL", "http://from-env:8000")
    monkeypatch.setenv("TASKYARD_API_KEY", "env-key")
    run = Run(lambda request: httpx.Response(200, json={"queues": []}))
    assert run("queues") == 0
    assert run("queues", "--url", "http://from-flag:1", "--api-key", "flag-key") == 0
    assert run("--url", "http://before-command:2", "queues") == 0
    assert run.urls == ["http://from-env:8000", "http://from-flag:1", "http://before-command:2"]
    assert run.keys == ["env-key", "flag-key", "env-key"]


def test_batch_quiet_prints_the_ids_in_order() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["tasks"]
        return httpx.Response(
            202, json={"items": [task("QUEUED", id=f"id-{i}") for i in range(len(items))]}
        )

    run = Run(answer)
    lines = '{"type": "data", "payload": {}}\n\n{"type": "email", "payload": {}}\n'
    assert run("batch", "-q", stdin=lines) == 0
    assert run.stdout.getvalue().splitlines() == ["id-0", "id-1"]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["submit", "--type", "data"], "[1, 2]", "the payload must be a JSON object"),
        (["batch"], "", "no task"),
        (["batch"], "[]\n", "stdin line 1: a submit body must be a JSON object"),
        (["retry", TASK_ID, "--all-failed"], "", "one task id or --all-failed"),
        (["retry", TASK_ID, "--type", "email"], "", "--type and --priority go with --all-failed"),
        (["files"], "", "files needs a command"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], stdin: str, message: str) -> None:
    run = Run(lambda request: pytest.fail("no request expected"))
    assert run(*argv, stdin=stdin) == 2
    assert message in run.stderr.getvalue()


def test_wait_timeout_exits_1_with_the_last_record() -> None:
    run = Run(lambda request: httpx.Response(200, json=task("RETRYING")))
    assert run("wait", TASK_ID, "--timeout", "0", "--json") == 1
    assert json.loads(run.stdout.getvalue())["status"] == "RETRYING"
    assert "still RETRYING after 0 s" in run.stderr.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_on_a_terminal_only() -> None:
    answers = iter([task("QUEUED"), task("PROCESSING", progress=0.5), task("SUCCESS")])
    run = Run(lambda request: httpx.Response(200, json=next(answers)))
    run.stderr = Terminal()
    assert run("wait", TASK_ID) == 0  # the client's sleep is a no-op here
    drawn = run.stderr.getvalue()
    assert drawn.count("\r") == 3 and drawn.endswith("\n")
    assert " 50%  PROCESSING" in drawn and "100%  SUCCESS" in drawn
    assert run.stdout.getvalue().startswith(f"id: {TASK_ID}\n")
