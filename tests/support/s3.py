"""A real S3-protocol server for tests: moto's server mode on a free loopback port.

It runs as its own process (the API and the workers reach it over HTTP, as they
would reach S3) and keeps everything in memory.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import requests

from support.servers import free_port

START_TIMEOUT_SECONDS = 60
REGION = "us-east-1"
# moto accepts any credentials; these only make botocore sign its requests.
ACCESS_KEY_ID = "taskyard-test"
SECRET_ACCESS_KEY = "taskyard-test-secret"


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, log_path: Path) -> S3Server:
        port = free_port()
        log = open(log_path, "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = cls(f"http://127.0.0.1:{port}", process, log_path)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{server.endpoint_url}/moto-api/", timeout=1).ok:
                    return server
            time.sleep(0.2)
        server.stop()
        raise RuntimeError("moto server did not start in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def credentials_env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}

    def client(self) -> Any:
        return botocore.session.get_session().create_client(
            "s3",
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def new_bucket(self) -> str:
        name = f"taskyard-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def storage_env(self, bucket: str, prefix: str = "files") -> dict[str, str]:
        """What a Taskyard process needs to keep its files in `bucket`."""
        return {
            "TASKYARD_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "TASKYARD_S3_ENDPOINT_URL": self.endpoint_url,
            "TASKYARD_S3_REGION": REGION,
            "TASKYARD_S3_ADDRESSING_STYLE": "path",
            **self.credentials_env(),
        }

    def keys(self, bucket: str) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in listed.get("Contents", [])]


@contextlib.contextmanager
def running_s3_server(workdir: Path) -> Iterator[S3Server]:
    workdir.mkdir(parents=True, exist_ok=True)
    server = S3Server.start(workdir / "moto.log")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def aws_credentials(server: S3Server) -> Iterator[None]:
    """The test process's own environment holds the credentials, as a pod's would."""
    saved = {name: os.environ.get(name) for name in server.credentials_env()}
    os.environ.update(server.credentials_env())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
