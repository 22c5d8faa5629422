"""SASL/SCRAM against a real broker: skuhub's admin, producer and consumers authenticate
with the SKUHUB_KAFKA_* settings alone, and a wrong password is refused.

The broker is the embedded Apache Kafka with a second listener, SASL_PLAINTEXT with
SCRAM-SHA-512 only; the user is created over the PLAINTEXT listener with the admin API
an operator's kafka-configs.sh uses (through librdkafka, not skuhub's code).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError, KafkaError
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported, not declared
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from skuhub_cli.embedded_kafka import EmbeddedKafka
from skuhub_cli.ports import free_port
from skuhub_contracts.codec import KafkaRecord
from skuhub_contracts.topics import ALL_TOPICS
from skuhub_runtime.kafka import client_options, create_broker, ensure_topics
from skuhub_runtime.producer import KafkaPublisher
from skuhub_runtime.settings import ServiceSettings
from tests.harness import wait_until_async

pytestmark = pytest.mark.integration

USER = "skuhub-scram"
PASSWORD = f"scram-{uuid.uuid4().hex}"


class ScramBroker:
    def __init__(self, kafka: EmbeddedKafka, sasl_port: int) -> None:
        self.kafka = kafka
        self.sasl_bootstrap = f"127.0.0.1:{sasl_port}"

    def settings(self, password: str = PASSWORD) -> ServiceSettings:
        return ServiceSettings(
            service_name="stock",
            kafka_bootstrap=self.sasl_bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=USER,
            kafka_sasl_password=password,
            topic_prefix=f"s{uuid.uuid4().hex[:8]}.",
        )


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScramBroker]:
    sasl_port = free_port()
    kafka = EmbeddedKafka(
        tmp_path_factory.mktemp("kafka-scram"),
        secured_listeners={"SASL_PLAINTEXT": sasl_port},
        properties={
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
        },
    )
    kafka.start(timeout=120)
    try:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        credential = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
        upsert = UserScramCredentialUpsertion(USER, credential, PASSWORD.encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)
        yield ScramBroker(kafka, sasl_port)
    finally:
        kafka.stop()


async def until_authenticated(settings: ServiceSettings, within_s: float = 30.0) -> list[str]:
    """ensure_topics over SASL; SCRAM credentials reach the listener shortly after the
    admin call returns, so a first refusal is retried until the deadline."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await ensure_topics(settings)
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)  # retry with a deadline: the credential propagates


async def test_admin_producer_and_consumers_authenticate_with_scram(
    scram_broker: ScramBroker,
) -> None:
    settings = scram_broker.settings()
    topic = settings.topic(ALL_TOPICS[0].name)

    created = await until_authenticated(settings)
    assert sorted(created) == sorted(settings.topic(t.name) for t in ALL_TOPICS)

    publisher = KafkaPublisher(settings)
    await publisher.start()
    try:
        record = KafkaRecord(key=b"SKU-SCRAM-1", value=b'{"sku":"SKU-SCRAM-1"}', headers=[])
        await publisher.send_batch([(topic, record)])
    finally:
        await publisher.stop()

    # The consumers: faststream's broker, built as the services build it.
    received: list[bytes] = []
    broker = create_broker(settings)

    @broker.subscriber(
        topic, group_id=f"{settings.topic_prefix}scram", auto_offset_reset="earliest"
    )
    async def collect(body: Any) -> None:
        received.append(str(body).encode())

    async def consumed() -> bool:
        return bool(received)

    await broker.start()
    try:
        await wait_until_async(consumed, within_s=30, what="the record through the consumer")
    finally:
        await broker.stop()
    assert b"SKU-SCRAM-1" in received[0]


async def test_a_wrong_password_is_refused(
    scram_broker: ScramBroker, caplog: pytest.LogCaptureFixture
) -> None:
    await until_authenticated(scram_broker.settings())  # the user exists by now
    consumer = AIOKafkaConsumer(**client_options(scram_broker.settings(password="wrong")))

    try:
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(consumer.start(), timeout=30)
    finally:
        await consumer.stop()
    refusals = [r for r in caplog.records if "SaslAuthenticationFailed" in r.getMessage()]
    assert refusals, "the broker refused the connection for another reason than the password"
