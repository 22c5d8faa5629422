"""The stock service's tables (SQLAlchemy Core), in its own schema."""

from __future__ import annotations

import sqlalchemy as sa

from skuhub_runtime import messaging_tables

metadata = sa.MetaData()
messaging_tables.add_to(metadata)

positions = sa.Table(
    "positions",
    metadata,
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

movements = sa.Table(
    "movements",
    metadata,
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
    sa.Column("expires_on", sa.Date),
    sa.Column("reason", sa.Text),
    sa.Column("journal_seq", sa.BigInteger, sa.Identity(always=False), nullable=False),
    sa.UniqueConstraint("source_system", "source_sequence", name="movements_source_uq"),
)
sa.Index("movements_sku_seq_idx", movements.c.sku, movements.c.journal_seq)

# Replenishment (migration 0010): demand per day, policies, proposals.

daily_demand = sa.Table(
    "daily_demand",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("shipped", sa.Numeric, nullable=False),
    sa.Column("lost_sales", sa.Numeric, nullable=False),
)

replenishment_policies = sa.Table(
    "replenishment_policies",
    metadata,
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

replenishment_proposals = sa.Table(
    "replenishment_proposals",
    metadata,
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
        "status IN ('open', 'accepted', 'dismissed')", name="replenishment_proposals_status_ck"
    ),
)
sa.Index("replenishment_proposals_seq_uq", replenishment_proposals.c.seq, unique=True)
sa.Index(
    "replenishment_proposals_position_idx",
    replenishment_proposals.c.sku,
    replenishment_proposals.c.location,
    replenishment_proposals.c.seq,
)
# At most one open proposal per position, whichever transaction proposes it.
sa.Index(
    "replenishment_proposals_open_uq",
    replenishment_proposals.c.sku,
    replenishment_proposals.c.location,
    unique=True,
    postgresql_where=sa.text("status = 'open'"),
)
