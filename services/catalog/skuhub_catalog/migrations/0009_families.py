"""Families: a kind of product, its attributes and what each channel requires.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "families",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("labels", JSONB, nullable=False),
        sa.Column("attributes", JSONB, nullable=False),
        sa.Column("requirements", JSONB, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("products_family_idx", "products", ["family"])
    op.create_index("product_models_family_idx", "product_models", ["family"])


def downgrade() -> None:
    op.drop_index("product_models_family_idx", table_name="product_models")
    op.drop_index("products_family_idx", table_name="products")
    op.drop_table("families")
