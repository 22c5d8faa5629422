"""Data accuracy: the reconciler's verdict of each position of the lifecycle's projection of
stock against the stock service (docs/kpis.md), and its place in the sweep. The current
shape is libs/skuhub_runtime/reconcile_store.py's, shared by every reconciling service.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from skuhub_runtime.migrations import create_reconciliation_tables, drop_reconciliation_tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_reconciliation_tables(op)


def downgrade() -> None:
    drop_reconciliation_tables(op)
