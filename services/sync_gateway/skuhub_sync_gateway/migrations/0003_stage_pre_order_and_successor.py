"""Stages keep what lifecycle-stage-changed says besides the stage: whether a pre-launch SKU
takes pre-orders, and the SKU that replaces a discontinued one. Rows stored before get what
an event without these fields means: no pre-order, no successor.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "stages",
        sa.Column("pre_order", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # The code writes every column, so no default stays behind to hide a forgotten one.
    op.alter_column("stages", "pre_order", server_default=None)
    op.add_column("stages", sa.Column("successor", sa.Text))


def downgrade() -> None:
    op.drop_column("stages", "successor")
    op.drop_column("stages", "pre_order")
