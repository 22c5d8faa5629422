"""Runtime settings shared by every service (env prefix ``SKUHUB_``).

Each service subclasses :class:`ServiceSettings` once, adding its own fields
and its default HTTP port. Defaults fit the embedded mode; nothing secret has
a default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from skuhub_contracts.subscriptions import Subscription


class ServiceSettings(BaseSettings):
    """Settings every service understands."""

    model_config = SettingsConfigDict(env_prefix="SKUHUB_", extra="ignore", frozen=True)

    service_name: str = Field(default="skuhub", description="Set by each service's subclass.")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
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
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)

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
