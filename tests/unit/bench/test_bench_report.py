"""The bench's table: numbering of commands, grouping of rows, number formats, percentiles."""

from __future__ import annotations

import pytest

from bench.report import Report, Row, fmt, percentile, ratio_text, render, verdict


@pytest.mark.parametrize(("ok", "shown"), [(True, "yes"), (False, "**no**"), (None, "n/a")])
def test_verdict(ok: bool | None, shown: str) -> None:
    assert verdict(ok) == shown


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [(1234.567, 1, "1,234.6"), (0.125, 2, "0.12"), (None, 1, "n/a"), (3.0, 0, "3")],
)
def test_fmt(value: float | None, digits: int, shown: str) -> None:
    assert fmt(value, digits) == shown


@pytest.mark.parametrize(("ratio", "shown"), [(0.5, "0.50x"), (1.234, "1.23x"), (None, "n/a")])
def test_ratio_text(ratio: float | None, shown: str) -> None:
    assert ratio_text(ratio) == shown


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 95, None),
        ([7.0], 50, 7.0),
        ([float(v) for v in range(1, 101)], 95, 95.0),
        ([float(v) for v in range(1, 101)], 50, 50.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([3.0, 1.0, 2.0], 100, 3.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_a_command_is_listed_once_and_referenced_by_number() -> None:
    report = Report()
    assert report.command("wrk a") == "[1]"
    assert report.command("wrk b") == "[2]"
    assert report.command("wrk a") == "[1]"
    assert report.commands == ["wrk a", "wrk b"]


def test_markdown_groups_rows_by_benchmark_in_measured_order() -> None:
    report = Report()
    report.add(
        Row("2. end to end", "10.0", "12.0", "0.83x", ">= 0.8x", "yes", "[1]"),
        Row("1. submit", "900.0", cmd="[2]"),
        Row("2. drain", "1.00"),
    )
    report.command("one")
    report.command("two")
    report.notes.append("a note")
    assert report.markdown().splitlines() == [
        "| figure | Taskyard | baseline | ratio | target | met | cmd |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
        "| 1. submit | 900.0 |  |  |  |  | [2] |",
        "| 2. end to end | 10.0 | 12.0 | 0.83x | >= 0.8x | yes | [1] |",
        "| 2. drain | 1.00 |  |  |  |  |  |",
        "",
        "Commands:",
        "[1] `one`",
        "[2] `two`",
        "",
        "- a note",
    ]


def test_render_heads_the_table_with_the_machine_and_the_load() -> None:
    info = {
        "date": "2026-11-30 03:00 UTC",
        "nproc": "2",
        "cpu": "Some CPU",
        "ram": "3.8 GiB",
        "kernel": "6.1",
        "python": "3.12.1",
        "rabbitmq": "3.10.8",
        "redis": "7.0.15",
        "wrk": "wrk 4.1.0",
    }
    text = render(
        info,
        scale=0.05,
        profiled=True,
        load_start="1.00 2.00 3.00",
        load_end="1.50 2.00 3.00",
        report=Report(),
        seconds=61.4,
    )
    assert text.splitlines()[:3] == [
        "Taskyard benchmark, 2026-11-30 03:00 UTC, BENCH_SCALE=0.05 (py-spy attached: figures"
        " distorted)",
        "machine: 2 x Some CPU, 3.8 GiB RAM, Linux 6.1, Python 3.12.1, RabbitMQ 3.10.8,"
        " Redis 7.0.15, wrk 4.1.0",
        "load average (1/5/15 min): 1.00 2.00 3.00 at the start, 1.50 2.00 3.00 at the end;"
        " run took 61 s",
    ]
