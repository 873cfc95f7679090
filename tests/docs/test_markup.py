"""The docs' fence convention: every shell block is marked, and the checks of `# =>` work."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.doc_examples import (
    Block,
    doc_files,
    expected_outputs,
    marking_problem,
    missing_output,
    parse_blocks,
    unkeyed_api_calls,
)

DOC = Path(__file__)


def block(info: str, code: str = "true\n") -> Block:
    language, _, mark = info.partition(" ")
    return Block(DOC, 1, language, mark, code)


@pytest.mark.parametrize(
    ("info", "code", "problem"),
    [
        ("sh run", "curl x\n", None),
        ("bash skip=cluster", "kubectl get pods\n", None),
        ("sh setup", "export TASKYARD_URL=http://127.0.0.1:8000\n", None),
        ("json", "{}\n", None),
        ("text", "a tree\n", None),
        ("sh", "curl x\n", "needs `run`"),
        ("console", "$ ls\n", "needs `run`"),
        ("", "make bench\n", "without a language"),
        ("sh skip=someday", "true\n", "unknown skip reason"),
        ("sh setup", "export OTHER=1\n", "may only export"),
        ("sh setup", "curl x\n", "may only export"),
    ],
)
def test_marking(info: str, code: str, problem: str | None) -> None:
    found = marking_problem(block(info, code))
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(
    ("output", "expected", "missing"),
    [
        ('{"status":"SUCCESS","n":1}\n', ['{"status": "SUCCESS",'], None),
        ("202\n200\n", ["202", "200"], None),
        ("200\n202\n", ["202", "200"], "200"),
        ('{"a":1,"b":2,"c":3}', ['{"a": 1, … "c": 3}'], None),
        ('{"a":1,"b":2}', ['{"a": 1, ... "c": 3}'], '{"a": 1, ... "c": 3}'),
        ("FAILED\n", ["SUCCESS"], "SUCCESS"),
        ("anything\n", [], None),
    ],
)
def test_missing_output(output: str, expected: list[str], missing: str | None) -> None:
    assert missing_output(output, expected) == missing


def test_parse_blocks_reads_info_strings_indented_fences_and_expected_output() -> None:
    text = "intro\n```sh run\necho hi\n# => hi\n```\n- item\n\n  ```json\n  {}\n  ```\n"
    first, second = parse_blocks(DOC, text)
    assert (first.language, first.mark, first.line) == ("sh", "run", 2)
    assert expected_outputs(first.code) == ["hi"]
    assert (second.language, second.code) == ("json", "{}\n")


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_every_shell_block_says_what_the_tests_do_with_it(path: Path) -> None:
    problems = [
        f"{b.where}: {problem}"
        for b in parse_blocks(path, path.read_text(encoding="utf-8"))
        if (problem := marking_problem(b))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("code", "unkeyed"),
    [
        ('curl -s "$TASKYARD_URL/api/queues" -H "Authorization: Bearer $TASKYARD_API_KEY"\n', 0),
        ('curl -s "$TASKYARD_URL/api/queues" | jq .\n', 1),
        (
            'curl -s "$TASKYARD_URL/api/tasks" \\\n'
            '  -H "Authorization: Bearer $TASKYARD_API_KEY"\n',
            0,
        ),
        ('curl -s "$TASKYARD_URL/api/openapi.json" | jq .info\n', 0),
        ('curl -s "$TASKYARD_URL/readyz"\n', 0),
    ],
)
def test_unkeyed_api_calls(code: str, unkeyed: int) -> None:
    assert len(unkeyed_api_calls(block("sh run", code))) == unkeyed


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_every_api_call_sends_the_key(path: Path) -> None:
    """`make run` is keyed: an example without the header would answer 401 there."""
    problems = [
        f"{b.where}: {command}"
        for b in parse_blocks(path, path.read_text(encoding="utf-8"))
        for command in unkeyed_api_calls(b)
    ]
    assert not problems, "\n".join(problems)
