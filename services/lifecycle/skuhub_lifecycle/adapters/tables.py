"""The lifecycle service's tables (SQLAlchemy Core), in its own schema."""

from __future__ import annotations

import sqlalchemy as sa

from skuhub_runtime import messaging_tables

metadata = sa.MetaData()
messaging_tables.add_to(metadata)

stages = sa.Table(
    "stages",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("product_version", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("stages_stage_idx", stages.c.stage)
