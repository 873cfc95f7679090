"""The progress line drawn while `taskyard ... --wait` polls."""

from __future__ import annotations

import io
from typing import Any

import pytest

from taskyard_client.progress import ProgressBar, fraction_done, render_line


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"status": "QUEUED", "progress": None}, 0.0),
        ({"status": "PROCESSING", "progress": None}, 0.1),
        ({"status": "PROCESSING", "progress": 0.42}, 0.42),
        ({"status": "PROCESSING", "progress": 7}, 1.0),  # clamped
        ({"status": "SUCCESS", "progress": None}, 1.0),
        ({"status": "FAILED", "progress": 0.5}, 0.5),
        ({"status": "SOMETHING_NEW"}, 0.0),
    ],
)
def test_fraction_done(record: dict[str, Any], expected: float) -> None:
    assert fraction_done(record) == expected


def test_render_line_shows_bar_percent_status_attempt_and_time() -> None:
    record = {"status": "PROCESSING", "progress": 0.5, "attempts": 1, "max_retries": 3}
    assert render_line(record, 2.44, cells=10) == "[#####-----]  50%  PROCESSING  attempt 1/4  2.4s"


def test_render_line_without_a_retry_budget() -> None:
    assert (
        render_line({"status": "QUEUED"}, 0, cells=4) == "[----]   0%  QUEUED      attempt 0  0.0s"
    )


def test_bar_redraws_one_line_and_ends_it() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.update({"status": "RETRYING", "attempts": 2, "max_retries": 10})
    bar.update({"status": "SUCCESS", "attempts": 2, "max_retries": 10})
    bar.finish()
    text = stream.getvalue()
    assert text.count("\r") == 2
    assert text.endswith("\n")
    last = text.split("\r")[-1]
    assert "100%" in last and "SUCCESS" in last
    # the second line is padded to cover the first (attempt 2/11 is as long in both)
    assert len(text.split("\r")[1]) <= len(last.rstrip("\n"))
