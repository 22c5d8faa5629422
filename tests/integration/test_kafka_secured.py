"""Secured Kafka against a real broker: skuhub's admin, producer and consumers connect
with the SKUHUB_KAFKA_* settings alone, over SASL/SCRAM and over mutual TLS, and a
wrong password or a missing client certificate is refused.

The broker is the embedded Apache Kafka with two more listeners: SASL_PLAINTEXT with
SCRAM-SHA-512 only, and SSL requiring a client certificate from a throwaway CA
(tests/pki.py). The SCRAM user is created over the PLAINTEXT listener with the admin
API an operator's kafka-configs.sh uses (through librdkafka, not skuhub's code).
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
from faststream.kafka.annotations import KafkaMessage

from skuhub_cli.embedded_kafka import EmbeddedKafka
from skuhub_cli.ports import free_port
from skuhub_contracts.codec import KafkaRecord
from skuhub_contracts.topics import ALL_TOPICS
from skuhub_runtime.kafka import client_options, create_broker, ensure_topics
from skuhub_runtime.producer import KafkaPublisher
from skuhub_runtime.settings import ServiceSettings
from tests.harness import wait_until_async
from tests.pki import CLIENT_KEY_PASSWORD, Pki, make_pki

pytestmark = pytest.mark.integration

USER = "skuhub-scram"
PASSWORD = f"scram-{uuid.uuid4().hex}"


class SecuredBroker:
    def __init__(self, kafka: EmbeddedKafka, sasl_port: int, ssl_port: int, pki: Pki) -> None:
        self.kafka = kafka
        self.sasl_port = sasl_port
        self.ssl_port = ssl_port
        self.pki = pki

    def scram(self, password: str = PASSWORD) -> ServiceSettings:
        return ServiceSettings(
            service_name="stock",
            kafka_bootstrap=f"127.0.0.1:{self.sasl_port}",
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=USER,
            kafka_sasl_password=password,
            topic_prefix=f"s{uuid.uuid4().hex[:8]}.",
        )

    def mutual_tls(self, *, client_certificate: bool = True) -> ServiceSettings:
        certificate: dict[str, Any] = (
            {
                "kafka_ssl_certfile": self.pki.client_cert,
                "kafka_ssl_keyfile": self.pki.client_key,
                "kafka_ssl_key_password": CLIENT_KEY_PASSWORD,
            }
            if client_certificate
            else {}
        )
        return ServiceSettings(
            service_name="stock",
            kafka_bootstrap=f"127.0.0.1:{self.ssl_port}",
            kafka_security_protocol="SSL",
            kafka_ssl_cafile=self.pki.ca,
            topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
            **certificate,
        )


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    sasl_port, ssl_port = free_port(), free_port()
    kafka = EmbeddedKafka(
        tmp_path_factory.mktemp("kafka-secured"),
        secured_listeners={"SASL_PLAINTEXT": sasl_port, "SSL": ssl_port},
        properties={
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(pki.broker_keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pki.ca),
            "ssl.client.auth": "required",
        },
    )
    kafka.start(timeout=120)
    try:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        credential = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
        upsert = UserScramCredentialUpsertion(USER, credential, PASSWORD.encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)
        yield SecuredBroker(kafka, sasl_port, ssl_port, pki)
    finally:
        kafka.stop()


async def topics_created(settings: ServiceSettings, within_s: float = 30.0) -> list[str]:
    """ensure_topics (what `skuhub topics` runs) over the secured listener. A SCRAM
    credential reaches the listener shortly after the admin call returns, so a first
    refusal is retried until the deadline."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await ensure_topics(settings)
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)  # retry with a deadline: the credential propagates


@pytest.mark.parametrize("security", ["scram", "mutual_tls"])
async def test_admin_producer_and_consumers_connect_with_the_settings(
    secured: SecuredBroker, security: str
) -> None:
    settings = secured.scram() if security == "scram" else secured.mutual_tls()
    topic = settings.topic(ALL_TOPICS[0].name)
    key = f"SKU-{security}".encode()

    created = await topics_created(settings)
    assert sorted(created) == sorted(settings.topic(t.name) for t in ALL_TOPICS)

    publisher = KafkaPublisher(settings)
    await publisher.start()
    try:
        await publisher.send_batch([(topic, KafkaRecord(key=key, value=b"{}", headers=[]))])
    finally:
        await publisher.stop()

    # The consumers: faststream's broker, built as the services build it.
    keys: list[bytes] = []
    broker = create_broker(settings)

    @broker.subscriber(topic, group_id=f"{settings.topic_prefix}g", auto_offset_reset="earliest")
    async def collect(body: Any, message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)  # a single subscriber, not a batch
        keys.append(record.key)

    async def consumed() -> bool:
        return bool(keys)

    await broker.start()
    try:
        await wait_until_async(consumed, within_s=30, what="the record through the consumer")
    finally:
        await broker.stop()
    assert keys == [key]


async def refused(settings: ServiceSettings) -> None:
    consumer = AIOKafkaConsumer(**client_options(settings))
    try:
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(consumer.start(), timeout=30)
    finally:
        await consumer.stop()


async def test_a_wrong_password_is_refused(
    secured: SecuredBroker, caplog: pytest.LogCaptureFixture
) -> None:
    await topics_created(secured.scram())  # the user exists by now

    await refused(secured.scram(password="wrong"))

    failures = [r for r in caplog.records if "SaslAuthenticationFailed" in r.getMessage()]
    assert failures, "the broker refused the connection for another reason than the password"


async def test_a_client_without_a_certificate_is_refused(secured: SecuredBroker) -> None:
    await topics_created(secured.mutual_tls())  # the TLS listener answers with one

    await refused(secured.mutual_tls(client_certificate=False))
