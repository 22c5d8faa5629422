"""Runtime settings shared by every service (env prefix ``SKUHUB_``).

Each service subclasses :class:`ServiceSettings` once, adding its own fields
and its default HTTP port. Defaults fit the embedded mode; nothing secret has
a default.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from skuhub_contracts.subscriptions import Subscription


class ServiceSettings(BaseSettings):
    """Settings every service understands."""

    model_config = SettingsConfigDict(env_prefix="SKUHUB_", extra="ignore", frozen=True)

    service_name: str = Field(default="skuhub", description="Set by each service's subclass.")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="SSL: TLS; SASL_SSL: SASL over TLS (production); SASL_PLAINTEXT: SASL "
        "without TLS (a trusted network only).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="Required with SASL_*; refused with PLAINTEXT and SSL."
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: FilePath | None = Field(
        default=None,
        description="CA bundle (PEM) that verifies the brokers' certificates; the system's "
        "CAs when unset. Brokers' host names are always checked.",
    )
    kafka_ssl_certfile: FilePath | None = Field(
        default=None,
        description="Client certificate (PEM) for brokers that authenticate clients by TLS "
        "(ssl.client.auth=required).",
    )
    kafka_ssl_keyfile: FilePath | None = Field(
        default=None,
        description="Private key (PEM) of the client certificate, when the certificate file "
        "does not hold it.",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted client key."
    )
    topic_prefix: str = Field(default="", description="Prefix for every topic and consumer group.")
    topic_partitions: int = Field(
        default=3,
        ge=1,
        description="Partitions for topics skuhub creates. Also the ceiling on useful "
        "instances of a service: a consumer group gives each partition to one member, so "
        "instances beyond this number idle. 3 suits up to 3 instances per service.",
    )
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas for topics skuhub creates: 1 fits the embedded broker; use 3 on a "
        "production cluster.",
    )

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        description="SQLAlchemy URL (asyncpg driver) of PostgreSQL.",
    )
    schema_prefix: str = Field(
        default="",
        pattern=r"^([a-z_][a-z0-9_]*)?$",
        description="Prefix of each service's database schema (lower-case letters, digits, _).",
    )
    database_pool_size: int = Field(default=5, ge=1)
    database_connect_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for a new PostgreSQL connection (TCP or socket, then the "
        "server's greeting).",
    )
    database_command_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="Longest wait for one statement's answer. A server that stops answering "
        "(paused, cut off) then fails the transaction, which is retried, instead of holding it "
        "forever. Migrations are not bounded by it.",
    )

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8100, ge=0, le=65535)

    consumer_max_records: int = Field(
        default=500, ge=1, description="Records applied per transaction."
    )
    consumer_fetch_wait_ms: int = Field(
        default=200,
        ge=1,
        description="Broker long-poll wait when there is nothing to read. The broker answers "
        "as soon as a record arrives, so it adds no latency; shorter only polls more (20 ms "
        "cost an idle service 6 % of a core, 200 ms 2.6 %).",
    )
    consumer_session_timeout_ms: int = Field(
        default=6_000,
        ge=1_000,
        description="Consumer group session timeout; heartbeats go every third of it. An "
        "instance killed without leaving keeps its partitions this long (the rebalance pause "
        "after kill -9). The broker refuses values below its group.min.session.timeout.ms "
        "(6000 by default; the embedded broker allows 1000).",
    )
    instance_id: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9._-]{1,200})?$",
        description="This instance's name, unique among the instances of a service (the "
        "launcher sets stock-1, stock-2, …). When set, consumers join their groups as static "
        "members (group.instance.id): an instance restarted within the session timeout gets "
        "its partitions back without a rebalance. Empty: dynamic membership.",
    )
    outbox_batch_size: int = Field(default=1000, ge=1)
    outbox_poll_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="How often the outbox relay looks for rows nobody handed over to it.",
    )
    outbox_stale_after_s: float = Field(
        default=5.0,
        gt=0,
        description="Outbox rows older than this that nobody handed over to the relay (their "
        "process died between commit and publish) are read back from the table and published.",
    )
    lag_refresh_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often the service reads its consumer groups' lag from the broker "
        "(kafka_consumergroup_* metrics): log-end and committed offsets, and the timestamp of "
        "the oldest unprocessed record.",
    )
    outbox_backlog_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often the outbox backlog (skuhub_outbox_backlog_records, "
        "skuhub_outbox_oldest_age_seconds) is measured.",
    )

    dead_letter_scan_max: int = Field(
        default=20_000,
        ge=1,
        description="Dead letters GET /v1/dead-letters reads at most, the newest of each "
        "partition of the service's dead-letter topic (docs/operations.md, Dead letters).",
    )
    dead_letter_read_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest read of the dead-letter topic for one request; then a 503.",
    )

    dependency_probe_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="How often Kafka and PostgreSQL are probed for readiness and outage warnings.",
    )
    dependency_probe_timeout_s: float = Field(
        default=2.0, gt=0, description="A probe not answered within this counts as unreachable."
    )
    dependency_warning_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="While a dependency stays unreachable, a warning is logged this often.",
    )

    token_recheck_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a service reads an API token's row again after verifying its "
        "secret once: a revoked token stops working within this time.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        if value.startswith(("postgres://", "postgresql://")):
            return re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", value)
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("database_url must be a postgresql:// or postgresql+asyncpg:// URL")
        return value

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> ServiceSettings:
        """Refuse a half-set Kafka security configuration at start, saying what to set.

        aiokafka would otherwise fail later and vaguely (a SASL handshake with no user), or
        the consumers and the producer would speak different protocols.
        """
        problems = kafka_security_problems(
            protocol=self.kafka_security_protocol,
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            has_password=self.kafka_sasl_password is not None,
            tls_settings=self._kafka_tls_settings_set(),
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _kafka_tls_settings_set(self) -> list[str]:
        names = ("cafile", "certfile", "keyfile", "key_password")
        return [n for n in names if getattr(self, f"kafka_ssl_{n}") is not None]

    @property
    def db_schema(self) -> str:
        """The PostgreSQL schema this service owns."""
        return f"{self.schema_prefix}{self.service_name}"

    def consumer_group(self, subscription: Subscription[Any]) -> str:
        """The Kafka consumer group of a subscription (of any service) in this deployment."""
        return f"{self.topic_prefix}skuhub-{subscription.service}.{subscription.name}"

    def topic(self, base_name: str) -> str:
        """A topic's name on the cluster: the deployment prefix, then the registry's name."""
        return f"{self.topic_prefix}{base_name}"


def kafka_security_problems(
    *,
    protocol: str,
    mechanism: str | None,
    username: str | None,
    has_password: bool,
    tls_settings: list[str],
) -> list[str]:
    """What is missing or contradictory in a Kafka security configuration (empty: fine)."""
    problems: list[str] = []
    sasl = protocol.startswith("SASL_")
    if sasl:
        if mechanism is None:
            problems.append(
                f"SKUHUB_KAFKA_SECURITY_PROTOCOL={protocol} needs SKUHUB_KAFKA_SASL_MECHANISM "
                "(PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"
            )
        if not username:
            problems.append(f"{protocol} needs SKUHUB_KAFKA_SASL_USERNAME")
        if not has_password:
            problems.append(f"{protocol} needs SKUHUB_KAFKA_SASL_PASSWORD")
    elif mechanism is not None:
        problems.append(
            f"SKUHUB_KAFKA_SASL_MECHANISM={mechanism} is set but SKUHUB_KAFKA_SECURITY_PROTOCOL "
            f"is {protocol}; use SASL_SSL (or SASL_PLAINTEXT on a trusted network)"
        )
    if tls_settings and protocol not in ("SSL", "SASL_SSL"):
        settings = ", ".join(f"SKUHUB_KAFKA_SSL_{name.upper()}" for name in tls_settings)
        problems.append(
            f"{settings} set but SKUHUB_KAFKA_SECURITY_PROTOCOL is {protocol}; use SSL or SASL_SSL"
        )
    client_key = [n for n in tls_settings if n in ("keyfile", "key_password")]
    if client_key and "certfile" not in tls_settings:
        settings = ", ".join(f"SKUHUB_KAFKA_SSL_{name.upper()}" for name in client_key)
        problems.append(
            f"{settings} set without SKUHUB_KAFKA_SSL_CERTFILE (the client certificate)"
        )
    return problems
