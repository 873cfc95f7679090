"""The worker's Celery consumer, with native delayed delivery set up once per cluster.

Celery's DelayedDelivery step reads a `;`-separated broker URL as several brokers and
declares the delayed-delivery exchanges and queues on each in turn, waiting out three
retries (about 17 s) on a member that is down before the worker consumes again. Taskyard's
URLs list the members of one RabbitMQ cluster, where a declaration on any member holds on
all: this step declares once, through a connection that fails over between the members.
"""

from __future__ import annotations

from celery.worker.consumer import Consumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery

from taskyard_common.settings import URL_SEPARATOR


class ClusterDelayedDelivery(DelayedDelivery):
    def _validate_broker_urls(self, broker_urls: str | list[str]) -> set[str]:
        members = super()._validate_broker_urls(broker_urls)
        if isinstance(broker_urls, list):
            return {URL_SEPARATOR.join(broker_urls)} if members else members
        return {broker_urls}


class ClusterConsumer(Consumer):
    class Blueprint(Consumer.Blueprint):
        default_steps = [
            f"{__name__}:ClusterDelayedDelivery"
            if step == "celery.worker.consumer.delayed_delivery:DelayedDelivery"
            else step
            for step in Consumer.Blueprint.default_steps
        ]
