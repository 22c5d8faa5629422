"""Channels as data, stored offers with their versions, and the log of offer changes.

The projection keeps what allocation and content need besides: each position's location
ATP, kit flag, cause and time; a product's published description, attributes, categories,
completeness and kit flag. Rows stored before read as their older meaning (location ATP =
the position's own, no content beyond the title) until the next event of the key.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _add(table: str, column: sa.Column[object], default: sa.TextClause | None = None) -> None:
    if default is None:
        op.add_column(table, column)
        return
    column.server_default = sa.DefaultClause(default)
    op.add_column(table, column)
    # The code writes every column, so no default stays behind to hide a forgotten one.
    op.alter_column(table, column.name, server_default=None)


def upgrade() -> None:
    _add("positions", sa.Column("location_available_to_promise", sa.Numeric))
    op.execute("UPDATE positions SET location_available_to_promise = available_to_promise")
    op.alter_column("positions", "location_available_to_promise", nullable=False)
    _add("positions", sa.Column("kit", sa.Boolean, nullable=False), sa.text("false"))
    _add("positions", sa.Column("caused_by", sa.Text))
    _add("positions", sa.Column("changed_at", sa.DateTime(timezone=True)))
    for name in ("description", "attributes", "completeness"):
        _add("products", sa.Column(name, JSONB, nullable=False), sa.text("'{}'::jsonb"))
    op.execute("UPDATE products SET completeness = '[]'::jsonb")
    _add("products", sa.Column("categories", JSONB, nullable=False), sa.text("'[]'::jsonb"))
    _add("products", sa.Column("kit", sa.Boolean, nullable=False), sa.text("false"))
    op.create_index("stages_successor", "stages", ["successor"])

    op.create_table(
        "channels",
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
    op.create_table(
        "offers",
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("offer_version", sa.BigInteger, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("offer", JSONB, nullable=False),
        sa.Column("lineage", JSONB, nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_index("offers_by_sku", "offers", ["sku"])
    op.execute("CREATE SEQUENCE offer_change_seq")
    op.create_table(
        "offer_changes",
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("offer_version", sa.BigInteger, nullable=False),
        sa.Column("offer", JSONB, nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("origin_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("offer_changes_by_channel", "offer_changes", ["channel", "seq"])
    op.create_table(
        "offer_rebuilds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("after_sku", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("offer_rebuilds", "offer_changes", "offers", "channels"):
        op.drop_table(table)
    op.execute("DROP SEQUENCE offer_change_seq")
    op.drop_index("stages_successor", "stages")
    for name in ("kit", "categories", "completeness", "attributes", "description"):
        op.drop_column("products", name)
    for name in ("changed_at", "caused_by", "kit", "location_available_to_promise"):
        op.drop_column("positions", name)
