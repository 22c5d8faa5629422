"""Product history: one entry per product version, with its actor and field changes.

Revision ID: 0005
Revises: 0004

Versions made before this revision have no entry; a product's history starts with its
first change after it.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_history",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("via", sa.Text),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("product_history")
