"""The embedded PostgreSQL runs with the settings skuhub gives it (skuhub_cli.embedded_postgres)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.harness import Infrastructure

pytestmark = pytest.mark.integration


async def test_new_wal_segments_are_not_zero_filled_while_commits_wait(
    infra: Infrastructure,
) -> None:
    """With PostgreSQL's default, every new WAL segment of a fresh cluster is written full
    of zeroes while commits wait: 100-250 ms stalls of every service's COMMIT each 5.6 s at
    1,000 movements/s (docs/profiling.md, "Commits that wait for a WAL segment")."""
    if infra.mode != "embedded":
        pytest.skip("the setting is the embedded server's; other servers are configured apart")
    # A server setting: no schema of a service is needed to read it.
    engine = create_async_engine(infra.database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(sa.text("SHOW wal_init_zero")) == "off"
    finally:
        await engine.dispose()
