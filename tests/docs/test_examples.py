"""Every `sh run` block of the README and docs/, run against the session's test stack.

The blocks of one file run in order in one bash, so a variable or a function one block
defines serves the next, in a fresh folder holding the files the examples upload.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from support.doc_examples import Block, doc_files, expected_outputs, missing_output, parse_blocks
from support.servers import missing_server
from support.stack import Stack

FILE_TIMEOUT_SECONDS = 240
# The commands the examples use besides the shell's own (.ci/run installs them).
EXAMPLE_TOOLS = ("bash", "curl", "jq", "unzip", "sha256sum")
BLOCK_MARKER = "@@docs-example-block@@"
# The photo's size is what docs/task-types.md shows a 256 x 256 thumbnail of it to be.
PHOTO_SIZE = (1024, 683)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def runnable_blocks(path: Path) -> list[Block]:
    return [b for b in parse_blocks(path, path.read_text(encoding="utf-8")) if b.mark == "run"]


FILES_WITH_EXAMPLES = [path for path in doc_files() if runnable_blocks(path)]


def example_folder(folder: Path) -> Path:
    photo = io.BytesIO()
    Image.new("RGB", PHOTO_SIZE, (200, 120, 40)).save(photo, "JPEG")
    (folder / "photo.jpg").write_bytes(photo.getvalue())
    (folder / "report.pdf").write_bytes(PDF)
    return folder


def script_of(blocks: list[Block]) -> str:
    parts = ["set -euo pipefail"]
    for block in blocks:
        parts += [f"printf '\\n%s\\n' '{BLOCK_MARKER}'", block.code]
    return "\n".join(parts) + "\n"


def outputs_per_block(stdout: str) -> list[str]:
    return stdout.split(f"\n{BLOCK_MARKER}\n")[1:]


@pytest.mark.integration
@pytest.mark.parametrize("path", FILES_WITH_EXAMPLES, ids=lambda p: p.name)
def test_examples_run_and_print_what_the_docs_show(
    path: Path, stack: Stack, tmp_path: Path
) -> None:
    for tool in EXAMPLE_TOOLS:
        if shutil.which(tool) is None:
            missing_server(f"{tool}, which the docs' examples use,")
    blocks = runnable_blocks(path)
    # The examples send TASKYARD_API_KEY; the session stack is open (the README's examples
    # send no key), so it accepts this one as it would the key `make run` generates.
    env = {**os.environ, "TASKYARD_URL": stack.base_url, "TASKYARD_API_KEY": "docs-example-key"}
    finished = subprocess.run(
        ["bash", "-c", script_of(blocks)],
        cwd=example_folder(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=FILE_TIMEOUT_SECONDS,
        check=False,
    )
    outputs = outputs_per_block(finished.stdout)
    if finished.returncode != 0:
        failed = blocks[len(outputs) - 1] if outputs else blocks[0]
        pytest.fail(
            f"{failed.where} exited with {finished.returncode}\n"
            f"---- block\n{failed.code}---- output\n{outputs[-1] if outputs else ''}"
            f"---- stderr\n{finished.stderr[-3000:]}"
        )
    assert len(outputs) == len(blocks)
    problems = [
        f"{block.where}: expected {missing!r}\n---- output\n{output}"
        for block, output in zip(blocks, outputs, strict=True)
        if (missing := missing_output(output, expected_outputs(block.code)))
    ]
    assert not problems, "\n".join(problems)
