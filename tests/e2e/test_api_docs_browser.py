"""The Swagger page in a real browser (Debian's Chromium driven by Playwright): "Try it out"
on POST /api/tasks sends the document's example and the API accepts it (202)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support.browser import UI_TIMEOUT_MS
from support.client import ApiClient
from taskyard_api.openapi_examples import SUBMIT_EXAMPLES

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def docs_page(browser: object, base_url: str, api: ApiClient) -> Iterator[object]:
    key = os.environ.get("TASKYARD_E2E_API_KEY")
    context = browser.new_context(  # type: ignore[attr-defined]
        extra_http_headers={"Authorization": f"Bearer {key}"} if key else None
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(f"{base_url}/api/docs")
    try:
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("example", ["data", "email"])
def test_try_it_out_submits_the_example_task(docs_page, api: ApiClient, example: str) -> None:
    operation = docs_page.locator("#operations-tasks-submitTask")
    operation.locator(".opblock-summary").first.click()
    operation.get_by_role("button", name="Try it out").click()
    if example != "data":  # data is the example the editor starts with
        operation.locator(".examples-select select").first.select_option(example)
    with docs_page.expect_response(
        lambda response: response.request.method == "POST" and response.url.endswith("/api/tasks")
    ) as answered:
        operation.get_by_role("button", name="Execute").click()

    response = answered.value
    assert response.status == 202, response.text()
    record = response.json()
    assert record["type"] == example
    # what the page shows a person, not only what went over the wire
    shown = operation.locator(".live-responses-table tr.response .response-col_status")
    sync_api.expect(shown).to_have_text("202")
    if SUBMIT_EXAMPLES[example]["value"].get("delay_seconds"):
        # The scheduled example: held by the broker, not run within the test's minute.
        assert record["status"] == "SCHEDULED" and record["run_at"], record
        return
    assert api.wait_for(record["id"])["status"] == "SUCCESS"
