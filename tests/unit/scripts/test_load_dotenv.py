"""scripts/load-dotenv.sh: what the environment sets wins over .env, as in docker compose."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

LOADER = Path(__file__).resolve().parents[3] / "scripts" / "load-dotenv.sh"


def loaded(tmp_path: Path, dotenv: str, environment: dict[str, str], name: str) -> str | None:
    (tmp_path / ".env").write_text(dotenv)
    script = f'. "{LOADER}"; load_dotenv_defaults .env; printf %s "${{{name}-<unset>}}"'
    out = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return None if out == "<unset>" else out


@pytest.mark.parametrize(
    ("dotenv", "environment", "expected"),
    [
        ("TASKYARD_X=from-file\n", {}, "from-file"),
        ("TASKYARD_X=from-file\n", {"TASKYARD_X": "someone:secret"}, "someone:secret"),
        ("TASKYARD_X=from-file\n", {"TASKYARD_X": ""}, ""),
        ("export TASKYARD_X=exported\n", {}, "exported"),
        ('TASKYARD_X="a b # not a comment"\n', {}, "a b # not a comment"),
        ("TASKYARD_X='single quoted'\n", {}, "single quoted"),
        ("TASKYARD_X=value # comment\n", {}, "value"),
        ("TASKYARD_X=admin:p=ss\n", {}, "admin:p=ss"),
        ("# TASKYARD_X=commented\n", {}, None),
        ("TASKYARD_X=no-newline-at-end", {}, "no-newline-at-end"),
    ],
)
def test_environment_wins_over_dotenv(
    tmp_path: Path, dotenv: str, environment: dict[str, str], expected: str | None
) -> None:
    assert loaded(tmp_path, dotenv, environment, "TASKYARD_X") == expected


def test_missing_dotenv_is_no_error(tmp_path: Path) -> None:
    script = f'. "{LOADER}"; load_dotenv_defaults .env && echo ok'
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.stdout.strip() == "ok"
