"""Shell scripts take the queues from taskyard_common.topology, never a list of their own."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from taskyard_common.topology import PRIORITIES, QUEUE_NAMES, TASK_TYPES

ROOT = Path(__file__).resolve().parents[3]
SHELL_SCRIPTS = sorted([*ROOT.joinpath("scripts").glob("*.sh"), ROOT / ".ci" / "run"])


def _local_workers():
    spec = importlib.util.spec_from_file_location(
        "local_workers", ROOT / "scripts" / "local_workers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_run_starts_one_worker_per_queue_on_its_own_metrics_port(tmp_path: Path) -> None:
    for task_type in TASK_TYPES:
        (tmp_path / f"taskyard-{task_type}-worker").touch()
    lines = _local_workers().procfile_lines(tmp_path)
    names = [line.partition(":")[0] for line in lines]
    ports = [int(line.partition("METRICS_PORT=")[2].split()[0]) for line in lines]
    assert names == [name.replace(".", "-") for name in QUEUE_NAMES]
    assert ports == list(range(9101, 9101 + len(QUEUE_NAMES)))
    assert lines[0].endswith(f"{tmp_path}/taskyard-data-worker --priority high")


def test_a_worker_not_installed_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "taskyard-email-worker").touch()
    lines = _local_workers().procfile_lines(tmp_path)
    assert [line.partition(":")[0] for line in lines] == [f"email-{p}" for p in PRIORITIES]


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda path: path.name)
def test_no_shell_script_lists_the_types_or_priorities(script: Path) -> None:
    for number, line in enumerate(script.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        # Standalone words: `data-worker` names an image, not a task type.
        words = set(re.findall(r"(?<![\w-])[a-z]+(?![\w-])", code))
        for names in (TASK_TYPES, PRIORITIES):
            assert not set(names) <= words, f"{script.name}:{number} lists {names}: {line.strip()}"
