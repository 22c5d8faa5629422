"""Projection of products, positions and stages, plus outbox and inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from skuhub_runtime.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _provenance() -> list[sa.Column[object]]:
    return [
        sa.Column("trace_id", sa.Text),
        sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "products",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("gtin", sa.Text),
        sa.Column("title", JSONB, nullable=False),
        *_provenance(),
    )
    op.create_table(
        "positions",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("on_hand", sa.Numeric, nullable=False),
        sa.Column("available_to_promise", sa.Numeric, nullable=False),
        *_provenance(),
    )
    op.create_table(
        "stages",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        *_provenance(),
    )


def downgrade() -> None:
    for table in ("stages", "positions", "products", "inbox", "outbox"):
        op.drop_table(table)
