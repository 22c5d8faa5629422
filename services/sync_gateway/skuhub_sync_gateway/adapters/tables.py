"""The gateway's projection tables (its own copy of the facts it needs)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from skuhub_runtime import messaging_tables

metadata = sa.MetaData()
messaging_tables.add_to(metadata)

products = sa.Table(
    "products",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    # The published content (0002): title and GTIN as of published_version, {} and null
    # while the product was never published.
    sa.Column("gtin", sa.Text),
    sa.Column("title", JSONB, nullable=False),
    sa.Column("published_version", sa.BigInteger),
    # More of the published content (0004): completeness as of the published version.
    sa.Column("description", JSONB, nullable=False),
    sa.Column("attributes", JSONB, nullable=False),
    sa.Column("categories", JSONB, nullable=False),
    sa.Column("completeness", JSONB, nullable=False),
    sa.Column("kit", sa.Boolean, nullable=False),
    sa.Column("trace_id", sa.Text),
    sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("lot", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("on_hand", sa.Numeric, nullable=False),
    sa.Column("available_to_promise", sa.Numeric, nullable=False),
    # 0004: the location's ATP over all lots as of this report, and where it came from.
    sa.Column("location_available_to_promise", sa.Numeric, nullable=False),
    sa.Column("kit", sa.Boolean, nullable=False),
    sa.Column("caused_by", sa.Text),
    sa.Column("changed_at", sa.DateTime(timezone=True)),
    sa.Column("trace_id", sa.Text),
    sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

stages = sa.Table(
    "stages",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    # As lifecycle-stage-changed carried them (0003): the offer rules decide which count.
    sa.Column("pre_order", sa.Boolean, nullable=False),
    sa.Column("successor", sa.Text),
    sa.Column("trace_id", sa.Text),
    sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("stages_successor", stages.c.successor)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("locales", JSONB, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("locations", JSONB, nullable=False),
    sa.Column("allocation", JSONB, nullable=False),
    sa.Column("safety_buffer", sa.Numeric, nullable=False),
    sa.Column("low_stock_threshold", sa.Numeric, nullable=False),
    sa.Column("back_orders", sa.Boolean, nullable=False),
    sa.Column("merchant_feed", JSONB),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

offers = sa.Table(
    "offers",
    metadata,
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("offer_version", sa.BigInteger, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),
    # The channel-offer-changed payload of offer_version, as published.
    sa.Column("offer", JSONB, nullable=False),
    # Which facts (versions, causing movements, times) this version was built from.
    sa.Column("lineage", JSONB, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)
sa.Index("offers_by_sku", offers.c.sku)

offer_change_seq = sa.Sequence("offer_change_seq", metadata=metadata)

offer_changes = sa.Table(
    "offer_changes",
    metadata,
    # Assigned in commit order (one writer at a time), so a reader never skips a change.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("offer_version", sa.BigInteger, nullable=False),
    sa.Column("offer", JSONB, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("offer_changes_by_channel", offer_changes.c.channel, offer_changes.c.seq)

offer_rebuilds = sa.Table(
    "offer_rebuilds",
    metadata,
    # One row while every offer is to be built again (channels changed), from after_sku on.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("after_sku", sa.Text, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
)
