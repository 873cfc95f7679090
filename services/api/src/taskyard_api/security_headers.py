"""Headers on every response: no sniffing, no framing, and task data never cached.

The API answers JSON and file downloads, never pages (except the Swagger UI under
/api/docs): a Content-Security-Policy that allows nothing keeps a downloaded file
that happens to be HTML or SVG from running anything in a browser.
"""

from __future__ import annotations

from flask import Flask, Response, request

from taskyard_api.paths import is_docs_path

NOTHING_ALLOWED_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)


def install(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        docs = is_docs_path(request.path)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else NOTHING_ALLOWED_CSP)
        if request.path.startswith("/api/") and not docs:
            # Task records, results and files are private to their caller: no cache keeps them.
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response
