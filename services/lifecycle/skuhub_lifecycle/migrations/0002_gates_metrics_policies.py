"""Gates (catalog facts beside the stage), stage history, stock flows by day, classes,
inventory policies, rules and suggestions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

QUANTITY = sa.Numeric(20, 6)
COUNTERS = ("received", "shipped", "returned", "scrapped", "lost_sales")


def _quantity(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, QUANTITY, nullable=False, server_default="0")


def _tz(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("stages", sa.Column("actor", sa.Text, nullable=False, server_default="lifecycle"))
    op.add_column(
        "stages", sa.Column("pre_order", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("stages", sa.Column("successor", sa.Text))
    op.add_column("stages", sa.Column("product_model", sa.Text))
    op.add_column(
        "stages", sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column(
        "stages", sa.Column("approved", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column(
        "stages",
        sa.Column("readiness", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("stages", sa.Column("replacement", sa.Text))
    op.create_index("stages_product_model_idx", "stages", ["product_model"])
    op.create_table(
        "stage_history",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("previous_stage", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("pre_order", sa.Boolean, nullable=False),
        sa.Column("successor", sa.Text),
        _tz("changed_at"),
    )
    op.create_table(
        "positions",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        _quantity("on_hand"),
        _quantity("reserved"),
        _quantity("location_available_to_promise"),
        *(_quantity(name) for name in COUNTERS),
        _tz("changed_at"),
    )
    op.create_table(
        "sku_stock",
        sa.Column("sku", sa.Text, primary_key=True),
        _quantity("on_hand"),
        _quantity("reserved"),
        _quantity("available_to_promise"),
        *(_quantity(name) for name in COUNTERS),
        _tz("tracked_since", nullable=True),
        _tz("last_at", nullable=True),
        _tz("last_sale_at", nullable=True),
    )
    op.create_table(
        "sku_days",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        *(_quantity(name) for name in COUNTERS),
        sa.Column("on_hand_close", QUANTITY),
        sa.Column("zero_atp_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("tracked_seconds", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "sku_classes",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("velocity", sa.Text, nullable=False),
        sa.Column("variability", sa.Text, nullable=False),
        _quantity("units_sold_28"),
        _tz("classified_at"),
    )
    op.create_index("sku_classes_velocity_idx", "sku_classes", ["velocity", "variability"])
    op.create_table(
        "policies",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("velocity", sa.Text),
        sa.Column("variability", sa.Text),
        sa.Column("replenish", sa.Boolean, nullable=False),
        sa.Column("service_level", sa.Float, nullable=False),
        sa.Column("review_period_days", sa.Integer, nullable=False),
        sa.Column("buffer_multiplier", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _tz("changed_at"),
    )
    op.create_table(
        "rule_settings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        _tz("changed_at"),
    )
    op.create_table(
        "suggestions",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("rule", sa.Text, primary_key=True),
        sa.Column("target", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        _tz("suggested_at"),
    )


def downgrade() -> None:
    for table in (
        "suggestions",
        "rule_settings",
        "policies",
        "sku_classes",
        "sku_days",
        "sku_stock",
        "positions",
        "stage_history",
    ):
        op.drop_table(table)
    op.drop_index("stages_product_model_idx", "stages")
    for column in (
        "replacement",
        "readiness",
        "approved",
        "deleted",
        "product_model",
        "successor",
        "pre_order",
        "actor",
    ):
        op.drop_column("stages", column)
