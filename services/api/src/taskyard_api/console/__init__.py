"""The web console at /ui: HTML pages over the same task and monitoring functions as /api."""

from taskyard_api.console.views import console_bp

__all__ = ["console_bp"]
