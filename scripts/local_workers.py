"""The Procfile lines of the workers `make run` starts: one per queue of the topology, each
serving its Prometheus metrics on its own port, 9101 (data.high) to 9109 (file.low).

    .venv/bin/python scripts/local_workers.py .venv/bin   (scripts/run-local.sh)
"""

from __future__ import annotations

import sys
from pathlib import Path

from taskyard_common.topology import QUEUE_NAMES, parse_queue_name

FIRST_METRICS_PORT = 9101


def procfile_lines(venv_bin: Path) -> list[str]:
    """A worker whose command is not installed in `venv_bin` is left out."""
    lines = []
    for offset, queue in enumerate(QUEUE_NAMES):
        task_type, priority = parse_queue_name(queue)
        command = venv_bin / f"taskyard-{task_type}-worker"
        if command.is_file():
            port = FIRST_METRICS_PORT + offset
            lines.append(
                f"{task_type}-{priority}: env TASKYARD_WORKER_METRICS_PORT={port}"
                f" {command} --priority {priority}"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(procfile_lines(Path(sys.argv[1]))))
