"""Every ```sh skip=client and ```python example in docs/client.md, run in order on a stack.

A shell example whose first line is `# needs: METHOD /path, ...` runs only when the API's
OpenAPI document has those operations (newer endpoints); otherwise it is reported as skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import cli_env

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
# Shell blocks carry `skip=client`: the docs-wide example test leaves them to this one.
FENCE = re.compile(r"^```(sh|python)(?: skip=client)?\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NEEDS = re.compile(r"^# needs: (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    language: str
    code: str
    line: int

    def needed_operations(self) -> list[tuple[str, str]]:
        found = NEEDS.match(self.code)
        if not found:
            return []
        return [
            (method.lower(), path)
            for method, path in (item.split() for item in found.group(1).split(","))
        ]


def examples() -> list[Example]:
    text = DOC.read_text()
    return [
        Example(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]


def test_the_doc_has_examples_of_both_kinds() -> None:
    kinds = [example.language for example in examples()]
    assert kinds.count("sh") >= 5 and kinds.count("python") >= 2


def test_every_example_runs(client_stack, tmp_path: Path) -> None:
    env = cli_env(client_stack.base_url)
    document = httpx.get(f"{client_stack.base_url}/api/openapi.json").json()
    offered = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    skipped = []
    for example in examples():
        missing = [op for op in example.needed_operations() if op not in offered]
        if missing:
            skipped.append((example.line, missing))
            continue
        argv = (
            ["bash", "-euo", "pipefail", "-c", example.code]
            if example.language == "sh"
            else [sys.executable, "-c", example.code]
        )
        ran = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert ran.returncode == 0, (
            f"docs/client.md line {example.line} exited {ran.returncode}\n"
            f"--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"
        )
    if skipped:
        pytest.skip(f"examples needing endpoints this API lacks: {skipped}")
