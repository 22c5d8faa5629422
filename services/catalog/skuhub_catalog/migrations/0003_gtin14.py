"""Products: a GTIN is unique as GTIN-14 (``4006381333931`` and ``04006381333931`` are one
item), so the unique index is on the 14-digit form.

Revision ID: 0003
Revises: 0002

A catalog that already holds one item under two forms stops this migration with a unique
violation naming both rows: clear the GTIN of the wrong product, then migrate again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("products_gtin_uq", table_name="products")
    op.create_index(
        "products_gtin14_uq",
        "products",
        [sa.text("lpad(gtin, 14, '0')")],
        unique=True,
        postgresql_where=sa.text("gtin IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("products_gtin14_uq", table_name="products")
    op.create_index(
        "products_gtin_uq",
        "products",
        ["gtin"],
        unique=True,
        postgresql_where=sa.text("gtin IS NOT NULL"),
    )
