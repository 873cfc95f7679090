"""The web console's session, CSRF check, CSP and forms, with no server behind the app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from pydantic import ValidationError

from support.api_app import MakeClient
from taskyard_api.console import forms
from taskyard_api.console import session as sessions
from taskyard_common.settings import Settings

SECRET = "s" * 40
OTHER_SECRET = "t" * 40
KEY = "k-0123456789abcdef0123"
KEYS = f"ops:{KEY}"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def _csrf(page_text: str) -> str:
    found = CSRF_FIELD.search(page_text)
    assert found, page_text
    return found.group(1)


def _sign_in(client: FlaskClient, key: str = KEY) -> Any:
    token = _csrf(client.get("/ui/sign-in").text)
    return client.post("/ui/sign-in", data={"api_key": key, "csrf_token": token})


@pytest.fixture
def console(make_client: MakeClient) -> FlaskClient:
    return make_client(api_keys=KEYS, ui_session_secret=SECRET)


# -- the session cookie


def test_a_session_survives_its_round_trip() -> None:
    made = sessions.new_session("ops", sessions.key_fingerprint(SECRET, KEY))
    assert sessions.decode(SECRET, sessions.encode(SECRET, made), 60) == made


@pytest.mark.parametrize(
    ("cookie", "secret", "max_age"),
    [
        ("tampered", SECRET, 60),  # not a signed value at all
        ("signed-elsewhere", SECRET, 60),  # signed with another secret
        ("fresh", SECRET, -1),  # older than its lifetime
        ("flipped", SECRET, 60),  # one character of the payload changed
    ],
)
def test_a_session_that_is_not_ours_or_expired_decodes_to_none(
    cookie: str, secret: str, max_age: int
) -> None:
    made = sessions.new_session("ops", "f" * 64)
    encoded = {
        "tampered": "not-a-cookie",
        "signed-elsewhere": sessions.encode(OTHER_SECRET, made),
        "fresh": sessions.encode(SECRET, made),
        "flipped": "X" + sessions.encode(SECRET, made)[1:],
    }[cookie]
    assert sessions.decode(secret, encoded, max_age) is None


def test_a_signed_value_of_the_wrong_shape_is_no_session() -> None:
    from itsdangerous import URLSafeTimedSerializer

    for value in ({"csrf": "x"}, ["only-one"], [1, None, None], ["x", 2, None]):
        signed = URLSafeTimedSerializer(SECRET, salt=sessions.SALT).dumps(value)
        assert sessions.decode(SECRET, signed, 60) is None


def test_the_cookie_holds_a_keyed_fingerprint_never_the_key() -> None:
    fingerprint = sessions.key_fingerprint(SECRET, KEY)
    assert KEY not in fingerprint
    assert fingerprint != sessions.key_fingerprint(OTHER_SECRET, KEY)
    assert sessions.fingerprint_matches(SECRET, fingerprint, KEY)
    assert not sessions.fingerprint_matches(SECRET, fingerprint, KEY + "x")


@pytest.mark.parametrize(
    ("presented", "matches"),
    [("right", True), ("wrong", False), ("", False), (None, False), ("right ", False)],
)
def test_csrf_token_check(presented: str | None, matches: bool) -> None:
    session = sessions.ConsoleSession(csrf_token="right")
    assert sessions.csrf_token_matches(session, presented) is matches
    assert sessions.csrf_token_matches(None, presented) is False


# -- forms


@pytest.mark.parametrize(
    ("args", "chosen", "problems"),
    [
        ({}, {}, []),
        ({"status": "FAILED", "type": "email"}, {"status": "FAILED", "type": "email"}, []),
        ({"status": "", "priority": "high"}, {"priority": "high"}, []),
        ({"status": "BROKEN", "type": "data"}, {"type": "data"}, ["status: not a valid value"]),
        (
            {"type": "fax", "priority": "urgent"},
            {},
            ["priority: not a valid value", "type: not a valid value"],
        ),
        ({"cursor": "x" * 5000}, {}, ["cursor: not a valid value"]),
    ],
)
def test_task_filters(args: dict[str, str], chosen: dict[str, str], problems: list[str]) -> None:
    filters = forms.task_filters(args)
    assert filters.chosen == chosen
    assert filters.problems == problems
    assert filters.query.limit == forms.PAGE_SIZE


def test_the_feed_ignores_a_cursor() -> None:
    assert forms.task_filters({"cursor": "abc"}, with_cursor=False).query.cursor is None


@pytest.mark.parametrize(
    ("task_id", "problem"),
    [
        ("0b6f3c1e-4c1a-4f7e-9d3b-2a1e5c7d9f00", None),
        (" 0b6f3c1e-4c1a-4f7e-9d3b-2a1e5c7d9f00 ", None),
        ("", "enter a task id"),
        ("../../etc/passwd", "a task id is a UUID"),
    ],
)
def test_task_id_search(task_id: str, problem: str | None) -> None:
    found = forms.task_id_problem(task_id)
    assert (found is None) if problem is None else (found or "").startswith(problem)


@pytest.mark.parametrize(
    ("key", "problem"), [(KEY, None), ("  ", "enter an API key"), ("k" * 5000, "an API key has")]
)
def test_api_key_field(key: str, problem: str | None) -> None:
    found = forms.api_key_problem(key)
    assert (found is None) if problem is None else (found or "").startswith(problem)


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_a_short_session_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(_env_file=None, ui_session_secret=secret)  # type: ignore[call-arg]


# -- the console over the app


def test_pages_carry_the_strict_csp_and_the_usual_headers(console: FlaskClient) -> None:
    response = console.get("/ui/sign-in")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.text and " style=" not in response.text


def test_the_static_files_are_served_with_the_same_csp(console: FlaskClient) -> None:
    for name, kind in (("console.js", "javascript"), ("console.css", "text/css")):
        response = console.get(f"/ui/static/{name}")
        assert response.status_code == 200
        assert kind in response.headers["Content-Type"]
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_without_a_session_every_page_sends_to_sign_in(console: FlaskClient) -> None:
    for path in ("/ui/", "/ui/tasks", "/ui/queues", "/ui/workers"):
        response = console.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(("/ui/sign-in", "/ui/tasks"))
    assert console.get("/ui/tasks.json").status_code == 401


def test_the_session_cookie_is_httponly_strict_and_scoped(console: FlaskClient) -> None:
    cookie = console.get("/ui/sign-in").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/ui" in cookie
    assert "Secure" not in cookie  # auto, and the test client speaks plain http


@pytest.mark.parametrize(("setting", "secure"), [("always", True), ("never", False)])
def test_the_secure_flag_follows_the_setting(
    make_client: MakeClient, setting: str, secure: bool
) -> None:
    client = make_client(api_keys=KEYS, ui_session_secret=SECRET, ui_secure_cookie=setting)
    assert ("Secure" in client.get("/ui/sign-in").headers["Set-Cookie"]) is secure


def test_auto_makes_the_cookie_secure_over_https(console: FlaskClient) -> None:
    cookie = console.get("/ui/sign-in", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in cookie


def test_signing_in_sets_a_new_session_without_the_key(console: FlaskClient) -> None:
    before = _csrf(console.get("/ui/sign-in").text)
    response = console.post("/ui/sign-in", data={"api_key": KEY, "csrf_token": before})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/ui/tasks")
    cookie = response.headers["Set-Cookie"]
    assert KEY not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    session = sessions.decode(SECRET, value, 60)
    assert session is not None and session.caller == "ops"
    assert session.csrf_token != before  # a fresh CSRF token once signed in
    # signed in: the sign-in page sends on to the tasks
    assert console.get("/ui/sign-in").headers["Location"].endswith("/ui/tasks")


@pytest.mark.parametrize("key", ["wrong-key", " ", "k" * 5000])
def test_a_wrong_key_is_refused(console: FlaskClient, key: str) -> None:
    response = _sign_in(console, key)
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert console.get("/ui/tasks").status_code == 302


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_post_without_the_csrf_token_is_refused(console: FlaskClient, token: str | None) -> None:
    assert _sign_in(console).status_code == 302
    data = {} if token is None else {"csrf_token": token}
    task = "0b6f3c1e-4c1a-4f7e-9d3b-2a1e5c7d9f00"
    for path in (
        "/ui/sign-out",
        f"/ui/tasks/{task}/retry",
        f"/ui/tasks/{task}/cancel",
        "/ui/tasks/retry-failed",
    ):
        response = console.post(path, data=data)
        assert response.status_code == 403, path
    sign_in = console.post("/ui/sign-in", data={"api_key": KEY, **data})
    assert sign_in.status_code in (302, 403)  # signed in already: sent on, or refused


def test_signing_out_ends_the_session(console: FlaskClient) -> None:
    _sign_in(console)
    page = console.get("/ui/queues")  # 503 (no RabbitMQ here) but a page with the sign-out form
    token = _csrf(page.text)
    response = console.post("/ui/sign-out", data={"csrf_token": token})
    assert response.status_code == 302
    assert console.get("/ui/tasks").status_code == 302


def test_a_key_removed_from_the_configuration_ends_its_sessions(
    make_client: MakeClient,
) -> None:
    before = make_client(api_keys=KEYS, ui_session_secret=SECRET)
    _sign_in(before)
    cookie = before.get_cookie(sessions.COOKIE_NAME, path="/ui")
    assert cookie is not None
    after = make_client(api_keys="other:k-another-key-0123456789", ui_session_secret=SECRET)
    after.set_cookie(sessions.COOKIE_NAME, cookie.value, path="/ui")
    assert after.get("/ui/tasks").status_code == 302
    replaced = make_client(api_keys="ops:k-a-new-key-for-ops-0123", ui_session_secret=SECRET)
    replaced.set_cookie(sessions.COOKIE_NAME, cookie.value, path="/ui")
    assert replaced.get("/ui/tasks").status_code == 302


def test_the_api_still_wants_its_bearer_key(console: FlaskClient) -> None:
    _sign_in(console)
    assert console.get("/api/tasks").status_code == 401  # the console's cookie is no API key


def test_without_a_secret_the_console_says_how_to_turn_it_on(make_client: MakeClient) -> None:
    response = make_client(api_keys=KEYS).get("/ui/tasks")
    assert response.status_code == 503
    assert "TASKYARD_UI_SESSION_SECRET" in response.text


def test_an_open_api_needs_no_sign_in(make_client: MakeClient) -> None:
    client = make_client(api_keys="", ui_session_secret=SECRET)
    assert client.get("/ui/sign-in").headers["Location"].endswith("/ui/tasks")
    # past the session check: the page asks Redis, which is not running here
    page = client.get("/ui/tasks")
    assert page.status_code == 503
    assert "redis is unavailable" in page.text
    assert "Sign out" not in page.text


# -- the task page's template, given a record


def _task_page(make_client: MakeClient, record: dict[str, Any], payload: Any) -> str:
    from flask import render_template

    app = make_client(api_keys="", ui_session_secret=SECRET).application
    with app.test_request_context("/ui/tasks/x"):
        return render_template(
            "console/task.html", record=record, payload=payload, can_cancel=False, can_retry=True
        )


RECORD: dict[str, Any] = {
    "id": "0b6f3c1e-4c1a-4f7e-9d3b-2a1e5c7d9f00",
    "type": "email",
    "priority": "high",
    "queue": "email.high",
    "status": "FAILED",
    "attempts": 3,
    "max_retries": 2,
    "created_at": "2026-01-01T00:00:00.000Z",
    "result": None,
    "error": {"type": "SMTPDataError", "message": "550 <b>no</b>", "retryable": False},
    "history": [
        {"status": "QUEUED", "at": "2026-01-01T00:00:00.000Z"},
        {"status": "PROCESSING", "at": "2026-01-01T00:00:01.000Z"},
        {"status": "FAILED", "at": "2026-01-01T00:00:02.000Z"},
    ],
}


def test_the_task_page_shows_the_callback_state_when_there_is_one(make_client: MakeClient) -> None:
    callback = {
        "url": "https://hooks.example.com/done",
        "status": "FAILED",
        "attempts": 8,
        "last_status_code": 502,
        "last_error": "bad gateway",
        "delivered_at": None,
    }
    page = _task_page(make_client, {**RECORD, "callback": callback}, {"to": ["a@example.com"]})
    assert 'id="callback"' in page
    for shown in ("https://hooks.example.com/done", "502", "bad gateway", ">8<"):
        assert shown in page
    assert 'id="callback"' not in _task_page(make_client, {**RECORD, "callback": None}, {})
    assert 'id="callback"' not in _task_page(make_client, RECORD, {})


def test_the_task_page_escapes_what_tasks_carry(make_client: MakeClient) -> None:
    page = _task_page(make_client, RECORD, {"subject": "<script>alert(1)</script>"})
    assert "<script>alert" not in page and "<b>no</b>" not in page
    assert page.count('<li class="step-') == 3  # the timeline, one entry per transition
    assert "Retry" in page and "Cancel" not in page
