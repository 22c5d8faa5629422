"""Data accuracy: the reconciler's verdict of each position of the lifecycle's projection of
stock against the stock service (docs/kpis.md), and its place in the sweep. The current
shape is libs/skuhub_runtime/reconcile_store.py's, shared by every reconciling service.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "position_checks",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("local_version", sa.BigInteger),
        sa.Column("stock_version", sa.BigInteger),
        sa.Column("local", JSONB),
        sa.Column("stock", JSONB),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("awaited", JSONB, nullable=False),
        sa.Column("since", _TIME, nullable=False),
        sa.Column("checked_at", _TIME, nullable=False),
    )
    op.create_index("position_checks_by_verdict", "position_checks", ["verdict", "since"])
    op.create_table(
        "reconciler_sweeps",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("after_sku", sa.Text, nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("checked_skus", sa.BigInteger, nullable=False),
        sa.Column("last_started_at", _TIME),
        sa.Column("last_finished_at", _TIME),
        sa.Column("last_skus", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("reconciler_sweeps")
    op.drop_table("position_checks")
