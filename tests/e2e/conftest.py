"""The e2e suite runs against any running stack: TASKYARD_E2E_BASE_URL (for example
http://127.0.0.1:8000 for `make run`, or a port-forwarded cluster). Without it the
session's own test stack is started and used."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from support.browser import launched_chromium
from support.client import ApiClient


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest) -> str:
    configured = os.environ.get("TASKYARD_E2E_BASE_URL")
    if configured:
        return configured.rstrip("/")
    return str(request.getfixturevalue("stack").base_url)


@pytest.fixture(scope="session")
def api(base_url: str) -> ApiClient:
    client = ApiClient(base_url, api_key=os.environ.get("TASKYARD_E2E_API_KEY"))
    client.wait_ready()
    return client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched
