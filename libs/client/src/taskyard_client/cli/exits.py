"""What stops a command, and the contract's exit code for it.

0 success; 1 the task did not succeed (FAILED, CANCELLED, or still running when --timeout ran
out) or the API refused the request (404, 409, 422, ...); 2 usage (bad arguments, unreadable
input, missing or wrong API key); 3 API unreachable or unavailable (no connection, or 503/429
after every retry).
"""

from __future__ import annotations

from taskyard_client.errors import ApiUnreachable, RateLimited, ServiceUnavailable, Unauthorized

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
# What a shell reports for a command stopped by SIGINT.
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """The command cannot run as written (exit 2)."""


class Unsupported(Exception):
    """The server answers 405 for the route: it predates that operation (exit 1)."""


def exit_code(error: BaseException) -> int:
    """The contract's exit code for what stopped a command."""
    if isinstance(error, UsageError | Unauthorized):
        return EXIT_USAGE
    if isinstance(error, ServiceUnavailable | RateLimited | ApiUnreachable):
        return EXIT_UNREACHABLE
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILED
