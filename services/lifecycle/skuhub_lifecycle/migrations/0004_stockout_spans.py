"""Stockouts as spans (start, end) instead of seconds per day, so the stockout rate can be
taken over the time a SKU was selling (its stage history).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stockouts",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.add_column("sku_stock", sa.Column("zero_since", sa.DateTime(timezone=True)))
    op.drop_column("sku_days", "zero_atp_seconds")
    op.drop_column("sku_days", "tracked_seconds")


def downgrade() -> None:
    op.add_column(
        "sku_days",
        sa.Column("tracked_seconds", sa.Float, nullable=False, server_default="0"),
    )
    op.add_column(
        "sku_days",
        sa.Column("zero_atp_seconds", sa.Float, nullable=False, server_default="0"),
    )
    op.drop_column("sku_stock", "zero_since")
    op.drop_table("stockouts")
