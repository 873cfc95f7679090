"""/api/queues with one management URL per cluster member: the first that answers wins."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
import requests

from support.servers import free_port
from taskyard_api.monitoring import fetch_queues
from taskyard_api.services import Services
from taskyard_common.settings import Settings


class _QueuesHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if not self.path.startswith("/api/queues/tasks%2Fvhost?"):
            self.send_error(404)
            return
        body = json.dumps(
            [
                {
                    "name": "data.high",
                    "messages_ready": 4,
                    "messages_unacknowledged": 1,
                    "consumers": 2,
                }
            ]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def live_member() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QueuesHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def services_for(broker_url: str, management_url: str) -> Services:
    settings = Settings(broker_url=broker_url, rabbitmq_management_url=management_url)
    return Services(
        settings=settings,
        store=None,  # type: ignore[arg-type]
        files=None,  # type: ignore[arg-type]
        celery=None,  # type: ignore[arg-type]
        publisher=None,  # type: ignore[arg-type]
        api_keys={},
        admin_key_names=frozenset(),
    )


def test_a_dead_member_is_skipped(live_member: int) -> None:
    dead = free_port()
    found = services_for(
        f"amqp://u:p@127.0.0.1:{dead}/tasks%2Fvhost;amqp://u:p@127.0.0.1:1/tasks%2Fvhost",
        f"http://u:p@127.0.0.1:{dead};http://u:p@127.0.0.1:{live_member}",
    )
    queues = {queue["name"]: queue for queue in fetch_queues(found)}
    assert queues["data.high"] == {
        "name": "data.high",
        "type": "data",
        "priority": "high",
        "ready": 4,
        "unacked": 1,
        "consumers": 2,
    }
    assert queues["file.low"]["ready"] == 0


def test_every_member_down_raises_the_last_error() -> None:
    first, second = free_port(), free_port()
    found = services_for(
        f"amqp://u:p@127.0.0.1:{first}//",
        f"http://u:p@127.0.0.1:{first}; http://u:p@127.0.0.1:{second}",
    )
    with pytest.raises(requests.ConnectionError, match=str(second)):
        fetch_queues(found)


def test_flowers_broker_tab_reads_the_first_members_management_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from taskyard_api import flower

    listed = Settings(rabbitmq_management_url="http://u:p@a:15672/;http://u:p@b:15672")
    monkeypatch.setattr(flower, "settings", listed)
    assert "--broker_api=http://u:p@a:15672/api/" in flower.flower_arguments([])
