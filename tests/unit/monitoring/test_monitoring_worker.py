"""Worker-side monitoring: multiprocess metrics across a fork, the log fields, the status."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from support.servers import free_port
from taskyard_common.clock import iso, utc_now
from taskyard_common.worker_monitoring import describe_delivery, seconds_since, status_reply

# What a prefork worker does: the main process serves, a forked child records.
FORKED_WORKER = textwrap.dedent(
    """
    import os, sys, urllib.request
    from taskyard_common import metrics, worker_monitoring
    from taskyard_common.settings import Settings

    port, directory, MARK = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    settings = Settings(worker_metrics_port=port, worker_metrics_dir=directory)
    assert worker_monitoring.start_metrics_endpoint(settings) == ("127.0.0.1", port)
    child = os.fork()
    if child == 0:
        metrics.TASK_RETRIES.labels("email", "high").inc()
        metrics.TASK_FAILURES.labels("email", "high").inc(2)
        metrics.TASK_RUNTIME.labels("email", "high").observe(0.2)
        metrics.TASK_END_TO_END.labels("email", "high", "SUCCESS").observe(1.5)
        os._exit(0)
    os.waitpid(child, 0)
    metrics.TASK_RETRIES.labels("email", "high").inc()
    url = f"http://127.0.0.1:{port}/metrics"
    sys.stdout.write(MARK + urllib.request.urlopen(url, timeout=10).read().decode())
    worker_monitoring.stop_metrics_endpoint()
    """
)
MARK = "--- metrics ---\n"  # structlog prints to stdout before the scrape is written


def test_metrics_from_forked_pool_processes_add_up_on_the_worker_port(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"left over by a previous run")
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-c", FORKED_WORKER, str(port), str(directory), MARK],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(done.stdout.split(MARK, 1)[1])
        for sample in family.samples
    }
    labels = (("priority", "high"), ("type", "email"))
    assert samples[("taskyard_task_retries_total", labels)] == 2
    assert samples[("taskyard_task_failures_total", labels)] == 2
    assert samples[("taskyard_task_runtime_seconds_count", labels)] == 1
    e2e = (("priority", "high"), ("status", "SUCCESS"), ("type", "email"))
    assert samples[("taskyard_task_end_to_end_seconds_count", e2e)] == 1
    assert samples[("taskyard_task_end_to_end_seconds_sum", e2e)] == 1.5


def test_type_and_priority_of_a_delivery_even_a_delayed_retry() -> None:
    assert describe_delivery("taskyard.data.process", "data.high") == ("data", "high")
    assert describe_delivery("taskyard.email.send", "0.0.1.1.0.email.low") == ("email", "low")
    assert describe_delivery("something.else", None) == ("unknown", "unknown")


def test_end_to_end_seconds_from_the_record_created_at() -> None:
    created = iso(utc_now() - timedelta(seconds=90))
    elapsed = seconds_since(created)
    assert elapsed is not None and 89 < elapsed < 100
    assert seconds_since(None) is None
    assert seconds_since("not a time") is None
    assert seconds_since(iso(utc_now() + timedelta(seconds=5))) == 0.0  # clock skew


def test_status_reply_is_what_the_api_lists() -> None:
    assert status_reply(["file.low"], 1, 12) == {
        "queues": ["file.low"],
        "active": 1,
        "processed": 12,
    }
