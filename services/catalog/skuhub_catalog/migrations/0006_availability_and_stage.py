"""The catalog's projection of stock positions and lifecycle stages (shown beside content).

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
        "stock_positions",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("location", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("on_hand", sa.Numeric, nullable=False),
        sa.Column("quality_hold", sa.Numeric, nullable=False),
        sa.Column("expired", sa.Numeric, nullable=False),
        sa.Column("reserved", sa.Numeric, nullable=False),
        sa.Column("available_to_promise", sa.Numeric, nullable=False),
        sa.Column("kit", sa.Boolean, nullable=False),
        sa.Column("position_version", sa.BigInteger, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "lifecycle_stages",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("stage_version", sa.BigInteger, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lifecycle_stages")
    op.drop_table("stock_positions")
