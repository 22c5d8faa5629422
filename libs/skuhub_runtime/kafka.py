"""Kafka client construction: one place that knows security and producer options."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from skuhub_contracts.topics import ALL_TOPICS
from skuhub_runtime.kafka_security import broker_security, client_options
from skuhub_runtime.settings import ServiceSettings

__all__ = ["broker_security", "client_options", "create_broker", "ensure_topics"]


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """A faststream broker for consuming only.

    Services write through :class:`skuhub_runtime.producer.KafkaPublisher`, and
    topics are created by ``skuhub topics`` / the dev stack, never implicitly.
    """
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"skuhub-{settings.instance_id or settings.service_name}",
        consumer_only=True,
        allow_auto_create_topics=False,
        security=broker_security(settings),
        # Through our log handlers: faststream's own errors (before a handler runs) must
        # be seen; its per-batch "received/processed" lines only at DEBUG.
        logger=logging.getLogger("skuhub_runtime.kafka"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(settings: ServiceSettings, *, partitions: int | None = None) -> list[str]:
    """Create every registered topic that does not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.topic(t.name) for t in ALL_TOPICS]
        missing = [name for name in wanted if name not in existing]
        if missing:
            count = partitions or settings.topic_partitions
            replicas = settings.topic_replication_factor
            await admin.create_topics([NewTopic(name, count, replicas) for name in missing])
            await _wait_for_leaders(admin, missing)
        return missing
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    """Return once every partition of ``topics`` has a leader.

    CreateTopics answers before the partitions' leaders are known to the broker's
    metadata; a first produce in that gap fails with NotLeaderForPartition and is
    retried with a warning. Callers bound the wait (``ensure_topics_within``).
    """
    delay = 0.02
    while True:
        described = await admin.describe_topics(topics)
        if all(
            topic["error_code"] == 0
            and topic["partitions"]
            and all(p["error_code"] == 0 and p["leader"] >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return
        await asyncio.sleep(delay)  # polling a condition, bounded by the caller's deadline
        delay = min(delay * 2, 0.5)
