"""The lifecycle service's tables (SQLAlchemy Core), in its own schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from skuhub_runtime import messaging_tables, reconcile_store

metadata = sa.MetaData()
messaging_tables.add_to(metadata)
reconcile_store.add_to(metadata)  # position_checks, reconciler_sweeps (docs/kpis.md)

_QUANTITY = sa.Numeric()


def _tz(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _quantity(name: str) -> sa.Column[object]:
    return sa.Column(name, _QUANTITY, nullable=False, server_default="0")


COUNTER_COLUMNS = ("received", "shipped", "returned", "scrapped", "lost_sales")

stages = sa.Table(
    "stages",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("product_version", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _tz("changed_at"),
    _tz("updated_at"),
    sa.Column("actor", sa.Text, nullable=False, server_default="lifecycle"),
    sa.Column("pre_order", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("successor", sa.Text),
    sa.Column("product_model", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("approved", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("readiness", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("replacement", sa.Text),
)
sa.Index("stages_stage_idx", stages.c.stage)
sa.Index("stages_product_model_idx", stages.c.product_model)

stage_history = sa.Table(
    "stage_history",
    metadata,
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

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("lot", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    _quantity("on_hand"),
    _quantity("reserved"),
    _quantity("location_available_to_promise"),
    *(_quantity(name) for name in COUNTER_COLUMNS),
    _tz("changed_at"),
)

sku_stock = sa.Table(
    "sku_stock",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    _quantity("on_hand"),
    _quantity("reserved"),
    _quantity("available_to_promise"),
    *(_quantity(name) for name in COUNTER_COLUMNS),
    _tz("tracked_since", nullable=True),
    _tz("last_at", nullable=True),
    _tz("last_sale_at", nullable=True),
    _tz("zero_since", nullable=True),
)

sku_days = sa.Table(
    "sku_days",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    *(_quantity(name) for name in COUNTER_COLUMNS),
    sa.Column("on_hand_close", _QUANTITY),
)

stockouts = sa.Table(
    "stockouts",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), primary_key=True),
    _tz("ended_at", nullable=True),
)

sku_classes = sa.Table(
    "sku_classes",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("velocity", sa.Text, nullable=False),
    sa.Column("variability", sa.Text, nullable=False),
    _quantity("units_sold_28"),
    _tz("classified_at"),
)
sa.Index("sku_classes_velocity_idx", sku_classes.c.velocity, sku_classes.c.variability)

policies = sa.Table(
    "policies",
    metadata,
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

rule_settings = sa.Table(
    "rule_settings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("body", JSONB, nullable=False),
    _tz("changed_at"),
)

suggestions = sa.Table(
    "suggestions",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("rule", sa.Text, primary_key=True),
    sa.Column("target", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    _tz("suggested_at"),
)
