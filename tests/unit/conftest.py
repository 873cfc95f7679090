"""Fixtures of the unit tests: the API app with no servers behind it."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.api_app import MakeClient, offline_client
from taskyard_common.settings import get_settings


@pytest.fixture
def make_client(tmp_path: Path) -> MakeClient:
    return functools.partial(offline_client, tmp_path)


@pytest.fixture
def callbacks_turned_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TASKYARD_CALLBACKS_ENABLED=false in the process settings, which the submit model and
    the final-status listener read."""
    monkeypatch.setenv("TASKYARD_CALLBACKS_ENABLED", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
