"""The trace of each logged offer change and of its webhook deliveries (docs/operations.md,
"Tracing"): a delivery is a hop of the trace of the change it carries; the upstream event
behind a change, and an index by SKU, for ``GET /v1/offer-changes?sku=`` (`skuhub trace`).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("offer_changes", sa.Column("traceparent", sa.Text))
    op.add_column("offer_changes", sa.Column("caused_by", sa.Text))
    op.create_index("offer_changes_by_sku", "offer_changes", ["sku", "seq"])
    op.add_column("webhook_deliveries", sa.Column("traceparent", sa.Text))


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "traceparent")
    op.drop_index("offer_changes_by_sku", "offer_changes")
    op.drop_column("offer_changes", "caused_by")
    op.drop_column("offer_changes", "traceparent")
