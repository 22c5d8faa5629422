"""Replenishment: daily demand per SKU and location, policies, proposals, and the queue of
places to review.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Places the ledger changed, waiting for the periodic review against reorder points.
    op.create_table(
        "review_queue",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
    )
    op.create_table(
        "daily_demand",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("shipped", sa.Numeric, nullable=False),
        sa.Column("lost_sales", sa.Numeric, nullable=False),
    )
    op.create_table(
        "replenishment_policies",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lead_time_days", sa.Integer, nullable=False),
        sa.Column("review_period_days", sa.Integer, nullable=False),
        sa.Column("service_level", sa.Float, nullable=False),
        sa.Column("min_quantity", sa.Numeric),
        sa.Column("max_quantity", sa.Numeric),
        sa.Column("order_multiple", sa.Numeric, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "replenishment_proposals",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("quantity", sa.Numeric, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("reorder_point", sa.Numeric, nullable=False),
        sa.Column("order_up_to", sa.Numeric, nullable=False),
        sa.Column("safety_stock", sa.Numeric, nullable=False),
        sa.Column("inventory_position", sa.Numeric, nullable=False),
        sa.Column("available_to_promise", sa.Numeric, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Text),
        sa.Column("note", sa.Text),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'dismissed')",
            name="replenishment_proposals_status_ck",
        ),
    )
    op.create_index(
        "replenishment_proposals_seq_uq", "replenishment_proposals", ["seq"], unique=True
    )
    op.create_index(
        "replenishment_proposals_position_idx",
        "replenishment_proposals",
        ["sku", "location", "seq"],
    )
    op.create_index(
        "replenishment_proposals_open_uq",
        "replenishment_proposals",
        ["sku", "location"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_table("review_queue")
    op.drop_table("replenishment_proposals")
    op.drop_table("replenishment_policies")
    op.drop_table("daily_demand")
