"""Product models: what variants share, and their axes; a product names its model.

Revision ID: 0004
Revises: 0003

Before this revision a product's ``parent_sku`` named a model that existed nowhere: no
entity held it, so nothing could be inherited from it or checked against it. The column
becomes ``product_model``, a reference to ``product_models``, and the old free-text
values are cleared (the products keep all their own content): attach variants to models
created through ``POST /v1/product-models``.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_models",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("parent", sa.Text, sa.ForeignKey("product_models.code")),
        sa.Column("axes", JSONB, nullable=False),
        sa.Column("family", sa.Text),
        sa.Column("title", JSONB, nullable=False),
        sa.Column("description", JSONB, nullable=False),
        sa.Column("attributes", JSONB, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("product_models_parent_idx", "product_models", ["parent"])
    op.drop_index("products_parent_sku_idx", table_name="products")
    op.alter_column("products", "parent_sku", new_column_name="product_model")
    op.execute("UPDATE products SET product_model = NULL")
    op.create_foreign_key(
        "products_product_model_fk", "products", "product_models", ["product_model"], ["code"]
    )
    op.create_index("products_product_model_idx", "products", ["product_model"])


def downgrade() -> None:
    op.drop_index("products_product_model_idx", table_name="products")
    op.drop_constraint("products_product_model_fk", "products", type_="foreignkey")
    op.alter_column("products", "product_model", new_column_name="parent_sku")
    op.create_index("products_parent_sku_idx", "products", ["parent_sku"])
    op.drop_table("product_models")
