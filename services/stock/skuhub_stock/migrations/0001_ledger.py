"""Ledger: positions and the movement journal, plus outbox and inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from skuhub_runtime.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "positions",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("on_hand", sa.Numeric, nullable=False),
        sa.Column("reserved", sa.Numeric, nullable=False),
        sa.Column("in_transit", sa.Numeric, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("expires_on", sa.Date),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "movements",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("source_system", sa.Text, nullable=False),
        sa.Column("source_sequence", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("destination", sa.Text),
        sa.Column("lot", sa.Text),
        sa.Column("quantity", sa.Numeric, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rejected_reason", sa.Text),
        sa.UniqueConstraint("source_system", "source_sequence", name="movements_source_uq"),
    )
    op.create_index("movements_sku_idx", "movements", ["sku"])


def downgrade() -> None:
    op.drop_table("movements")
    op.drop_table("positions")
    op.drop_table("inbox")
    op.drop_table("outbox")
