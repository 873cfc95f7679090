"""The shell example of docs/api-batch.md, run as written against a test stack."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from support.stack import REPO_ROOT, Stack

DOC = REPO_ROOT / "docs" / "api-batch.md"


def _shell_blocks(path: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(), flags=re.DOTALL)


def test_the_batch_example_queues_its_tasks(stack: Stack) -> None:
    (example,) = _shell_blocks(DOC)

    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", example],
        env={**stack.env, "TASKYARD_URL": stack.base_url, "TASKYARD_API_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    items = json.loads(run.stdout)
    assert [(i["queue"], i["status"]) for i in items] == [
        ("data.normal", "QUEUED"),
        ("data.high", "QUEUED"),
    ]
