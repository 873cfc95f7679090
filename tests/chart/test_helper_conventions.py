"""The chart's named templates: one file per topic, a usage docblock on each, and one
calling convention (templates/_helpers.tpl states it)."""

from __future__ import annotations

import re

import chartlib

TEMPLATES = chartlib.CHART_DIR / "templates"
DEFINE = re.compile(r'\{\{-? define "([^"]+)" -?\}\}')
DOCBLOCK_THEN_DEFINE = re.compile(
    r"\{\{/\*\n(?P<doc>(?:(?!\*/\}\}).)*?)\nUsage: \{\{ (?P<usage>[^\n]*) \}\}\n\*/\}\}\n"
    r'\{\{- define "(?P<name>[^"]+)" -\}\}',
    re.DOTALL,
)
# An include whose argument is a positional list or a bare value (a field, a variable):
# anything but the root context ($, ., .root, $root) or a dict.
POSITIONAL_CALL = re.compile(
    r'include "taskyard\.[\w.]+" (\(list\b|\.(?!root\b)[A-Za-z]|\$(?!root\b)[A-Za-z])'
)


def helper_files() -> list:
    return sorted(TEMPLATES.glob("_*.tpl"))


def test_helpers_tpl_is_the_index_of_the_topic_files() -> None:
    index = (TEMPLATES / "_helpers.tpl").read_text()
    assert not DEFINE.search(index), "_helpers.tpl holds the index and the convention only"
    for path in helper_files():
        if path.name != "_helpers.tpl":
            assert f"  {path.name} " in index, f"{path.name} is missing from the index"


def test_every_helper_has_a_usage_docblock_that_calls_it() -> None:
    names: list[str] = []
    for path in helper_files():
        text = path.read_text()
        defined = DEFINE.findall(text)
        documented = {m["name"]: m["usage"] for m in DOCBLOCK_THEN_DEFINE.finditer(text)}
        assert sorted(documented) == sorted(defined), f"{path.name}: a define lacks its docblock"
        for name, usage in documented.items():
            assert usage.startswith(f'include "{name}" '), f"{name}: usage does not call it"
        names += defined
    assert len(names) == len(set(names)), "a helper is defined twice"


def test_no_helper_is_called_with_positional_arguments() -> None:
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()[:120]}"
        for path in sorted(TEMPLATES.rglob("*"))
        if path.is_file()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if POSITIONAL_CALL.search(line)
    ]
    assert not offenders, "helpers take $ or a dict of named arguments:\n" + "\n".join(offenders)
