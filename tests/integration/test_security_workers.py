"""What a message or a template can carry never runs: workers take JSON only, templates
are sandboxed, and the worker keeps serving afterwards.

The messages here are published straight onto a data queue, around the API, as an
attacker with broker access would. Each would leave a marker file if its body were
deserialized with pickle or unsafe YAML. The module runs its own stack with one data
worker (and an email worker for the template tests, when that service exists).
"""

from __future__ import annotations

import importlib
import json
import pickle
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import kombu
import pytest
import yaml

from support.client import ApiClient
from support.stack import Stack, cleanup_workdir, start_stack
from taskyard_common import topology

DATA_QUEUE = "data.normal"
EMAIL_QUEUE = "email.normal"
SETTLE_SECONDS = 2.0


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="taskyard-security-workers-"))
    yield path
    cleanup_workdir(path)


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[Stack]:
    stack = start_stack(workdir, {"TASKYARD_RATE_LIMIT": "off"}, queues=[DATA_QUEUE])
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def api(stack: Stack) -> ApiClient:
    return ApiClient(stack.base_url)


class ExecOnUnpickle:
    """Unpickling this runs `code`: exactly what accept_content=["json"] must prevent."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (self.code,))


def _write_marker(path: Path) -> str:
    return f"open({str(path)!r}, 'w').write('executed')"


def _headers(task_id: str, task_name: str = topology.TASK_NAMES["data"]) -> dict[str, Any]:
    """Celery message protocol 2 headers, as `send_task` writes them."""
    return {
        "lang": "py",
        "task": task_name,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "group_index": None,
        "shadow": None,
        "eta": None,
        "expires": None,
        "retries": 0,
        "timelimit": [None, None],
        "argsrepr": "()",
        "kwargsrepr": "{}",
        "origin": "security-test",
        "ignore_result": True,
    }


def _publish_raw(
    stack: Stack,
    body: Any,
    *,
    headers: dict[str, Any],
    serializer: str | None = None,
    content_type: str | None = None,
) -> None:
    with kombu.Connection(stack.env["TASKYARD_BROKER_URL"], connect_timeout=10) as connection:
        producer = connection.Producer()
        producer.publish(
            body,
            exchange=topology.EXCHANGE_NAME,
            routing_key=DATA_QUEUE,
            serializer=serializer,
            content_type=content_type,
            content_encoding="utf-8" if content_type else None,
            headers=headers,
            correlation_id=headers["id"],
            delivery_mode=2,
        )


def test_a_pickled_or_yaml_message_is_refused_and_never_run(
    stack: Stack, api: ApiClient, workdir: Path
) -> None:
    markers = {name: workdir / f"marker-{name}" for name in ("pickle", "pickle-kwargs", "yaml")}
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    # 1. pickle, the classic: the payload itself runs code when loaded.
    _publish_raw(
        stack,
        ExecOnUnpickle(_write_marker(markers["pickle"])),
        headers=_headers(str(uuid.uuid4())),
        serializer="pickle",
    )
    # 2. pickle in the shape of a real task call: (args, kwargs, embed).
    evil_kwargs = {
        "payload": ExecOnUnpickle(_write_marker(markers["pickle-kwargs"])),
        "max_retries": 0,
    }
    _publish_raw(
        stack, ((), evil_kwargs, embed), headers=_headers(str(uuid.uuid4())), serializer="pickle"
    )
    # 3. YAML with a Python tag, which an unsafe loader would call.
    yaml_body = f'!!python/object/apply:builtins.exec ["{_write_marker(markers["yaml"])}"]'.encode()
    _publish_raw(
        stack, yaml_body, headers=_headers(str(uuid.uuid4())), content_type="application/x-yaml"
    )
    # 4. JSON that is not JSON, and 5. a task name no worker has: refused, not fatal.
    _publish_raw(
        stack,
        b'{"payload": [',
        headers=_headers(str(uuid.uuid4())),
        content_type="application/json",
    )
    _publish_raw(
        stack,
        json.dumps([[], {"payload": {}}, embed]).encode(),
        headers=_headers(str(uuid.uuid4()), task_name="os.system"),
        content_type="application/json",
    )

    # Controls: the same bodies do run code when loaded unsafely, so the test can catch it.
    control = workdir / "marker-control"
    pickle.loads(pickle.dumps(ExecOnUnpickle(_write_marker(control))))
    assert control.exists()
    control.unlink()
    yaml.unsafe_load(yaml_body.replace(b"marker-yaml", b"marker-control"))
    assert control.exists()

    # The worker takes one message at a time, in order: once a normal task submitted after
    # them has run, every message above has been through the worker.
    normal = {"type": "data", "payload": {"input": {"records": [{"x": 1}, {"x": 2}]}}}
    record = api.wait_for(api.submit(normal)["id"], timeout_seconds=90)
    assert record["status"] == "SUCCESS", record
    assert record["result"]["row_count"] == 2

    time.sleep(SETTLE_SECONDS)
    assert not [path.name for path in markers.values() if path.exists()]
    worker = stack.workers[DATA_QUEUE]
    assert worker.running(), worker.log_text()[-3000:]
    # Refused for good: nothing went back onto the queue to be redelivered forever.
    stack.wait_queue_ready(DATA_QUEUE, 0)
    log = worker.log_text()
    # Celery refuses the two pickles and the YAML unread, and discards them.
    assert log.count("Refusing to deserialize untrusted content") >= 3, log[-3000:]
    assert "unregistered task of type 'os.system'" in log, log[-3000:]
    # And it still serves.
    again = api.wait_for(api.submit(normal)["id"], timeout_seconds=60)
    assert again["status"] == "SUCCESS", again


SANDBOX_ESCAPES = [
    {"subject": "{{ ''.__class__.__mro__[1].__subclasses__() }}", "text": "x"},
    {"subject": "s", "text": "{{ ''.__class__.__base__.__subclasses__() }}"},
    {"subject": "s", "text": "{{ cycler.__init__.__globals__.os.popen('MARKER_CMD').read() }}"},
    {"subject": "s", "text": "{{ lipsum.__globals__['os'].system('MARKER_CMD') }}"},
    {
        "subject": "s",
        "text": "{{ self._TemplateReference__context.cycler.__init__"
        ".__globals__.os.system('MARKER_CMD') }}",
    },
    {"subject": "s", "text": "{{ ''|attr('__class__')|attr('__mro__') }}"},
    {"subject": "s", "text": "{{ namespace.__init__.__globals__ }}"},
    {"subject": "s", "text": "{{ 'x'.format.__globals__ }}"},
    {"subject": "s", "text": "{{ '{0.__class__.__mro__}'.format('') }}"},
    {
        "subject": "s",
        "html": "{% for c in [].__class__.__base__.__subclasses__() %}"
        "{% if c.__name__ == 'catch_warnings' %}{{ c()._module.__builtins__"
        "['__import__']('os').system('MARKER_CMD') }}{% endif %}{% endfor %}",
    },
    {"subject": "s", "text": "{{ config }}{{ request }}{{ self.__dict__ }}"},
    {"subject": "s", "text": "{% include '/etc/passwd' %}"},
    {"subject": "s", "text": "{% import 'os' as os %}"},
]


def _email_worker_exists() -> bool:
    try:
        importlib.import_module("taskyard_email_worker.tasks")
    except ImportError:
        return False
    return True


def test_template_sandbox_escapes_are_refused_or_fail_never_run(
    stack: Stack, api: ApiClient, workdir: Path
) -> None:
    if not _email_worker_exists():
        pytest.skip(
            "taskyard_email_worker.tasks cannot be imported: the email worker is not "
            "built yet, so templates have nothing to render them"
        )
    if EMAIL_QUEUE not in stack.workers:
        stack.start_worker(EMAIL_QUEUE)
    marker = workdir / "marker-template"
    # Control: outside the sandbox the same template does run a command.
    control = workdir / "marker-template-control"
    jinja2.Environment().from_string(
        SANDBOX_ESCAPES[3]["text"].replace("MARKER_CMD", f"touch {control}")
    ).render()
    assert control.exists()
    submitted = []
    for templates in SANDBOX_ESCAPES:
        payload = {
            "to": ["victim@example.com"],
            "context": {"name": "Ada"},
            **{
                kind: source.replace("MARKER_CMD", f"touch {marker}")
                for kind, source in templates.items()
            },
        }
        response = api.post(
            "/api/tasks", json={"type": "email", "payload": payload, "max_retries": 0}
        )
        assert response.status_code in (202, 422), (templates, response.status_code, response.text)
        if response.status_code == 202:
            submitted.append((templates, response.json()["id"]))
    outcomes = [
        (templates, api.wait_for(task_id, timeout_seconds=90)) for templates, task_id in submitted
    ]
    ran = [
        (templates, record["status"], record["result"])
        for templates, record in outcomes
        if record["status"] != "FAILED"
    ]
    assert not ran, ran
    for _, record in outcomes:
        assert record["error"]["retryable"] is False, record["error"]
    assert not marker.exists()
    assert stack.smtp.messages == []
    assert stack.workers[EMAIL_QUEUE].running()
