"""Categories (trees), and the categories each product is in.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("parent", sa.Text, sa.ForeignKey("categories.code")),
        sa.Column("labels", JSONB, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("categories_parent_idx", "categories", ["parent"])
    op.add_column(
        "products",
        sa.Column("categories", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    # The code writes every column, so no default stays behind to hide a forgotten one.
    op.alter_column("products", "categories", server_default=None)
    op.create_index(
        "products_categories_idx",
        "products",
        ["categories"],
        postgresql_using="gin",
        postgresql_ops={"categories": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("products_categories_idx", table_name="products")
    op.drop_column("products", "categories")
    op.drop_table("categories")
