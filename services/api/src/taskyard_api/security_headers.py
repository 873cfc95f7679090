"""Headers on every response: no sniffing, no framing, and task data never cached.

The API answers JSON and file downloads, never pages (except the Swagger UI under
/api/docs and the console under /ui): a Content-Security-Policy that allows nothing keeps
a downloaded file that happens to be HTML or SVG from running anything in a browser. The
console's pages load only their own files: no inline script or style, no other origin.
"""

from __future__ import annotations

from flask import Flask, Response, request

from taskyard_api.paths import is_console_path, is_docs_path

NOTHING_ALLOWED_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)


def content_security_policy(path: str) -> str:
    if is_docs_path(path):
        return DOCS_CSP
    if is_console_path(path):
        return CONSOLE_CSP
    return NOTHING_ALLOWED_CSP


def install(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        path = request.path
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        headers.setdefault("Content-Security-Policy", content_security_policy(path))
        if (path.startswith("/api/") and not is_docs_path(path)) or is_console_path(path):
            # Task records, results and files are private to their caller: no cache keeps them.
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response
