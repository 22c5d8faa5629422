"""Fixtures for integration tests: settings and a migrated stock schema of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_runtime import migrations
from skuhub_runtime.db import create_engine
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.entrypoints.app import MIGRATIONS
from tests.harness import Infrastructure

STOCK_MIGRATIONS = MIGRATIONS


@pytest.fixture
def settings(infra: Infrastructure) -> ServiceSettings:
    prefix = f"i{uuid.uuid4().hex[:8]}"
    return ServiceSettings(
        service_name="stock",
        kafka_bootstrap=infra.kafka_bootstrap,
        database_url=infra.database_url,
        topic_prefix=f"{prefix}.",
        schema_prefix=f"{prefix}_",
    )


@pytest.fixture
async def engine(settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    await migrations.upgrade(engine, STOCK_MIGRATIONS, settings.db_schema)
    yield engine
    await engine.dispose()
