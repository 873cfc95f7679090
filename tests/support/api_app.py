"""The API as unit tests use it: a Flask test client with no servers behind it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from taskyard_api import create_app
from taskyard_common.settings import Settings

# Nothing listens on port 1: a request that gets as far as a backend is a clean 503.
CLOSED = "127.0.0.1:1"
MakeClient = Callable[..., FlaskClient]


def offline_client(tmp_path: Path, **overrides: Any) -> FlaskClient:
    """A test client of a fresh app; keyword arguments override the settings."""
    values: dict[str, Any] = {
        "storage_url": f"file://{tmp_path}/files",
        "broker_url": f"amqp://guest:guest@{CLOSED}//",
        "rabbitmq_management_url": f"http://guest:guest@{CLOSED}",
        "redis_url": f"redis://{CLOSED}/0",
        "rate_limit_storage_url": "memory://",
        "api_keys": "",
        "log_format": "console",
        **overrides,
    }
    return create_app(Settings(_env_file=None, **values)).test_client()  # type: ignore[call-arg]
