"""Products, plus outbox and inbox.

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


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "products",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("gtin", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("family", sa.Text),
        sa.Column("parent_sku", sa.Text),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("title", JSONB, nullable=False),
        sa.Column("description", JSONB, nullable=False),
        sa.Column("attributes", JSONB, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "products_gtin_uq",
        "products",
        ["gtin"],
        unique=True,
        postgresql_where=sa.text("gtin IS NOT NULL"),
    )
    op.create_index("products_parent_sku_idx", "products", ["parent_sku"])


def downgrade() -> None:
    op.drop_table("products")
    op.drop_table("inbox")
    op.drop_table("outbox")
