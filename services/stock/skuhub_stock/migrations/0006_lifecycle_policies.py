"""The lifecycle service's inventory policy per SKU (inventory-policy-changed): whether to
replenish, the service level, review period and safety-stock buffer replenishment applies.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_policies",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("policy_version", sa.BigInteger, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("velocity_class", sa.Text),
        sa.Column("variability_class", sa.Text),
        sa.Column("replenish", sa.Boolean, nullable=False),
        sa.Column("service_level", sa.Float, nullable=False),
        sa.Column("review_period_days", sa.Integer, nullable=False),
        sa.Column("buffer_multiplier", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lifecycle_policies")
