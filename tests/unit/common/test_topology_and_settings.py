from __future__ import annotations

import pytest

from taskyard_common import topology
from taskyard_common.celery_app import create_celery_app
from taskyard_common.settings import Settings


def test_nine_queues_named_type_dot_priority() -> None:
    assert len(topology.QUEUE_NAMES) == 9
    assert topology.QUEUE_NAMES[0] == "data.high"
    assert {topology.parse_queue_name(q) for q in topology.QUEUE_NAMES} == {
        (t, p) for t in topology.TASK_TYPES for p in topology.PRIORITIES
    }


def test_queues_are_durable_quorum_behind_the_topic_exchange() -> None:
    for queue in topology.kombu_queues():
        assert queue.durable
        assert queue.routing_key == queue.name
        assert queue.queue_arguments == {"x-queue-type": "quorum"}
        assert queue.exchange.name == "taskyard"
        assert queue.exchange.type == "topic"


@pytest.mark.parametrize("name", ["data", "data.urgent", "sms.high", "", "data.high.x"])
def test_parse_rejects_anything_else(name: str) -> None:
    with pytest.raises(ValueError):
        topology.parse_queue_name(name)


def test_celery_app_is_json_only_with_late_acks() -> None:
    app = create_celery_app("t", Settings())
    conf = app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_default_delivery_mode == "persistent"
    assert conf.broker_transport_options["confirm_publish"] is True


def test_workers_reconnect_after_connection_and_channel_errors() -> None:
    conf = create_celery_app("t", Settings()).conf
    assert conf.broker_connection_max_retries is None
    assert conf.broker_channel_error_retry is True


def test_settings_read_the_taskyard_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keys_file = tmp_path / "keys"
    keys_file.write_text("k2\n\n k3 \n")
    monkeypatch.setenv("TASKYARD_RETRY_MAX_RETRIES", "7")
    monkeypatch.setenv("TASKYARD_API_KEYS", "k1, ,k2")
    monkeypatch.setenv("TASKYARD_API_KEYS_FILE", str(keys_file))
    monkeypatch.setenv("TASKYARD_LOG_FORMAT", "console")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.retry_max_retries == 7
    assert set(settings.named_api_keys().values()) == {"k1", "k2", "k3"}
    assert settings.log_format == "console"


def test_no_secret_has_a_shipped_default() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.api_keys.get_secret_value() == ""
    assert settings.flower_basic_auth.get_secret_value() == ""
    assert settings.smtp_password.get_secret_value() == ""


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("amqp://a//", ["amqp://a//"]),
        ("amqp://a//;amqp://b//", ["amqp://a//", "amqp://b//"]),
        (" amqp://a// ; amqp://b// ;", ["amqp://a//", "amqp://b//"]),
    ],
)
def test_broker_and_management_urls_list_every_member(value: str, urls: list[str]) -> None:
    settings = Settings(broker_url=value, rabbitmq_management_url=value.replace("amqp", "http"))
    assert settings.broker_urls() == urls
    assert settings.management_urls() == [url.replace("amqp", "http") for url in urls]


def test_celery_declares_no_queue_rabbitmq_4_3_refuses() -> None:
    """RabbitMQ 4.3 refuses transient queues that are not exclusive: Celery's remote-control,
    reply and event queues must stay exclusive; the task queues are durable."""
    app = create_celery_app("test", Settings())
    mailbox = app.control.mailbox
    transient = [
        mailbox.reply_queue,
        mailbox.get_queue("worker@host"),
        app.events.Receiver(app.connection_for_read()).queue,
    ]
    for queue in transient:
        assert queue.durable or queue.exclusive, queue
    assert all(queue.durable for queue in topology.kombu_queues())
