"""Each service's revisions produce exactly the tables its code uses (alembic compare_metadata)."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from skuhub_catalog.adapters import tables as catalog_tables
from skuhub_catalog.adapters.product_repository import SqlProductRepository
from skuhub_catalog.domain.product import Product, ProductStatus
from skuhub_catalog.entrypoints import app as catalog_app
from skuhub_catalog.settings import CatalogSettings
from skuhub_lifecycle.adapters import tables as lifecycle_tables
from skuhub_lifecycle.entrypoints import app as lifecycle_app
from skuhub_runtime import access_store, migrations
from skuhub_runtime.db import create_engine
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.adapters import tables as stock_tables
from skuhub_stock.entrypoints import app as stock_app
from skuhub_sync_gateway.adapters import tables as gateway_tables
from skuhub_sync_gateway.adapters.projection_repository import SqlProjectionRepository
from skuhub_sync_gateway.domain.offers import StageFacts
from skuhub_sync_gateway.entrypoints import app as gateway_app
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests.harness import Infrastructure

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

SCHEMAS: dict[str, tuple[Path, sa.MetaData]] = {
    "catalog": (catalog_app.MIGRATIONS, catalog_tables.metadata),
    "stock": (stock_app.MIGRATIONS, stock_tables.metadata),
    "lifecycle": (lifecycle_app.MIGRATIONS, lifecycle_tables.metadata),
    "sync_gateway": (gateway_app.MIGRATIONS, gateway_tables.metadata),
}


def differences(conn: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": lambda name, kind, _: (
                not (kind == "table" and name == "alembic_version")
            ),
        },
    )
    found: list[Any] = compare_metadata(context, metadata)
    return found


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_the_revisions_produce_exactly_the_tables_the_code_uses(
    infra: Infrastructure, service: str
) -> None:
    revisions, metadata = SCHEMAS[service]
    prefix = f"m{uuid.uuid4().hex[:8]}_"
    settings = ServiceSettings(
        service_name=service, database_url=infra.database_url, schema_prefix=prefix
    )
    engine = create_engine(settings)
    try:
        await migrations.upgrade(engine, revisions, settings.db_schema)
        async with engine.connect() as conn:
            assert await conn.run_sync(differences, metadata) == []
            tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert set(tables) == {*metadata.tables, "alembic_version"}
        assert {"outbox", "inbox"} <= set(metadata.tables)
    finally:
        await engine.dispose()


async def test_the_access_revisions_produce_exactly_the_token_and_audit_tables(
    infra: Infrastructure,
) -> None:
    prefix = f"m{uuid.uuid4().hex[:8]}_"
    settings = ServiceSettings(
        service_name="access", database_url=infra.database_url, schema_prefix=prefix
    )
    engine = create_engine(settings)  # search_path: <prefix>access, where the tables go
    try:
        await access_store.migrate(engine, prefix)
        await access_store.migrate(engine, prefix)  # every service migrates it: again is a no-op
        async with engine.connect() as conn:
            assert await conn.run_sync(differences, access_store.metadata) == []
            tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert set(tables) == {"api_tokens", "audit_log", "alembic_version"}
    finally:
        await engine.dispose()


async def test_a_product_stored_before_the_stock_facts_reads_back_with_none_of_them(
    infra: Infrastructure, tmp_path: Path
) -> None:
    """0002 adds the stock facts to existing products as a product created without them has
    them: no packs, not lot-tracked, no shelf life, not a kit."""
    first = tmp_path / "only-0001"
    first.mkdir()
    shutil.copy(catalog_app.MIGRATIONS / "0001_products.py", first)
    settings = CatalogSettings(
        database_url=infra.database_url, schema_prefix=f"m{uuid.uuid4().hex[:8]}_"
    )
    engine = create_engine(settings)
    try:
        await migrations.upgrade(engine, first, settings.db_schema)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    f'INSERT INTO "{settings.db_schema}".products (sku, gtin, status, family, '
                    "parent_sku, unit, title, description, attributes, version, deleted, "
                    "created_at, updated_at) VALUES ('MUG-1', NULL, 'enabled', NULL, NULL, 'EA', "
                    """'{"en_US": "Mug"}', '{}', '{}', 3, false, :at, :at)"""
                ),
                {"at": T0},
            )
        await migrations.upgrade(engine, catalog_app.MIGRATIONS, settings.db_schema)
        async with engine.connect() as conn:
            product = await SqlProductRepository(conn).get("MUG-1")
    finally:
        await engine.dispose()

    assert product == Product(
        sku="MUG-1",
        status=ProductStatus.ENABLED,
        title={"en_US": "Mug"},
        version=3,
        updated_at=T0,
        unit="EA",
        packs={},
        lot_tracked=False,
        shelf_life_days=None,
        kit_components=(),
    )


async def test_a_parent_sku_that_named_no_entity_is_cleared_and_the_content_kept(
    infra: Infrastructure, tmp_path: Path
) -> None:
    """0004: ``parent_sku`` named a model that existed nowhere; the column becomes a reference
    to product_models, the old free text is cleared, the product keeps its own content."""
    before = tmp_path / "up-to-0003"
    before.mkdir()
    for name in ("0001_products.py", "0002_stock_facts.py", "0003_gtin14.py"):
        shutil.copy(catalog_app.MIGRATIONS / name, before)
    settings = CatalogSettings(
        database_url=infra.database_url, schema_prefix=f"m{uuid.uuid4().hex[:8]}_"
    )
    engine = create_engine(settings)
    try:
        await migrations.upgrade(engine, before, settings.db_schema)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    f'INSERT INTO "{settings.db_schema}".products (sku, gtin, status, family, '
                    "parent_sku, unit, title, description, attributes, packs, lot_tracked, "
                    "kit_components, version, deleted, created_at, updated_at) VALUES "
                    "('MUG-RED', NULL, 'enabled', 'mugs', 'MUG', 'EA', "
                    """'{"en_US": "Red mug"}', '{}', '{"colour": "red"}', '{}', false, '[]', """
                    "2, false, :at, :at)"
                ),
                {"at": T0},
            )
        await migrations.upgrade(engine, catalog_app.MIGRATIONS, settings.db_schema)
        async with engine.connect() as conn:
            product = await SqlProductRepository(conn).get("MUG-RED")
    finally:
        await engine.dispose()

    assert product is not None
    assert (product.product_model, product.family, product.attributes, product.version) == (
        None,
        "mugs",
        {"colour": "red"},
        2,
    )


async def test_a_stage_stored_before_0003_reads_back_without_pre_order_or_successor(
    infra: Infrastructure, tmp_path: Path
) -> None:
    """Gateway 0003 adds ``pre_order`` and ``successor`` to stored stages as an event without
    them means: no pre-order, no successor."""
    before = tmp_path / "up-to-0002"
    before.mkdir()
    for name in ("0001_projection.py", "0002_published_content.py"):
        shutil.copy(gateway_app.MIGRATIONS / name, before)
    settings = SyncGatewaySettings(
        database_url=infra.database_url, schema_prefix=f"m{uuid.uuid4().hex[:8]}_"
    )
    engine = create_engine(settings)
    try:
        await migrations.upgrade(engine, before, settings.db_schema)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    f'INSERT INTO "{settings.db_schema}".stages (sku, stage, version, trace_id, '
                    "origin_time, applied_at) VALUES ('MUG-1', 'pre-launch', 4, NULL, :at, :at)"
                ),
                {"at": T0},
            )
        await migrations.upgrade(engine, gateway_app.MIGRATIONS, settings.db_schema)
        async with engine.connect() as conn:
            found = await SqlProjectionRepository(conn).facts_for(["MUG-1"])
            stage = found["MUG-1"].stage
    finally:
        await engine.dispose()

    assert stage == StageFacts("pre-launch", 4, pre_order=False, successor=None)
