"""The stock service's tables (SQLAlchemy Core), in its own schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from skuhub_runtime import messaging_tables

metadata = sa.MetaData()

ADDED_QUANTITIES = (
    "quality_hold",
    "incoming",
    "received",
    "shipped",
    "returned",
    "scrapped",
    "lost_sales",
)
"""The quantities of a position added by revision 0003, each zero for older positions."""
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
    *(sa.Column(name, sa.Numeric, nullable=False, server_default="0") for name in ADDED_QUANTITIES),
    sa.Column("expired", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("counted_at", sa.DateTime(timezone=True)),
)
sa.Index(
    "positions_expiry_due_idx",
    positions.c.expires_on,
    postgresql_where=sa.and_(positions.c.expires_on.is_not(None), ~positions.c.expired),
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
    sa.Column("reservation_id", sa.Text),
    sa.Column("transfer_ref", sa.Text),
    sa.Column("order_ref", sa.Text),
    sa.Column("expected_on", sa.Date),
    sa.Column("outcome", sa.Text),
    sa.UniqueConstraint("source_system", "source_sequence", name="movements_source_uq"),
)
sa.Index("movements_sku_seq_idx", movements.c.sku, movements.c.journal_seq)

effects = sa.Table(
    "effects",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("lot", sa.Text, primary_key=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("on_hand", sa.Numeric, nullable=False),
    sa.Column("absorbed", sa.Boolean, nullable=False),
)
sa.Index(
    "effects_position_time_idx",
    effects.c.sku,
    effects.c.location,
    effects.c.lot,
    effects.c.occurred_at,
)

lots = sa.Table(
    "lots",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("lot", sa.Text, primary_key=True),
    sa.Column("expires_on", sa.Date, nullable=False),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("reservation_id", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("lots", JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="open"),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("idempotency_key", sa.Text, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True)),
)
sa.Index("reservations_id_idx", reservations.c.reservation_id)
sa.Index(
    "reservations_expiry_idx",
    reservations.c.expires_at,
    postgresql_where=reservations.c.status == "open",
)
sa.Sequence("command_sequence", metadata=metadata)

transfers = sa.Table(
    "transfers",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("transfer_ref", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("destination", sa.Text, nullable=False),
    sa.Column("lots", JSONB, nullable=False),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("order_ref", sa.Text, primary_key=True),
    sa.Column("open_quantity", sa.Numeric, nullable=False),
)

parked = sa.Table(
    "parked",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("waiting_kind", sa.Text, nullable=False),
    sa.Column("waiting_sku", sa.Text, nullable=False),
    sa.Column("waiting_ref", sa.Text, nullable=False),
    sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("parked_waiting_idx", parked.c.waiting_kind, parked.c.waiting_sku, parked.c.waiting_ref)

variances = sa.Table(
    "variances",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("lot", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("counted", sa.Numeric, nullable=False),
    sa.Column("expected", sa.Numeric, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("variances_sku_idx", variances.c.sku, variances.c.recorded_at)

anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("anomaly_id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("lot", sa.Text, nullable=False),
    sa.Column("anomaly", sa.Text, nullable=False),
    sa.Column("quantity", sa.Numeric, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("anomalies_sku_idx", anomalies.c.sku, anomalies.c.anomaly_id)

sku_facts = sa.Table(
    "sku_facts",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("packs", JSONB, nullable=False),
    sa.Column("lot_tracked", sa.Boolean, nullable=False),
    sa.Column("shelf_life_days", sa.Integer),
    sa.Column("product_version", sa.BigInteger, nullable=False),
)

kit_components = sa.Table(
    "kit_components",
    metadata,
    sa.Column("kit_sku", sa.Text, primary_key=True),
    sa.Column("component_sku", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Numeric, nullable=False),
)
sa.Index("kit_components_component_idx", kit_components.c.component_sku)

kit_positions = sa.Table(
    "kit_positions",
    metadata,
    sa.Column("kit_sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("available", sa.Numeric, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
# Replenishment (migration 0004): demand per day, policies, proposals.

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

review_queue = sa.Table(
    "review_queue",
    metadata,
    sa.Column("entry", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
)

# The lifecycle service's inventory policy per SKU (migration 0006), the newest version seen.
lifecycle_policies = sa.Table(
    "lifecycle_policies",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("policy_version", sa.BigInteger, nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("velocity_class", sa.Text),
    sa.Column("variability_class", sa.Text),
    sa.Column("replenish", sa.Boolean, nullable=False),
    sa.Column("service_level", sa.Float, nullable=False),
    sa.Column("review_period_days", sa.Integer, nullable=False),
    sa.Column("buffer_multiplier", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)
