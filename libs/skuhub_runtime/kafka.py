"""Kafka client construction: one place that knows security and producer options."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from skuhub_contracts.topics import ALL_TOPICS
from skuhub_runtime.settings import ServiceSettings


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka connection options (bootstrap, TLS, SASL) from settings."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    """faststream's security object for the configured protocol, or None for PLAINTEXT."""
    use_ssl = settings.kafka_security_protocol in ("SSL", "SASL_SSL")
    context = client_options(settings).get("ssl_context")
    mechanism = settings.kafka_sasl_mechanism
    if mechanism is None:
        return BaseSecurity(ssl_context=context, use_ssl=True) if use_ssl else None
    username = settings.kafka_sasl_username or ""
    password = (
        settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    )
    sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return sasl[mechanism](username, password, ssl_context=context, use_ssl=use_ssl)


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
