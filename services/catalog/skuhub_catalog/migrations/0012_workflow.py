"""The approval workflow: each product's workflow state and the content it last published
(what the channels show); the comment of a history entry (why a product was rejected).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "products", sa.Column("workflow", sa.Text, nullable=False, server_default="draft")
    )
    op.alter_column("products", "workflow", server_default=None)
    op.add_column("products", sa.Column("published", JSONB))
    op.add_column("product_history", sa.Column("comment", sa.Text))


def downgrade() -> None:
    op.drop_column("product_history", "comment")
    op.drop_column("products", "published")
    op.drop_column("products", "workflow")
