"""The rendered valkey.conf on a real server: the Secret's password is required, and a
full store refuses writes with an error instead of growing past maxmemory.

Runs the host's redis-server (Debian 12 ships Redis 7.0; the chart's image is Valkey 8,
which reads the same directives) as a server of its own on a free port; skipped locally
without it, failed when CI is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import chartlib
import pytest
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_full_store_refuses_writes_cleanly(helm: str, tmp_path: Path):
    server = shutil.which("valkey-server") or shutil.which("redis-server")
    if not server:
        if os.environ.get("CI"):
            pytest.fail("neither valkey-server nor redis-server is installed, and CI is set")
        pytest.skip("neither valkey-server nor redis-server is installed")
    port = free_port()
    objects = chartlib.helm_template(
        helm, {"redis": {"service": {"port": port}, "resources": {"limits": {"memory": "32Mi"}}}}
    )
    conf = chartlib.named(objects, "ConfigMap", "taskyard-redis")["data"]["valkey.conf"]
    conf = conf.replace("dir /data", f"dir {tmp_path}").replace("bind * -::*", "bind 127.0.0.1")
    (tmp_path / "valkey.conf").write_text(conf)
    password = chartlib.secrets_by_name(objects)["taskyard-redis"]["password"]
    statefulset = chartlib.named(objects, "StatefulSet", "taskyard-redis")
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    args = [str(tmp_path / "valkey.conf")] + [
        password if a == "$(REDIS_PASSWORD)" else a for a in args[1:]
    ]
    process = subprocess.Popen(
        [server, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        client = redis.Redis(port=port, password=password)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "server did not start"
                assert process.poll() is None, "server exited"
                time.sleep(0.2)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, password="not-the-secret").ping()
        maxmemory = int(client.config_get("maxmemory")["maxmemory"])
        assert maxmemory == int(0.6 * 32 * 2**20)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        value = b"x" * 64 * 1024
        with pytest.raises(redis.ResponseError, match="used memory > 'maxmemory'"):
            for index in range(10_000):
                client.set(f"task:{index}", value, ex=3600)
        assert int(client.info("memory")["used_memory"]) <= maxmemory + 2 * len(value)
        assert client.get("task:0") == value  # nothing was evicted
        assert client.ping()  # still serving reads
    finally:
        process.terminate()
        process.wait(timeout=30)
