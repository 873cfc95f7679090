"""Time limits: the settings, what a submit may ask for, and that a time limit never retries."""

from __future__ import annotations

from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from pydantic import ValidationError

from taskyard_common.contracts import SubmitRequest
from taskyard_common.retry import (
    error_type_name,
    is_retryable,
    time_limit_message,
)
from taskyard_common.settings import Settings, get_settings

EMAIL = {"to": ["ada@example.com"], "subject": "s", "text": "t"}
DATA = {"input": {"records": [{"a": 1}]}}


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_default_time_limits_per_type() -> None:
    settings = _settings()
    limits = {t: settings.time_limit_seconds(t) for t in ("data", "email", "file")}
    assert limits == {"data": 600, "email": 60, "file": 900}
    assert settings.hard_time_limit_grace_seconds == 10


def test_time_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKYARD_EMAIL_TIME_LIMIT_SECONDS", "120")
    monkeypatch.setenv("TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS", "3")
    settings = _settings()
    assert settings.time_limit_seconds("email") == 120
    assert settings.attempt_time_limits("email") == (120, 123)


@pytest.mark.parametrize("name", ["data_time_limit_seconds", "hard_time_limit_grace_seconds"])
def test_time_limits_are_positive(name: str) -> None:
    with pytest.raises(ValidationError):
        _settings(**{name: 0})


@pytest.mark.parametrize(
    ("task_type", "timeout_seconds", "expected"),
    [("data", None, (600, 610)), ("data", 2, (2, 12)), ("file", 900, (900, 910))],
)
def test_attempt_time_limits(task_type: Any, timeout_seconds: int | None, expected: Any) -> None:
    assert _settings().attempt_time_limits(task_type, timeout_seconds) == expected


@pytest.mark.parametrize("error", [SoftTimeLimitExceeded(), TimeLimitExceeded(12)])
def test_a_time_limit_is_named_and_never_retryable(error: BaseException) -> None:
    assert error_type_name(error) == "TimeLimitExceeded"
    assert not is_retryable(error)


@pytest.mark.parametrize(
    ("seconds", "killed", "message"),
    [
        (2, False, "stopped at its time limit of 2 s"),
        (None, False, "stopped at its time limit"),
        (12.0, True, "killed after 12 s: it did not stop at its time limit"),
        (None, True, "killed: it did not stop at its time limit"),
    ],
)
def test_time_limit_messages(seconds: float | None, killed: bool, message: str) -> None:
    assert time_limit_message(seconds, killed=killed) == message


@pytest.fixture
def limits_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The submit model checks timeout_seconds against the process settings."""
    for name in ("DATA", "EMAIL", "FILE"):
        monkeypatch.delenv(f"TASKYARD_{name}_TIME_LIMIT_SECONDS", raising=False)
    monkeypatch.setenv("TASKYARD_EMAIL_TIME_LIMIT_SECONDS", "45")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "email", "payload": EMAIL}, None),
        ({"type": "email", "payload": EMAIL, "timeout_seconds": 1}, 1),
        ({"type": "email", "payload": EMAIL, "timeout_seconds": 45}, 45),
        ({"type": "data", "payload": DATA, "timeout_seconds": 600}, 600),
    ],
)
@pytest.mark.usefixtures("limits_from_env")
def test_a_submit_may_ask_for_up_to_its_type_limit(body: Any, expected: int | None) -> None:
    assert SubmitRequest.model_validate(body).root.timeout_seconds == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"type": "email", "payload": EMAIL, "timeout_seconds": 46},
            "Input should be less than or equal to 45, the email time limit",
        ),
        (
            {
                "type": "file",
                "timeout_seconds": 901,
                "payload": {"file_id": "0" * 32, "operation": "checksum"},
            },
            "Input should be less than or equal to 900, the file time limit",
        ),
    ],
)
@pytest.mark.usefixtures("limits_from_env")
def test_more_than_the_type_limit_is_a_validation_error(body: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SubmitRequest.model_validate(body)
    (error,) = caught.value.errors()
    assert error["loc"][-1] == "timeout_seconds"
    assert error["msg"] == message


@pytest.mark.parametrize("value", [0, -5, "5", 2.5, True, None])
def test_timeout_seconds_is_a_positive_integer(value: Any) -> None:
    body = {"type": "email", "payload": EMAIL, "timeout_seconds": value}
    if value is None:
        assert SubmitRequest.model_validate(body).root.timeout_seconds is None
        return
    with pytest.raises(ValidationError):
        SubmitRequest.model_validate(body)
