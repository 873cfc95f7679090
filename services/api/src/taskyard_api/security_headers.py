"""Headers on every response: no sniffing, and task data never cached."""

from __future__ import annotations

from flask import Flask, Response, request


def install(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/") and not request.path.startswith("/api/docs"):
            response.headers["Cache-Control"] = "no-store"
        return response
