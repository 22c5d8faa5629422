"""Ledger by docs/stock.md: buckets and counters, expiry, counts by time, references, parking,
anomalies, variances, and the catalog's stock facts.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTERS = ("quality_hold", "incoming", "received", "shipped", "returned", "scrapped", "lost_sales")
REFERENCES = ("reservation_id", "transfer_ref", "order_ref")


def upgrade() -> None:
    for name in COUNTERS:
        op.add_column("positions", sa.Column(name, sa.Numeric, nullable=False, server_default="0"))
    op.add_column(
        "positions",
        sa.Column("expired", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("positions", sa.Column("counted_at", sa.DateTime(timezone=True)))
    op.create_index(
        "positions_expiry_due_idx",
        "positions",
        ["expires_on"],
        postgresql_where=sa.text("expires_on IS NOT NULL AND NOT expired"),
    )
    for name in REFERENCES:
        op.add_column("movements", sa.Column(name, sa.Text))
    op.add_column("movements", sa.Column("expected_on", sa.Date))
    op.add_column("movements", sa.Column("outcome", sa.Text))
    op.create_table(
        "effects",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_hand", sa.Numeric, nullable=False),
        sa.Column("absorbed", sa.Boolean, nullable=False),
    )
    op.create_index(
        "effects_position_time_idx", "effects", ["sku", "location", "lot", "occurred_at"]
    )
    op.create_table(
        "lots",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("expires_on", sa.Date, nullable=False),
    )
    op.create_table(
        "reservations",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("reservation_id", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("lots", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("idempotency_key", sa.Text, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    op.create_index("reservations_id_idx", "reservations", ["reservation_id"])
    op.create_index(
        "reservations_expiry_idx",
        "reservations",
        ["expires_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    # Numbers the movements the service makes itself (reservation commands) in its journal.
    op.execute("CREATE SEQUENCE command_sequence")
    op.create_table(
        "transfers",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("transfer_ref", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("lots", JSONB, nullable=False),
    )
    op.create_table(
        "order_lines",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("order_ref", sa.Text, primary_key=True),
        sa.Column("open_quantity", sa.Numeric, nullable=False),
    )
    op.create_table(
        "parked",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("waiting_kind", sa.Text, nullable=False),
        sa.Column("waiting_sku", sa.Text, nullable=False),
        sa.Column("waiting_ref", sa.Text, nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("parked_waiting_idx", "parked", ["waiting_kind", "waiting_sku", "waiting_ref"])
    op.create_table(
        "variances",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("lot", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counted", sa.Numeric, nullable=False),
        sa.Column("expected", sa.Numeric, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("variances_sku_idx", "variances", ["sku", "recorded_at"])
    op.create_table(
        "anomalies",
        sa.Column("anomaly_id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("lot", sa.Text, nullable=False),
        sa.Column("anomaly", sa.Text, nullable=False),
        sa.Column("quantity", sa.Numeric, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("anomalies_sku_idx", "anomalies", ["sku", "anomaly_id"])
    op.create_table(
        "sku_facts",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("packs", JSONB, nullable=False),
        sa.Column("lot_tracked", sa.Boolean, nullable=False),
        sa.Column("shelf_life_days", sa.Integer),
        sa.Column("product_version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "kit_components",
        sa.Column("kit_sku", sa.Text, primary_key=True),
        sa.Column("component_sku", sa.Text, primary_key=True),
        sa.Column("quantity", sa.Numeric, nullable=False),
    )
    op.create_index("kit_components_component_idx", "kit_components", ["component_sku"])
    op.create_table(
        "kit_positions",
        sa.Column("kit_sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("available", sa.Numeric, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Lots of the journal keep the first expiry date they were received with.
    op.execute(
        "INSERT INTO lots (sku, lot, expires_on) SELECT DISTINCT ON (sku, lot) sku, lot, "
        "expires_on FROM positions WHERE lot <> '' AND expires_on IS NOT NULL "
        "ORDER BY sku, lot, expires_on"
    )


def downgrade() -> None:
    for table in (
        "kit_positions",
        "kit_components",
        "sku_facts",
        "anomalies",
        "variances",
        "parked",
        "order_lines",
        "transfers",
        "reservations",
        "lots",
        "effects",
    ):
        op.drop_table(table)
    op.execute("DROP SEQUENCE command_sequence")
    for name in ("outcome", "expected_on", *REFERENCES):
        op.drop_column("movements", name)
    op.drop_index("positions_expiry_due_idx", table_name="positions")
    for name in ("counted_at", "expired", *COUNTERS):
        op.drop_column("positions", name)
