"""The contract's names the client needs. The client cannot import taskyard_common (it installs
without the server), so they are repeated here once; tests/client/test_contract.py holds them
equal to taskyard_common's."""

from __future__ import annotations

TASK_TYPES = ("data", "email", "file")
PRIORITIES = ("high", "normal", "low")
STATUSES = (
    "SCHEDULED",
    "QUEUED",
    "RECEIVED",
    "PROCESSING",
    "RETRYING",
    "SUCCESS",
    "FAILED",
    "CANCELLED",
)
# After these a task never changes again (unless retried).
FINAL_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
# One page of a listing: the API's default and largest.
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200
