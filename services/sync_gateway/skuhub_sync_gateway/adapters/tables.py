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
