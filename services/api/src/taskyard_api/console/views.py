"""/ui: sign-in, tasks, one task, queues and workers; actions are CSRF-checked POSTs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from taskyard_api import task_actions
from taskyard_api.auth import (
    Caller,
    caller_for_key,
    current_caller,
    set_current_caller,
)
from taskyard_api.console import forms
from taskyard_api.console import session as sessions
from taskyard_api.errors import BACKEND_ERRORS, ApiError, backend_unavailable
from taskyard_api.monitoring import live_workers, queue_depths
from taskyard_api.paths import CONSOLE_PREFIX
from taskyard_api.services import Services, services
from taskyard_common.logs import get_logger
from taskyard_common.records import FINAL_STATUSES, RERUNNABLE_STATUSES, TaskRecord, TaskStatus
from taskyard_common.topology import PRIORITIES, TASK_TYPES

console_bp = Blueprint(
    "console",
    __name__,
    url_prefix=CONSOLE_PREFIX,
    template_folder="templates",
    static_folder="static",
)
log = get_logger("taskyard.api")
# Pages a visitor without a session may open.
PUBLIC_ENDPOINTS = frozenset({"console.sign_in", "console.static"})
# Short texts the action routes hand to the page they redirect to (never free text).
NOTICES = {
    "retried": "The task was queued again.",
    "cancelled": "The task was cancelled.",
    "signed-out": "You are signed out.",
}
REFRESH_SECONDS = 3


def _secret() -> str:
    return services().settings.ui_session_secret.get_secret_value()


def _issue(session: sessions.ConsoleSession) -> None:
    """The session to write into the cookie once the response is ready."""
    g.console_session = session
    g.console_session_changed = True


@console_bp.before_request
def _authenticate() -> ResponseReturnValue | None:
    if request.endpoint == "console.static":
        return None
    found = services()
    secret = _secret()
    if not secret:
        return render_template("console/unavailable.html"), 503
    lifetime = found.settings.ui_session_lifetime_seconds
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    session = sessions.decode(secret, cookie, lifetime) if cookie else None
    g.console_session, g.console_session_changed = session, False
    caller = _session_caller(found, secret, session)
    if session is None or (found.api_keys and caller is None and session.caller is not None):
        # No session yet, or one whose key is gone: a fresh one carries the forms' CSRF token.
        _issue(sessions.new_session())
    if caller is not None:
        set_current_caller(caller)
    g.console_caller = caller
    if request.method == "POST" and not sessions.csrf_token_matches(
        session, request.form.get("csrf_token")
    ):
        log.info("console_csrf_rejected", path=request.path, remote_addr=request.remote_addr)
        return render_template("console/error.html", status=403, message=CSRF_MESSAGE), 403
    if caller is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.endpoint == "console.tasks_feed":
            return jsonify({"error": {"code": "unauthorized", "message": "sign in again"}}), 401
        return redirect(url_for("console.sign_in"))
    return None


CSRF_MESSAGE = "This form has expired or did not come from the console: open the page again."


def _session_caller(
    found: Services, secret: str, session: sessions.ConsoleSession | None
) -> Caller | None:
    """Who the session speaks for: re-resolved from the configured keys on every request."""
    if not found.api_keys:
        return current_caller()  # an open API: everyone is the anonymous caller
    if session is None or session.key_fingerprint is None:
        return None
    key = found.api_keys.get(session.caller or "")
    if key is None or not sessions.fingerprint_matches(secret, session.key_fingerprint, key):
        return None
    caller = caller_for_key(key)
    if caller is None or caller.name != session.caller:
        return None
    return caller


@console_bp.after_request
def _write_cookie(response: Response) -> Response:
    if g.get("console_session_changed"):
        settings = services().settings
        secure = settings.ui_secure_cookie == "always" or (
            settings.ui_secure_cookie == "auto" and request.is_secure
        )
        response.set_cookie(
            sessions.COOKIE_NAME,
            sessions.encode(_secret(), g.console_session),
            max_age=settings.ui_session_lifetime_seconds,
            path=CONSOLE_PREFIX,
            secure=secure,
            httponly=True,
            samesite="Strict",
        )
    return response


@console_bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[str, int]:
    return render_template("console/error.html", status=error.status, message=error.message), (
        error.status
    )


def _backend_down(error: Exception) -> tuple[str, int]:
    return _api_error(backend_unavailable(error))


for _backend_error in BACKEND_ERRORS:
    console_bp.register_error_handler(_backend_error, _backend_down)


@console_bp.context_processor
def _page_context() -> dict[str, Any]:
    session = g.get("console_session")
    return {
        "csrf_token": session.csrf_token if session else "",
        "caller": g.get("console_caller"),
        "signs_in": bool(services().api_keys),
        "notice": NOTICES.get(request.args.get("notice", "")),
    }


@console_bp.get("/")
def home() -> BaseResponse:
    return redirect(url_for("console.tasks"))


@console_bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> BaseResponse | tuple[str, int] | str:
    found = services()
    if not found.api_keys or g.console_caller is not None:
        return redirect(url_for("console.tasks"))
    if request.method == "GET":
        return render_template("console/sign_in.html", problem=None)
    key = request.form.get("api_key", "")
    problem = forms.api_key_problem(key)
    caller = caller_for_key(key.strip()) if problem is None else None
    if caller is None:
        log.info("console_sign_in_rejected", remote_addr=request.remote_addr)
        return render_template(
            "console/sign_in.html", problem=problem or "this API key is not known"
        ), 401
    secret = _secret()
    # A new session, and with it a new CSRF token, for the signed-in caller.
    _issue(sessions.new_session(caller.name, sessions.key_fingerprint(secret, key.strip())))
    log.info("console_signed_in", caller=caller.name, remote_addr=request.remote_addr)
    return redirect(url_for("console.tasks"))


@console_bp.post("/sign-out")
def sign_out() -> BaseResponse:
    caller = g.console_caller
    _issue(sessions.new_session())
    log.info("console_signed_out", caller=caller.name if caller else None)
    target = "console.sign_in" if services().api_keys else "console.tasks"
    return redirect(url_for(target, notice="signed-out"))


@console_bp.get("/tasks")
def tasks() -> BaseResponse | str:
    task_id = request.args.get("id", "").strip()
    if "id" in request.args:
        problem = forms.task_id_problem(task_id)
        if problem is None:
            return redirect(url_for("console.task", task_id=task_id.lower()))
    else:
        problem = None
    filters = forms.task_filters(request.args)
    page = task_actions.list_page(services(), filters.query)
    return render_template(
        "console/tasks.html",
        filters=filters,
        problems=[*filters.problems, *([problem] if problem else [])],
        page=page,
        rows=[_row(record) for record in page.items],
        next_url=(
            url_for("console.tasks", **filters.chosen, cursor=page.next_cursor)
            if page.next_cursor
            else None
        ),
        first_url=url_for("console.tasks", **filters.chosen) if filters.query.cursor else None,
        feed_url=url_for("console.tasks_feed", **filters.chosen),
        live=filters.query.cursor is None,
        refresh_seconds=REFRESH_SECONDS,
        statuses=list(TaskStatus),
        task_types=TASK_TYPES,
        priorities=PRIORITIES,
        retried=request.args.get("retried", type=int),
    )


@console_bp.get("/tasks.json")
def tasks_feed() -> Response:
    """The first page of a listing, polled by console.js to refresh the table."""
    filters = forms.task_filters(request.args, with_cursor=False)
    page = task_actions.list_page(services(), filters.query)
    return jsonify({"items": [_row(record) for record in page.items]})


def _row(record: TaskRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "url": url_for("console.task", task_id=record.id),
        "type": record.type,
        "priority": record.priority,
        "status": record.status,
        "attempts": record.attempts,
        "created_at": record.created_at,
        "finished_at": record.finished_at or "",
    }


@console_bp.post("/tasks/retry-failed")
def retry_failed() -> BaseResponse:
    found = services()
    filters = forms.task_filters(request.form, with_cursor=False)
    rerun = task_actions.retry_failed(found, filters.query, found.settings.max_batch_tasks)
    chosen = {name: value for name, value in filters.chosen.items() if name != "status"}
    return redirect(url_for("console.tasks", **chosen, retried=len(rerun)))


@console_bp.get("/tasks/<task_id>")
def task(task_id: str) -> str:
    found = services()
    record = task_actions.load(found, task_id)
    return render_template(
        "console/task.html",
        record=record.model_dump(mode="json"),
        payload=found.store.get_payload(record.id),
        can_cancel=record.status not in FINAL_STATUSES,
        can_retry=record.status in RERUNNABLE_STATUSES,
    )


@console_bp.post("/tasks/<task_id>/retry")
def retry(task_id: str) -> BaseResponse:
    record = task_actions.retry(services(), task_id)
    return redirect(url_for("console.task", task_id=record.id, notice="retried"))


@console_bp.post("/tasks/<task_id>/cancel")
def cancel(task_id: str) -> BaseResponse:
    record = task_actions.cancel(services(), task_id)
    return redirect(url_for("console.task", task_id=record.id, notice="cancelled"))


@console_bp.get("/queues")
def queues() -> str:
    return render_template("console/queues.html", queues=queue_depths(services()))


@console_bp.get("/workers")
def workers() -> str:
    return render_template("console/workers.html", workers=live_workers(services()))
