"""The web console in a real browser (Debian's Chromium driven by Playwright), against a
stack of its own with an API key: sign in, watch a submitted task appear, open it, retry
a failed one, cancel a scheduled one, bulk-retry, queues and workers, CSRF, and no CSP
violation. The screenshots in docs/images/ come from here, at a fixed viewport."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.browser import UI_TIMEOUT_MS
from support.client import ApiClient
from support.stack import REPO_ROOT, Stack, running_stack

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

KEY_NAME = "ops"
KEY = "console-e2e-key-0123456789abcdef"
OTHER_KEY_NAME, OTHER_KEY = "other", "console-e2e-other-key-0123456789"
QUEUES = ["data.high", "data.normal", "email.normal"]
VIEWPORT = {"width": 1280, "height": 860}
IMAGES = REPO_ROOT / "docs" / "images"
SALES = [
    {"region": "eu", "amount": 12},
    {"region": "us", "amount": 3},
    {"region": "eu", "amount": 5},
]
FAILING_PIPELINE = [{"op": "select", "columns": ["no_such_column"]}]
AGGREGATE = [
    {"op": "aggregate", "group_by": ["region"], "metrics": {"amount": ["sum", "count"]}},
    {"op": "sort", "by": ["amount_sum"], "descending": True},
]


def data_task(priority: str = "normal", operations: list[Any] = AGGREGATE) -> dict[str, Any]:
    return {
        "type": "data",
        "priority": priority,
        "payload": {"input": {"records": SALES}, "operations": operations},
    }


def email_task() -> dict[str, Any]:
    return {
        "type": "email",
        "payload": {
            "to": ["ada@example.com"],
            "subject": "Report for {{ name }}",
            "text": "Hello {{ name }}, the report is ready.",
            "context": {"name": "Ada"},
        },
    }


@pytest.fixture(scope="module")
def console_stack() -> Iterator[Stack]:
    with running_stack(
        "console",
        {"TASKYARD_API_KEYS": f"{KEY_NAME}:{KEY},{OTHER_KEY_NAME}:{OTHER_KEY}"},
        queues=QUEUES,
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def api(console_stack: Stack) -> ApiClient:
    client = ApiClient(console_stack.base_url, api_key=KEY)
    client.wait_ready()
    return client


@pytest.fixture(scope="module")
def console_errors() -> list[str]:
    return []


@pytest.fixture(scope="module")
def page(browser: Any, console_stack: Stack, console_errors: list[str]) -> Iterator[Any]:
    """One signed-in browser tab for the whole module (the first test signs it in)."""
    context = browser.new_context(
        viewport=VIEWPORT, base_url=console_stack.base_url, color_scheme="light"
    )
    tab = context.new_page()
    tab.set_default_timeout(UI_TIMEOUT_MS)
    tab.on(
        "console",
        lambda message: (
            console_errors.append(message.text)
            if "Content Security Policy" in message.text or message.type == "error"
            else None
        ),
    )
    tab.on("pageerror", lambda error: console_errors.append(f"page error: {error}"))
    try:
        yield tab
    finally:
        context.close()


MANAGEMENT_REFRESH_TIMEOUT_SECONDS = 30


def screenshot(page: Any, name: str) -> None:
    """The README's pictures, retaken by `make screenshots` (TASKYARD_E2E_SCREENSHOTS=1); a plain
    test run leaves the committed ones alone, so it never dirties the checkout."""
    if os.environ.get("TASKYARD_E2E_SCREENSHOTS") != "1":
        return
    IMAGES.mkdir(parents=True, exist_ok=True)
    # the clock in the live marker differs run to run: hide it for the picture
    page.screenshot(path=str(Path(IMAGES, name)), animations="disabled", caret="hide")


def test_sign_in_with_an_api_key(page: Any, api: ApiClient) -> None:
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))
    screenshot(page, "console-sign-in.png")

    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not known")

    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ui/tasks$"))
    expect(page.locator(".caller")).to_have_text(KEY_NAME)
    cookie = next(c for c in page.context.cookies() if c["name"] == "taskyard_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert KEY not in cookie["value"]


def test_a_submitted_task_appears_without_a_reload(page: Any, api: ApiClient) -> None:
    page.goto("/ui/tasks")
    marker = page.evaluate("window.consoleMarker = 'same document'")  # gone after a reload
    assert marker == "same document"

    task_id = api.submit(data_task())["id"]
    row = page.locator("#tasks tbody tr", has=page.get_by_role("link", name=task_id))
    expect(row).to_be_visible()
    expect(row.locator(".status")).to_have_text("SUCCESS")
    assert page.evaluate("window.consoleMarker") == "same document"

    # a few more of each kind, for the picture
    finished = [api.submit(email_task())["id"], api.submit(data_task("high"))["id"]]
    failed = api.submit(data_task("normal", FAILING_PIPELINE))["id"]
    for other in [*finished, failed]:
        api.wait_for(other)
    expect(page.get_by_role("link", name=failed)).to_be_visible()
    expect(page.locator("#tasks tbody tr").filter(has_text=failed).locator(".status")).to_have_text(
        "FAILED"
    )
    screenshot(page, "console-tasks.png")


def test_a_task_page_shows_payload_result_and_timeline(page: Any, api: ApiClient) -> None:
    task_id = api.submit(data_task())["id"]
    api.wait_for(task_id)
    page.goto("/ui/tasks")
    page.get_by_role("link", name=task_id).click()
    expect(page).to_have_url(re.compile(rf"/ui/tasks/{task_id}$"))
    expect(page.locator("#task-status")).to_have_text("SUCCESS")
    expect(page.locator("#payload")).to_contain_text('"region"')
    expect(page.locator("#result")).to_contain_text('"amount_sum"')
    expect(page.locator("#timeline li")).to_have_count(4)  # QUEUED RECEIVED PROCESSING SUCCESS
    expect(page.locator("#timeline li").last).to_contain_text("SUCCESS")
    screenshot(page, "console-task.png")


def test_search_by_id_opens_the_task(page: Any, api: ApiClient) -> None:
    task_id = api.submit(data_task())["id"]
    page.goto("/ui/tasks")
    page.get_by_label("Task id").fill(task_id.upper())
    page.get_by_role("button", name="Open").click()
    expect(page).to_have_url(re.compile(rf"/ui/tasks/{task_id}$"))
    page.goto("/ui/tasks?id=not-an-id")
    expect(page.get_by_role("alert")).to_contain_text("UUID")


def test_retry_a_failed_task(page: Any, api: ApiClient) -> None:
    task_id = api.submit(data_task("normal", FAILING_PIPELINE))["id"]
    assert api.wait_for(task_id)["status"] == "FAILED"
    page.goto(f"/ui/tasks/{task_id}")
    expect(page.locator("#task-error")).to_contain_text("no_such_column")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    screenshot(page, "console-task-failed.png")

    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_have_text("The task was queued again.")
    record = api.wait_for(task_id)
    assert record["status"] == "FAILED" and record["attempts"] == 2  # it ran once more


def test_cancel_a_scheduled_task(page: Any, api: ApiClient) -> None:
    body = {**data_task(), "delay_seconds": 3600}
    task_id = api.submit(body)["id"]
    page.goto(f"/ui/tasks/{task_id}")
    expect(page.locator("#task-status")).to_have_text("SCHEDULED")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status")).to_have_text("The task was cancelled.")
    expect(page.locator("#task-status")).to_have_text("CANCELLED")
    assert api.task(task_id)["status"] == "CANCELLED"


def test_bulk_retry_of_the_failed_tasks_of_a_filter(page: Any, api: ApiClient) -> None:
    failed = [api.submit(data_task("high", FAILING_PIPELINE))["id"] for _ in range(2)]
    other = api.submit(data_task("normal", FAILING_PIPELINE))["id"]
    for task_id in [*failed, other]:
        assert api.wait_for(task_id)["status"] == "FAILED"

    page.goto("/ui/tasks?status=FAILED&type=data&priority=high")
    expect(page.locator("#tasks tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Retry failed").click()
    expect(page.get_by_role("status").first).to_have_text("2 failed tasks queued again.")
    for task_id in failed:
        record = api.wait_for(task_id, timeout_seconds=60)
        assert record["attempts"] == 2, record
    assert api.task(other)["attempts"] == 1  # another priority: left alone


def test_queues_and_workers_pages(page: Any, api: ApiClient) -> None:
    page.goto("/ui/queues")
    rows = page.locator("table.queues tbody tr")
    expect(rows).to_have_count(9)
    consumers = rows.filter(has_text="data.high").locator("td").nth(5)
    # The management API refreshes its queue figures every few seconds and the page is
    # rendered once: reload until the data.high worker's consumer shows.
    deadline = time.monotonic() + MANAGEMENT_REFRESH_TIMEOUT_SECONDS
    while consumers.inner_text().strip() != "1" and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    expect(consumers).to_have_text("1")
    screenshot(page, "console-queues.png")

    page.goto("/ui/workers")
    expect(page.locator("table.workers tbody tr")).to_have_count(len(QUEUES))
    expect(page.locator("table.workers")).to_contain_text("data.normal")
    screenshot(page, "console-workers.png")


def test_a_post_without_the_csrf_token_is_refused(page: Any, api: ApiClient) -> None:
    task_id = api.submit({**data_task(), "delay_seconds": 3600})["id"]
    page.goto(f"/ui/tasks/{task_id}")
    # the page's own session cookie goes along; only the token is missing
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST', body: new URLSearchParams(),
                                            credentials: 'same-origin'})).status""",
        f"/ui/tasks/{task_id}/cancel",
    )
    assert status == 403
    assert api.task(task_id)["status"] == "SCHEDULED"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ui/tasks?status=DONE&type=sms&priority=%00", 200),  # bad filters named, dropped
        ("/ui/tasks?cursor=not-a-cursor", 422),
        ("/ui/tasks?cursor=" + "x" * 3000, 200),  # longer than any cursor: dropped
        ("/ui/tasks?id=%3Cscript%3E", 200),
        ("/ui/tasks/..%2F..%2Fetc%2Fpasswd", 404),
        ("/ui/tasks/0b6f3c1e-4c1a-4f7e-9d3b-2a1e5c7d9f00", 404),
        ("/ui/tasks.json?status=nope", 200),
        ("/ui/nothing", 404),
    ],
)
def test_odd_input_is_a_page_never_a_5xx(page: Any, path: str, status: int) -> None:
    answer = page.request.get(path, max_redirects=0)
    assert answer.status == status, answer.text()[:500]


def test_actions_on_a_missing_task_are_404(page: Any) -> None:
    page.goto("/ui/tasks")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    missing = "0b6f3c1e-4c1a-4f7e-9d3b-2a1e5c7d9f00"
    for action in ("retry", "cancel"):
        answer = page.request.post(
            f"/ui/tasks/{missing}/{action}", form={"csrf_token": token}, max_redirects=0
        )
        assert answer.status == 404, action


def test_another_key_sees_none_of_these_tasks(
    browser: Any, console_stack: Stack, api: ApiClient
) -> None:
    task_id = api.submit(data_task())["id"]
    context = browser.new_context(viewport=VIEWPORT, base_url=console_stack.base_url)
    try:
        other = context.new_page()
        other.goto("/ui/sign-in")
        other.get_by_label("API key").fill(OTHER_KEY)
        other.get_by_role("button", name="Sign in").click()
        expect(other.locator(".caller")).to_have_text(OTHER_KEY_NAME)
        expect(other.locator("#tasks-empty")).to_be_visible()
        response = other.goto(f"/ui/tasks/{task_id}")
        assert response is not None and response.status == 404
    finally:
        context.close()


def test_signing_out_ends_the_session(page: Any) -> None:
    page.goto("/ui/tasks")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?notice=signed-out$"))
    page.goto("/ui/tasks")
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))


def test_no_csp_violation_or_script_error_was_reported(console_errors: list[str]) -> None:
    # The refused sign-in (401) and the refused POST (403) are logged as failed resources.
    unexpected = [m for m in console_errors if not m.startswith("Failed to load resource")]
    assert unexpected == []
