"""The contract's limits, spelled once: the settings take their bounds and defaults from them,
the request models validate against them and the status store clamps by them."""

from __future__ import annotations

from typing import Final

# A task's retry budget: TASKYARD_RETRY_MAX_RETRIES and a submit's max_retries.
MAX_RETRIES_LIMIT: Final = 100
# Inline records of one data task, and TASKYARD_MAX_DATA_RECORDS' default: a larger setting
# changes nothing.
MAX_INLINE_RECORDS: Final = 100_000
# One page of GET /api/tasks or GET /api/files.
LIST_LIMIT_DEFAULT: Final = 50
LIST_LIMIT_MAX: Final = 200
