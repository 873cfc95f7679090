"""Schemathesis against the running API's own /api/openapi.json.

Every operation in the document is exercised (nothing excluded) through schemathesis'
examples, fuzzing (random valid and invalid requests) and stateful phases (chains such
as submit, then read, cancel and retry the task it returned). The coverage phase is
left out: schemathesis itself crashed in it in one CI run. The run
passes only with zero 5xx answers and every answer as documented: a status code the
operation declares, a body matching that status' schema, the declared content type
and headers.

By default the module starts its own stack: an API with an API key (so every request
also goes through the key check) and the rate limiter on, with a limit high enough
that it never answers 429 to the fuzzer. No worker runs: tasks are only queued.
TASKYARD_FUZZ_BASE_URL (and TASKYARD_FUZZ_API_KEY) point it at any running API
instead, such as `make run` or a port-forwarded cluster. TASKYARD_FUZZ_MAX_EXAMPLES
and TASKYARD_FUZZ_SEED tune a run; the seed of every run is printed to replay it.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from support.stack import cleanup_workdir, start_stack

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
)
MAX_EXAMPLES = int(os.environ.get("TASKYARD_FUZZ_MAX_EXAMPLES", "30"))
# A hard stop for the whole run; it takes about a minute on two busy cores.
RUN_TIMEOUT_SECONDS = 240
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
HOOKS_DIR = Path(__file__).parent


@dataclass
class Target:
    base_url: str
    api_key: str | None
    workdir: Path


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    workdir = Path(tempfile.mkdtemp(prefix="taskyard-fuzz-"))
    configured = os.environ.get("TASKYARD_FUZZ_BASE_URL")
    if configured:
        yield Target(configured.rstrip("/"), os.environ.get("TASKYARD_FUZZ_API_KEY"), workdir)
        cleanup_workdir(workdir)
        return
    key = f"fuzz-{secrets.token_urlsafe(24)}"
    stack = start_stack(
        workdir, {"TASKYARD_API_KEYS": key, "TASKYARD_RATE_LIMIT": "1000000/minute"}, queues=[]
    )
    yield Target(stack.base_url, key, workdir)
    stack.stop()
    cleanup_workdir(workdir)


def _operation_count(document: dict[str, object]) -> int:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return sum(len(operations) for operations in paths.values())


def test_the_api_answers_only_as_documented_and_never_5xx(target: Target) -> None:
    schema_url = f"{target.base_url}/api/openapi.json"
    document = requests.get(schema_url, timeout=30).json()
    argv = [
        str(SCHEMATHESIS),
        "run",
        schema_url,
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        # The coverage phase crashed inside schemathesis 4 (its own generator, not a finding
        # about the API) in one CI run out of three; the other phases still send invalid data.
        "--phases",
        "examples,fuzzing,stateful",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        # Hypothesis' own health checks judge the generator's speed, not the API.
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(target.workdir / "report"),
    ]
    if target.api_key:
        argv += ["--header", f"Authorization: Bearer {target.api_key}"]
    if seed := os.environ.get("TASKYARD_FUZZ_SEED"):
        argv += ["--seed", seed]
    try:
        run = subprocess.run(
            argv,
            cwd=target.workdir,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
            env={
                **os.environ,
                "NO_COLOR": "1",
                "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(HOOKS_DIR), os.environ.get("PYTHONPATH")])
                ),
            },
        )
    except subprocess.TimeoutExpired as error:
        partial = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else ""
        pytest.fail(f"schemathesis did not finish in {RUN_TIMEOUT_SECONDS}s:\n{partial}")
    output = run.stdout + run.stderr
    print(output[-6000:])
    assert run.returncode == 0, output[-20000:]
    # Guard against a run that passes by testing nothing.
    tested = re.search(r"Tested:\s*(\d+)", output)
    assert tested and int(tested.group(1)) == _operation_count(document), output[-6000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= MAX_EXAMPLES, output[-6000:]
