"""A py-spy flame graph (SVG) of the API's single submit under wrk load.

    uv run python -m bench.flame docs/images/flame-submit.svg [seconds]
    uv run python -m bench.flame /tmp/submit-stacks.txt [seconds]   # collapsed stacks

Starts the API under the bench's gunicorn settings in a private vhost and Redis db (as
`make bench` does), records every gunicorn worker with py-spy while wrk sends
POST /api/tasks on 16 connections, and writes the SVG. py-spy slows what it samples:
read the graph for where the time goes, not for throughput.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.report import Report, say
from bench.session import API_KEY, Run
from bench.submit import WRK_CONNECTIONS, WRK_THREADS, wrk_argv
from support.stack import BIN, REPO_ROOT, Backends, wait_http_ready

DEFAULT_SECONDS = 15
SAMPLES_PER_SECOND = 200


def main() -> int:
    output = Path(sys.argv[1]).resolve()
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_SECONDS
    workdir = REPO_ROOT / ".run" / "bench" / f"flame-{time.strftime('%Y%m%dT%H%M%S')}"
    (workdir / "files").mkdir(parents=True)
    backends = Backends.create("taskyard-bench")
    run = Run(workdir, backends, Report())
    try:
        api, url = run.start_gunicorn("taskyard-api", None)
        wait_http_ready(f"{url}/readyz", api)
        env = {"BENCH_API_KEY": API_KEY, "PATH": "/usr/bin:/bin"}
        warmup = wrk_argv(url, 2, WRK_CONNECTIONS, WRK_THREADS)
        subprocess.run(warmup, env=env, cwd=REPO_ROOT, capture_output=True, check=True)
        say(f"recording {seconds}s of POST /api/tasks into {output}")
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(api.pid),
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
        load = wrk_argv(url, seconds, WRK_CONNECTIONS, WRK_THREADS)
        done = subprocess.run(
            load, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
        spy.wait(timeout=seconds + 60)
        print(done.stdout)
    finally:
        run.stop_all()
        backends.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
