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
