"""The `--wait` progress bar: one line on a terminal, redrawn after every poll."""

from __future__ import annotations

import time
from typing import Any, TextIO

BAR_CELLS = 30
# Shown when the worker reports no fraction: how far along the status alone says it is.
STATUS_FRACTIONS = {
    "SCHEDULED": 0.0,
    "QUEUED": 0.0,
    "RECEIVED": 0.05,
    "PROCESSING": 0.1,
    "RETRYING": 0.1,
    "SUCCESS": 1.0,
}


def fraction_done(record: dict[str, Any]) -> float:
    """The worker's reported progress when there is one, else what the status implies."""
    if record.get("status") == "SUCCESS":
        return 1.0
    reported = record.get("progress")
    if isinstance(reported, int | float):
        return max(0.0, min(1.0, float(reported)))
    return STATUS_FRACTIONS.get(str(record.get("status")), 0.0)


def render_line(record: dict[str, Any], elapsed_seconds: float, cells: int = BAR_CELLS) -> str:
    """`[#########---------------------]  30%  PROCESSING  attempt 1/4  2.4s`"""
    done = fraction_done(record)
    filled = round(done * cells)
    attempts = record.get("attempts") or 0
    max_retries = record.get("max_retries")
    budget = f"/{max_retries + 1}" if isinstance(max_retries, int) else ""
    return (
        f"[{'#' * filled}{'-' * (cells - filled)}] {round(done * 100):3d}%  "
        f"{record.get('status', '?'):<10}  attempt {attempts}{budget}  {elapsed_seconds:.1f}s"
    )


class ProgressBar:
    """Redraws one line on `stream` (a terminal): call update(record), then finish()."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._width = 0

    def update(self, record: dict[str, Any]) -> None:
        line = render_line(record, time.monotonic() - self._started)
        # Pad over what a longer previous line left behind.
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def finish(self) -> None:
        if self._width:
            self._stream.write("\n")
            self._stream.flush()
