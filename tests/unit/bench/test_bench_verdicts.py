"""Each benchmark's targets as tables: measured figures in, the verdict of each row out."""

from __future__ import annotations

import pytest

from bench.batch import batch_accept_rows, e2e_batches_rows
from bench.end_to_end import E2EResult, e2e_rows, worker_idle_row
from bench.priority import latency_row
from bench.report import Row
from bench.submit import WrkResult, WrkRun, submit_rows
from support.memory import Memory


def met(rows: list[Row]) -> dict[str, str]:
    """The rows that carry a target, by figure, with their verdict."""
    return {row.figure: row.met for row in rows if row.target}


def wrk(rps: float, p99_ms: float, api_cpu_ms: float | None = 1.0) -> WrkRun:
    cpu = {} if api_cpu_ms is None else {"api": api_cpu_ms}
    return WrkRun(WrkResult(rps, p99_ms / 2, p99_ms, int(rps * 20), 0, 0), "wrk", [], cpu)


@pytest.mark.parametrize(
    ("ours", "base", "ours_one_p99", "expected"),
    [
        # ratio 0.6: issue 10 (>= 0.5x) and issue 15 (>= 0.25x) met; p99s under target
        (wrk(600, 15, 2.0), wrk(1000, 10, 1.0), 4.0, ["yes"] * 5),
        # ratio 0.4: issue 10's 0.5x missed, issue 15's 0.25x met
        (wrk(400, 15, 2.0), wrk(1000, 10, 1.0), 4.0, ["**no**", "yes", "yes", "yes", "yes"]),
        # ratio 0.2 and a slow p99 at 16 connections and at 1
        (
            wrk(200, 25, 2.0),
            wrk(1000, 10, 1.0),
            6.0,
            ["**no**", "**no**", "**no**", "**no**", "yes"],
        ),
        # API CPU 5x the minimal endpoint's: over issue 15's 4x
        (wrk(600, 15, 5.0), wrk(1000, 10, 1.0), 4.0, ["yes"] * 4 + ["**no**"]),
        # the minimal endpoint's CPU unmeasured: no verdict
        (wrk(600, 15, 2.0), wrk(1000, 10, None), 4.0, ["yes"] * 4 + ["n/a"]),
    ],
)
def test_submit_targets(
    ours: WrkRun, base: WrkRun, ours_one_p99: float, expected: list[str]
) -> None:
    rows = submit_rows(ours, base, wrk(300, ours_one_p99), wrk(900, 1.0), "[1] vs [2]", "[3]")
    assert list(met(rows).values()) == expected
    assert rows[0].ratio == f"{ours.result.requests_per_second / 1000:.2f}x"


def e2e(tasks: int, seconds: float, worker_cpu_ms: float, failed: int = 0) -> E2EResult:
    return E2EResult(
        tasks, tasks / 2, 2.0, seconds - 2.0, seconds, failed, 0, {"worker": worker_cpu_ms}
    )


@pytest.mark.parametrize(
    ("ours", "expected"),
    [
        (e2e(100, 10.0, 3.0), {"throughput": "yes", "cpu": "yes"}),  # 0.9x, cpu 1.5x
        (e2e(100, 14.0, 3.1), {"throughput": "**no**", "cpu": "**no**"}),  # 0.64x, cpu 1.55x
        (e2e(100, 10.0, 2.0, failed=1), {"throughput": "**no**", "cpu": "yes"}),  # a failure
    ],
)
def test_end_to_end_targets(ours: E2EResult, expected: dict[str, str]) -> None:
    base, confirmed = e2e(100, 9.0, 2.0), e2e(100, 12.0, 4.0)
    rows = e2e_rows(ours, base, confirmed, "[1] vs [2]", "[1] vs [2]; [3]")
    verdicts = list(met(rows).values())
    assert {"throughput": verdicts[0], "cpu": verdicts[1]} == expected
    worker_cpu = next(row for row in rows if row.figure.startswith("2. worker CPU"))
    cpu_ms = ours.cpu_ms_per_task["worker"]
    assert worker_cpu.ratio == f"{cpu_ms / 2.0:.2f}x; {cpu_ms / 4.0:.2f}x"


@pytest.mark.parametrize(
    ("ours_rate", "base_rate", "failed", "expected"),
    [
        (1200.0, 1000.0, False, ("1.20x", "yes")),
        (900.0, 1000.0, False, ("0.90x", "**no**")),
        (1200.0, 1000.0, True, ("1.20x", "**no**")),
        (1200.0, None, False, ("n/a", "**no**")),  # plain Celery accepted nothing
    ],
)
def test_batch_accept_target(
    ours_rate: float, base_rate: float | None, failed: bool, expected: tuple[str, str]
) -> None:
    row = batch_accept_rows(ours_rate, base_rate, failed, {}, {}, "[1]")[0]
    assert (row.ratio, row.met) == expected


@pytest.mark.parametrize(
    ("throughput", "plain", "failed", "expected"),
    [
        (60.0, {"tasks": 500, "total_seconds": 10.0}, False, ("1.20x", "yes")),
        (40.0, {"tasks": 500, "total_seconds": 10.0}, False, ("0.80x", "**no**")),
        (60.0, {"tasks": 500, "total_seconds": 10.0}, True, ("1.20x", "**no**")),
        (60.0, None, False, ("n/a", "n/a")),  # benchmark 2 did not run
    ],
)
def test_end_to_end_batches_target(
    throughput: float, plain: dict[str, float] | None, failed: bool, expected: tuple[str, str]
) -> None:
    row = e2e_batches_rows(throughput, plain, failed, 100.0, {"api": 1.0}, "[1]")[0]
    assert (row.ratio, row.met) == expected


@pytest.mark.parametrize(
    ("record_ms", "expected"),
    [
        ([10.0] * 95 + [249.0] * 5, "yes"),
        ([10.0] * 94 + [250.0] * 6, "**no**"),
        ([], "**no**"),
    ],
)
def test_high_priority_p95_target(record_ms: list[float], expected: str) -> None:
    assert latency_row(1000, "no low worker", record_ms, record_ms, "[1]").met == expected


@pytest.mark.parametrize(("largest_mb", "expected"), [(80.0, "yes"), (80.1, "**no**")])
def test_idle_worker_memory_target(largest_mb: float, expected: str) -> None:
    ours = Memory(processes=2, rss_mb=150.0, pss_mb=100.0, largest_rss_mb=largest_mb)
    base = Memory(processes=2, rss_mb=120.0, pss_mb=90.0, largest_rss_mb=70.0)
    row = worker_idle_row("concurrency 2", ours, base, "[1]")
    assert row.met == expected
    assert row.figure.startswith("4. idle RSS of a data worker, concurrency 2, 2 processes")
