"""timeout_seconds on submit: at most the type's time limit, else a 422 naming the field.

The app has no servers behind it: a request that passed validation would get a 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from taskyard_api import create_app
from taskyard_common.settings import Settings, get_settings

EMAIL = {"to": ["ada@example.com"], "subject": "s", "text": "t"}


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    # The submit model checks timeout_seconds against the process settings.
    monkeypatch.setenv("TASKYARD_EMAIL_TIME_LIMIT_SECONDS", "30")
    get_settings.cache_clear()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_url=f"file://{tmp_path}/files",
        rate_limit="off",
        redis_url="redis://127.0.0.1:1/0",
        broker_url="amqp://guest:guest@127.0.0.1:1//",
        log_format="console",
    )
    yield create_app(settings).test_client()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("timeout_seconds", "message"),
    [
        (31, "Input should be less than or equal to 30, the email time limit"),
        (0, "Input should be greater than or equal to 1"),
        ("10", "Input should be a valid integer"),
    ],
)
def test_out_of_range_timeout_is_422(
    client: FlaskClient, timeout_seconds: Any, message: str
) -> None:
    body = {"type": "email", "payload": EMAIL, "timeout_seconds": timeout_seconds}
    response = client.post("/api/tasks", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    details = response.get_json()["error"]["details"]
    assert details == [{"loc": ["timeout_seconds"], "msg": message}]


def test_a_timeout_within_the_limit_passes_validation(client: FlaskClient) -> None:
    body = {"type": "email", "payload": EMAIL, "timeout_seconds": 30}
    # Validation passed: the request got as far as the (absent) Redis.
    assert client.post("/api/tasks", json=body).status_code == 503
