"""The gateway's projection tables (its own copy of the facts it needs)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from skuhub_runtime import messaging_tables, reconcile_store

metadata = sa.MetaData()
messaging_tables.add_to(metadata)
reconcile_store.add_to(metadata)  # position_checks, reconciler_sweeps (0006)

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
    # The trace of the change and the upstream event behind it (0008): `skuhub trace`
    # follows a movement to its offer changes, and their webhook deliveries join its trace.
    sa.Column("traceparent", sa.Text),
    sa.Column("caused_by", sa.Text),
)
sa.Index("offer_changes_by_channel", offer_changes.c.channel, offer_changes.c.seq)
sa.Index("offer_changes_by_sku", offer_changes.c.sku, offer_changes.c.seq)

offer_rebuilds = sa.Table(
    "offer_rebuilds",
    metadata,
    # One row while every offer is to be built again (channels changed), from after_sku on.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("after_sku", sa.Text, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
)

# Webhooks (0005): subscriptions with their cursor into offer_changes, and one delivery per
# subscription and offer version (docs/webhooks.md).
webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column(
        "channel",
        sa.Text,
        sa.ForeignKey("channels.code", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("events", JSONB, nullable=False),
    sa.Column("only_sellable_changes", sa.Boolean, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("paused_reason", sa.Text),
    sa.Column("paused_since", sa.DateTime(timezone=True)),
    sa.Column("next_probe_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", sa.DateTime(timezone=True)),
    # The last offer_changes.seq of the channel turned into deliveries (or skipped).
    sa.Column("cursor", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("webhook_subscriptions_by_channel", webhook_subscriptions.c.channel)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    # Also the webhook-id header (msg_<hex>): the same on every attempt.
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "subscription_id",
        sa.Uuid,
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("offer_version", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("sellable", sa.Boolean, nullable=False),
    # The offer as offer_changes logged it: the delivery does not depend on the log's retention.
    sa.Column("offer", JSONB, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("traceparent", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    # Set while an attempt is under way, so no other dispatcher sends it (or its SKU's next).
    sa.Column("leased_until", sa.DateTime(timezone=True)),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint(
        "subscription_id", "channel", "sku", "offer_version", name="webhook_deliveries_once"
    ),
)
sa.Index(
    "webhook_deliveries_due",
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.seq,
    postgresql_where=sa.text("status IN ('pending', 'retrying')"),
)
sa.Index(
    "webhook_deliveries_waiting",
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.channel,
    webhook_deliveries.c.sku,
    webhook_deliveries.c.offer_version,
    postgresql_where=sa.text("status IN ('pending', 'retrying')"),
)
sa.Index(
    "webhook_deliveries_by_seq", webhook_deliveries.c.subscription_id, webhook_deliveries.c.seq
)
sa.Index(
    "webhook_deliveries_dead",
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.seq,
    postgresql_where=sa.text("status = 'dead'"),
)

# Data accuracy (0006): the reconciler's last verdict of each stored offer (docs/kpis.md).
offer_checks = sa.Table(
    "offer_checks",
    metadata,
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("offer_version", sa.BigInteger),
    sa.Column("offer_available", sa.Numeric),
    sa.Column("expected_available", sa.Numeric),
    # [[location, lot, version], ...] of the projection and of stock when judged.
    sa.Column("local_versions", JSONB, nullable=False),
    sa.Column("stock_versions", JSONB, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("awaited", JSONB, nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("offer_checks_by_verdict", offer_checks.c.verdict, offer_checks.c.since)
