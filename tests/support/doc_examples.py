"""The fence convention of the docs' examples, as pure functions.

A shell block's info string says what the tests do with it: `sh run` (run against a
test stack), `sh setup` (sets the variables the tests provide themselves) or
`sh skip=<reason>`. Output shown as `# => text` is checked against what the block prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
SKIP_REASONS = {
    "cluster": "needs a Kubernetes cluster (kubectl, helm install)",
    "kind": "creates a kind cluster (Docker, internet access)",
    "docker": "builds or runs the container images",
    "make-run": "needs `make run`'s fixed ports on this machine",
    "long-running": "starts the whole system or a whole test suite",
    "client": "run by tests/client/test_docs_examples.py against the client suite's own stack",
    "install": "installs into the reader's environment (tests/client/test_install.py: a venv)",
}
# What a setup block may set: the test gives these variables values of its own.
PROVIDED_VARIABLES = frozenset({"TASKYARD_URL", "TASKYARD_API_KEY"})
EXPECTED_OUTPUT_PREFIX = "# =>"
_FENCE = re.compile(r"^(?P<indent> *)```(?P<info>.*)$")
_SETUP_LINE = re.compile(r"^export (?P<name>[A-Z_]+)=\S.*$")
# One curl call: up to the end of its command (a pipe, ;, && or ||).
_CURL_CALL = re.compile(r"\bcurl\b(?:[^|;&]|&(?!&))*")
_API_URL = re.compile(r"\$TASKYARD_URL/api/")
_OPEN_API_URL = re.compile(r"\$TASKYARD_URL/api/(openapi\.json|docs)\b")
_KEY_HEADER = "Authorization: Bearer $TASKYARD_API_KEY"
_ELLIPSIS = re.compile(r"…|\.\.\.")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    mark: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        return self.mark.removeprefix("skip=") if self.mark.startswith("skip=") else None


def doc_files() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def parse_blocks(path: Path, text: str) -> list[Block]:
    """Every fenced block of a Markdown text, with its language and mark."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        words = opening["info"].split()
        body: list[str] = []
        start = index + 1
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][len(opening["indent"]) :])
            index += 1
        blocks.append(
            Block(
                path,
                start,
                words[0] if words else "",
                " ".join(words[1:]),
                "\n".join(body) + "\n",
            )
        )
        index += 1
    return blocks


def marking_problem(block: Block) -> str | None:
    """Why a block breaks the convention, or None when it keeps it."""
    if not block.language:
        return "a block without a language: name one (`text` for what is not a command)"
    if block.language not in SHELL_LANGUAGES:
        return None
    if block.mark in {"run", "setup"}:
        return setup_problem(block) if block.mark == "setup" else None
    reason = block.skip_reason
    if reason is None:
        return "a shell block needs `run`, `setup` or `skip=<reason>` after its language"
    if reason not in SKIP_REASONS:
        return f"unknown skip reason {reason!r}; known: {', '.join(SKIP_REASONS)}"
    return None


def unkeyed_api_calls(block: Block) -> list[str]:
    """The curl commands of a runnable block that call an /api route without the key: the
    stack `make run` starts wants one (the test's session stack is open, so only this
    check would notice a missing header)."""
    if block.language not in SHELL_LANGUAGES or block.mark != "run":
        return []
    commands = block.code.replace("\\\n", " ").splitlines()
    return [
        command.strip()
        for command in commands
        for call in _CURL_CALL.findall(command)
        if _API_URL.search(call) and not _OPEN_API_URL.search(call) and _KEY_HEADER not in call
    ]


def setup_problem(block: Block) -> str | None:
    for line in block.code.splitlines():
        assignment = _SETUP_LINE.match(line.strip())
        if line.strip() and (assignment is None or assignment["name"] not in PROVIDED_VARIABLES):
            return f"a setup block may only export {sorted(PROVIDED_VARIABLES)}: {line!r}"
    return None


def expected_outputs(code: str) -> list[str]:
    return [
        line.strip().removeprefix(EXPECTED_OUTPUT_PREFIX).strip()
        for line in code.splitlines()
        if line.strip().startswith(EXPECTED_OUTPUT_PREFIX)
    ]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def missing_output(output: str, expected: list[str]) -> str | None:
    """The first expected text not found in the output, in order, whitespace ignored."""
    seen = _squeeze(output)
    position = 0
    for text in expected:
        for fragment in _ELLIPSIS.split(_squeeze(text)):
            found = seen.find(fragment, position)
            if found < 0:
                return text
            position = found + len(fragment)
    return None
