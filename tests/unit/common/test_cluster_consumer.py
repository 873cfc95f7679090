"""The worker's consumer sets up native delayed delivery once per cluster."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from taskyard_common.celery_app import create_celery_app
from taskyard_common.cluster_consumer import ClusterConsumer, ClusterDelayedDelivery
from taskyard_common.settings import Settings

CELERY_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"


def test_the_workers_consumer_replaces_celerys_delayed_delivery_step() -> None:
    app = create_celery_app("test", Settings())
    assert app.conf.worker_consumer == "taskyard_common.cluster_consumer:ClusterConsumer"
    steps = ClusterConsumer.Blueprint.default_steps
    assert CELERY_STEP not in steps
    assert "taskyard_common.cluster_consumer:ClusterDelayedDelivery" in steps


@pytest.mark.parametrize(
    ("broker_url", "declared_through"),
    [
        ("amqp://a//", {"amqp://a//"}),
        ("amqp://a//;amqp://b//;amqp://c//", {"amqp://a//;amqp://b//;amqp://c//"}),
        (["amqp://a//", "amqp://b//"], {"amqp://a//;amqp://b//"}),
    ],
)
def test_every_member_url_is_one_failover_connection(
    broker_url: str | list[str], declared_through: set[str]
) -> None:
    step = ClusterDelayedDelivery(SimpleNamespace())
    assert step._validate_broker_urls(broker_url) == declared_through


def test_an_empty_broker_url_is_still_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        ClusterDelayedDelivery(SimpleNamespace())._validate_broker_urls("")
