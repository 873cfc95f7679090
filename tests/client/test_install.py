"""`pip install ./libs/client` on its own: httpx and its dependencies, nothing of the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_PROJECT = REPO_ROOT / "libs" / "client"
# httpx 0.28 and what it pulls in; a server package here would be a leak.
HTTPX_CLOSURE = frozenset(
    {"httpx", "httpcore", "anyio", "certifi", "h11", "idna", "sniffio", "typing-extensions"}
)
SERVER_MODULES = ("taskyard_common", "celery", "kombu", "flask", "pydantic", "redis")


def uv() -> str:
    folder = subprocess.run(
        [str(REPO_ROOT / "scripts/ensure-uv.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{folder}/uv"


def test_the_client_installs_alone_into_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = [uv(), "pip", "install", "--python", python, str(CLIENT_PROJECT)]
    # The uv cache that `uv sync` filled is enough; the index only when the cache is not.
    if subprocess.run([*install, "--offline"], capture_output=True, check=False).returncode:
        subprocess.run(install, capture_output=True, check=True)

    frozen = subprocess.run(
        [uv(), "pip", "freeze", "--python", python], capture_output=True, text=True, check=True
    ).stdout
    names = {line.split("==")[0].split(" @ ")[0].lower() for line in frozen.splitlines() if line}
    assert "taskyard-client" in names and "httpx" in names
    assert names - {"taskyard-client"} <= HTTPX_CLOSURE, names

    probe = (
        "import sys, taskyard_client, taskyard_client.cli\n"
        f"leaked = [m for m in sys.modules if m.split('.')[0] in {SERVER_MODULES!r}]\n"
        "assert not leaked, leaked\n"
        "print(taskyard_client.__version__)\n"
    )
    imported = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    assert imported.returncode == 0, imported.stderr
    version = subprocess.run(
        [str(venv / "bin" / "taskyard"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"taskyard {imported.stdout.strip()}"
