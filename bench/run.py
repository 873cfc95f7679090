"""`make bench`: every Taskyard figure beside its baseline, measured in one run.

The benchmarks, one module each, run in this order on one API:
1. bench/submit.py: API submit (wrk) against a minimal Flask endpoint.
2. bench/end_to_end.py: HTTP submit -> data worker -> SUCCESS against plain Celery.
5, 6. bench/batch.py: batch submit, accepted/s and end to end.
3. bench/priority.py: high-priority latency under a data.low backlog.
7. bench/worker_drain.py: worker CPU per task with its queue full, against plain Celery.
4. Idle memory rows come from the processes each of the above starts.

`python -m bench.run e2e worker-drain` runs only those (names in BENCHMARKS).

Environment: BENCH_SCALE (default 1) scales the counts and wrk's duration, for a
quick trial (e.g. 0.05); BENCH_SUBMIT_THREADS (8); BENCH_PROFILE=1 also records
py-spy profiles (which slow what they sample: figures from such a run are not
comparable). Everything it starts runs in its own RabbitMQ vhost and Redis db and
is stopped at the end; logs stay in .run/bench/<time>/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

import redis
import requests

from bench.batch import bench_batch_accept, bench_e2e_batches
from bench.end_to_end import bench_e2e
from bench.priority import bench_priority
from bench.report import Report, render, say
from bench.session import PROFILE, SCALE, Run, load_average
from bench.submit import bench_submit
from bench.worker_drain import bench_worker_drain
from support import servers
from support.stack import REPO_ROOT, Backends, ManagedProcess, management, wait_http_ready
from taskyard_api.paths import READINESS_PATH


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 2**20:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    try:
        info["rabbitmq"] = management("GET", "/overview").json().get("rabbitmq_version", "?")
    except requests.RequestException:
        info["rabbitmq"] = "?"
    info["redis"] = str(
        redis.Redis(host=servers.REDIS_HOST, port=servers.REDIS_PORT)
        .info("server")
        .get("redis_version", "?")
    )
    try:
        info["wrk"] = (
            subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
            .stdout.split(" [")[0]
            .strip()
        )
    except OSError:
        info["wrk"] = "?"
    return info


# By name, for `python -m bench.run <name>...`, in the order `make bench` runs them.
BENCHMARKS: dict[str, Callable[[Run, ManagedProcess, str], None]] = {
    "submit": bench_submit,
    "e2e": bench_e2e,
    "batch": bench_batch_accept,
    "e2e-batches": bench_e2e_batches,
    "priority": lambda run, api, api_url: bench_priority(run, api_url),
    "worker-drain": bench_worker_drain,
}


def chosen_benchmarks(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="benchmark",
        help=f"run only these, in this order ({', '.join(BENCHMARKS)}); all by default",
    )
    chosen: list[str] = parser.parse_args(argv).benchmarks or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return chosen


def main() -> int:
    chosen = chosen_benchmarks()
    # SIGTERM (scripts/bench.sh on Ctrl-C or exit) still runs the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = REPO_ROOT / ".run" / "bench" / stamp
    (workdir / "files").mkdir(parents=True)
    load_start = load_average()
    info = machine()
    say(f"workdir {workdir}; load average {load_start}; scale {SCALE:g}")
    report = Report()
    backends = Backends.create("taskyard-bench")
    run = Run(workdir, backends, report)
    try:
        api, api_url = run.start_gunicorn("taskyard-api", None)
        wait_http_ready(f"{api_url}{READINESS_PATH}", api)
        for name in chosen:
            BENCHMARKS[name](run, api, api_url)
    finally:
        run.stop_all()
        backends.close()
    text = render(
        info,
        scale=SCALE,
        profiled=PROFILE,
        load_start=load_start,
        load_end=load_average(),
        report=report,
        seconds=time.monotonic() - started,
    )
    (workdir / "results.md").write_text(text + "\n")
    (workdir / "results.json").write_text(
        json.dumps(
            {
                "machine": info,
                "scale": SCALE,
                "rows": [asdict(r) for r in report.rows],
                "commands": report.commands,
                "notes": report.notes,
                "raw": report.raw,
            },
            indent=2,
            default=str,
        )
    )
    print(text)
    say(f"results in {workdir}/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
