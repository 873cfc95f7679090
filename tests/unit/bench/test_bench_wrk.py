"""Reading wrk's report: throughput, latency percentiles in any unit, errors."""

from __future__ import annotations

import pytest

from bench.submit import WrkResult, parse_wrk, wrk_argv

WRK_OUTPUT = """\
Running 20s test @ http://127.0.0.1:5000/api/tasks
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.20ms    3.10ms  61.00ms   80.00%
    Req/Sec   563.10     40.20   650.00     70.00%
  Latency Distribution
     50%   13.90ms
     75%   15.50ms
     90%   18.00ms
     99%    1.02s
  22524 requests in 20.01s, 9.80MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   1125.63
Transfer/sec:    501.57KB
"""


def test_parse_wrk_reads_rate_percentiles_and_errors() -> None:
    assert parse_wrk(WRK_OUTPUT) == WrkResult(
        requests_per_second=1125.63,
        p50_ms=13.9,
        p99_ms=1020.0,
        requests=22524,
        non_2xx=4,
        socket_errors=6,
    )


def test_parse_wrk_without_errors_counts_none() -> None:
    clean = "\n".join(
        line for line in WRK_OUTPUT.splitlines() if "errors" not in line and "Non-2xx" not in line
    )
    result = parse_wrk(clean.replace("1.02s", "850us"))
    assert (result.non_2xx, result.socket_errors, result.p99_ms) == (0, 0, 0.85)


def test_parse_wrk_refuses_output_without_a_rate() -> None:
    with pytest.raises(ValueError, match="Requests/sec"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_wrk_argv_posts_the_bench_body() -> None:
    assert wrk_argv("http://h:1", 5, 16, 2) == [
        "wrk",
        "-t2",
        "-c16",
        "-d5s",
        "--latency",
        "-s",
        "bench/wrk_submit.lua",
        "http://h:1/api/tasks",
    ]
