"""Schemathesis hooks for the fuzz run, loaded through SCHEMATHESIS_HOOKS."""

from __future__ import annotations

from typing import Any

import schemathesis

# gunicorn answers a request line longer than its limit_request_line (4094 bytes) with its
# own 414 page before the application sees the request: a limit of the HTTP server in
# front of the API, not an answer of the API's, so the document does not describe it.
URI_TOO_LONG = 414


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    return bool(response.status_code != URI_TOO_LONG)
