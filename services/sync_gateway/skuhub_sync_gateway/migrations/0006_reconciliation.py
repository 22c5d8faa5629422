"""Data accuracy: the reconciler's verdicts of offers and projected positions, and its sweep.

- ``offer_checks``: per channel and SKU, the last verdict of the stored offer against the
  stock service (match, mismatch, in_flight), what it was judged on, and since when;
- ``position_checks``: the same per projected position (libs/skuhub_runtime/reconcile_store.py
  holds the current shape, shared with catalog and lifecycle);
- ``reconciler_sweeps``: where each sweep is, and its last complete pass.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from skuhub_runtime.migrations import create_reconciliation_tables, drop_reconciliation_tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "offer_checks",
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("offer_version", sa.BigInteger),
        sa.Column("offer_available", sa.Numeric),
        sa.Column("expected_available", sa.Numeric),
        sa.Column("local_versions", JSONB, nullable=False),
        sa.Column("stock_versions", JSONB, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("awaited", JSONB, nullable=False),
        sa.Column("since", _TIME, nullable=False),
        sa.Column("checked_at", _TIME, nullable=False),
    )
    op.create_index("offer_checks_by_verdict", "offer_checks", ["verdict", "since"])
    create_reconciliation_tables(op)


def downgrade() -> None:
    drop_reconciliation_tables(op)
    op.drop_table("offer_checks")
