"""Fixtures of the unit tests: the API app with no servers behind it."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from support.api_app import MakeClient, offline_client


@pytest.fixture
def make_client(tmp_path: Path) -> MakeClient:
    return functools.partial(offline_client, tmp_path)
