"""py-spy flame graphs (SVG) of the API's single submit or of a data worker, under load.

    uv run python -m bench.flame docs/images/flame-submit.svg [seconds]
    uv run python -m bench.flame --worker docs/images/flame-worker.svg [seconds]
    uv run python -m bench.flame /tmp/submit-stacks.txt [seconds]   # collapsed stacks

Starts the API under the bench's gunicorn settings in a private vhost and Redis db (as
`make bench` does). The submit graph records every gunicorn worker while wrk sends
POST /api/tasks on 16 connections. The worker graph first queues minimal data tasks (the
end-to-end benchmark's, in batches), then starts `taskyard-data-worker --concurrency 2`
and records it and its pool while it drains them. py-spy slows what it samples: read the
graph for where the time goes, not for throughput.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.load import http_batch_submitter, run_chunked
from bench.report import Report, say
from bench.session import API_KEY, E2E_CONCURRENCY, SUBMIT_THREADS, Run
from bench.submit import WRK_CONNECTIONS, WRK_THREADS, wrk_argv
from support.stack import BIN, REPO_ROOT, Backends, ManagedProcess, wait_http_ready
from taskyard_api.paths import READINESS_PATH

DEFAULT_SECONDS = 15
SAMPLES_PER_SECOND = 200
# Enough queued tasks to keep the worker busy for the whole recording, py-spy's drag included.
WORKER_TASKS_PER_SECOND = 400


def record(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy over `pid` and its children for `seconds`, into an SVG or collapsed stacks."""
    return subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            str(SAMPLES_PER_SECOND),
            "--duration",
            str(seconds),
            "--format",
            "raw" if output.suffix == ".txt" else "flamegraph",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def submit_flame(run: Run, api: ManagedProcess, url: str, seconds: int, output: Path) -> None:
    env = {"BENCH_API_KEY": API_KEY, "PATH": "/usr/bin:/bin"}
    warmup = wrk_argv(url, 2, WRK_CONNECTIONS, WRK_THREADS)
    subprocess.run(warmup, env=env, cwd=REPO_ROOT, capture_output=True, check=True)
    say(f"recording {seconds}s of POST /api/tasks into {output}")
    spy = record(api.pid, seconds, output)
    load = wrk_argv(url, seconds, WRK_CONNECTIONS, WRK_THREADS)
    done = subprocess.run(load, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    spy.wait(timeout=seconds + 60)
    print(done.stdout)


def worker_flame(run: Run, api: ManagedProcess, url: str, seconds: int, output: Path) -> None:
    tasks = seconds * WORKER_TASKS_PER_SECOND
    say(f"queueing {tasks} minimal data tasks on data.normal")
    queued = run_chunked(tasks, SUBMIT_THREADS, http_batch_submitter(url, "normal"))
    if queued.errors:
        raise RuntimeError(f"submit errors: {queued.errors[0]}")
    worker = run.start_data_worker("normal", E2E_CONCURRENCY)
    say(f"recording {seconds}s of taskyard-data-worker (pid {worker.pid}) into {output}")
    record(worker.pid, seconds, output).wait(timeout=seconds + 60)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flame", description=__doc__)
    parser.add_argument("output", type=Path, help=".svg for a flame graph, .txt for stacks")
    parser.add_argument("seconds", type=int, nargs="?", default=DEFAULT_SECONDS)
    parser.add_argument("--worker", action="store_true", help="a data worker, not the API")
    args = parser.parse_args()
    output = args.output.resolve()
    workdir = REPO_ROOT / ".run" / "bench" / f"flame-{time.strftime('%Y%m%dT%H%M%S')}"
    (workdir / "files").mkdir(parents=True)
    backends = Backends.create("taskyard-bench")
    run = Run(workdir, backends, Report())
    try:
        api, url = run.start_gunicorn("taskyard-api", None)
        wait_http_ready(f"{url}{READINESS_PATH}", api)
        (worker_flame if args.worker else submit_flame)(run, api, url, args.seconds, output)
    finally:
        run.stop_all()
        backends.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
