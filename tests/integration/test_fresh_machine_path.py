"""The README's commands on a fresh machine: no uv on PATH and no ~/.local/bin either.

scripts/ensure-uv.sh must install uv where the caller finds it without touching PATH
(it prints the folder). Needs PyPI; the machine's own python3 is the only tool given.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ENSURE_UV = Path(__file__).resolve().parents[2] / "scripts" / "ensure-uv.sh"


def test_ensure_uv_installs_uv_without_a_path_change(tmp_path: Path) -> None:
    fresh_bin = tmp_path / "bin"
    fresh_bin.mkdir()
    (fresh_bin / "python3").symlink_to(shutil.which("python3") or sys.executable)
    fresh_env = {
        "HOME": str(tmp_path / "home"),
        "PATH": f"{fresh_bin}:/usr/sbin:/usr/bin:/sbin:/bin",
        "TASKYARD_UV_DIR": str(tmp_path / "uv"),
    }
    done = subprocess.run(
        [str(ENSURE_UV)], env=fresh_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    uv_dir = Path(done.stdout.strip())
    version = subprocess.run(
        [str(uv_dir / "uv"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("uv ")
    # A second call finds the same uv without installing again.
    again = subprocess.run([str(ENSURE_UV)], env=fresh_env, capture_output=True, text=True)
    assert again.stdout.strip() == str(uv_dir)
    assert "installing" not in again.stderr
