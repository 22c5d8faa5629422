"""The catalog service's tables (SQLAlchemy Core), in its own schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from skuhub_runtime import messaging_tables, reconcile_store

metadata = sa.MetaData()
messaging_tables.add_to(metadata)
reconcile_store.add_to(metadata)  # position_checks, reconciler_sweeps (docs/kpis.md)
GTIN_INDEX = "products_gtin14_uq"

product_models = sa.Table(
    "product_models",
    metadata,
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
sa.Index("product_models_parent_idx", product_models.c.parent)
sa.Index("product_models_family_idx", product_models.c.family)

products = sa.Table(
    "products",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("gtin", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("family", sa.Text),
    sa.Column(
        "product_model",
        sa.Text,
        sa.ForeignKey("product_models.code", name="products_product_model_fk"),
    ),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("title", JSONB, nullable=False),
    sa.Column("description", JSONB, nullable=False),
    sa.Column("attributes", JSONB, nullable=False),
    # Stock facts (0002). Quantities as decimal strings ("12.5"), exact: a JSONB number
    # would come back through json.loads as a binary float.
    sa.Column("packs", JSONB, nullable=False),
    sa.Column("lot_tracked", sa.Boolean, nullable=False),
    sa.Column("shelf_life_days", sa.Integer),
    sa.Column("kit_components", JSONB, nullable=False),
    sa.Column("categories", JSONB, nullable=False),  # codes, sorted (0007)
    sa.Column("relations", JSONB, nullable=False),  # {"accessory": ["SKU", …], …} (0008)
    sa.Column("workflow", sa.Text, nullable=False),  # (0012)
    sa.Column("published", JSONB),  # the content last published, resolved
    # [{"channel", "locale", "required", "missing": [...]}] at the last save (0014)
    sa.Column("completeness", JSONB),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
products_gtin14: sa.ColumnElement[str] = sa.func.lpad(products.c.gtin, 14, "0")
"""The GTIN as GS1 compares it (0003): what uniqueness and lookups use."""
sa.Index(GTIN_INDEX, products_gtin14, unique=True, postgresql_where=products.c.gtin.isnot(None))
sa.Index("products_product_model_idx", products.c.product_model)
sa.Index("products_family_idx", products.c.family)
sa.Index(
    "products_categories_idx",
    products.c.categories,
    postgresql_using="gin",
    postgresql_ops={"categories": "jsonb_path_ops"},
)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("parent", sa.Text, sa.ForeignKey("categories.code")),
    sa.Column("labels", JSONB, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("categories_parent_idx", categories.c.parent)

product_history = sa.Table(
    "product_history",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("via", sa.Text),
    sa.Column("comment", sa.Text),  # (0012)
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    # [{"field": "attributes.colour", "old": "red", "new": "blue"}, ...]
    sa.Column("changes", JSONB, nullable=False),
)

# What the stock and lifecycle services last reported (0006), shown beside content.
stock_positions = sa.Table(
    "stock_positions",
    metadata,
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
lifecycle_stages = sa.Table(
    "lifecycle_stages",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("stage_version", sa.BigInteger, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

families = sa.Table(
    "families",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("labels", JSONB, nullable=False),
    sa.Column("attributes", JSONB, nullable=False),  # codes
    sa.Column("requirements", JSONB, nullable=False),  # {"web": ["title", "brand"], …}
    # [{"attribute": "hazardous", "equals": true, "require": ["un_number"]}, …] (0010)
    sa.Column("conditions", JSONB, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

attributes = sa.Table(
    "attributes",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("labels", JSONB, nullable=False),
    # group, max_length, pattern, minimum, maximum, decimals, unit_family, options, columns
    sa.Column("definition", JSONB, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Supplier imports (0013).
import_mappings = sa.Table(
    "import_mappings",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("definition", JSONB, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

import_jobs = sa.Table(
    "import_jobs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("mapping", sa.Text, nullable=False),
    sa.Column("file_format", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("rows_total", sa.BigInteger),
    sa.Column("counts", JSONB, nullable=False),  # ImportCounts as an object
    sa.Column("message", sa.Text),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

import_problems = sa.Table(
    "import_problems",
    metadata,
    sa.Column("job_id", sa.Text, sa.ForeignKey("import_jobs.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("row", sa.BigInteger, nullable=False),
    sa.Column("column", sa.Text),
    sa.Column("field", sa.Text),
    sa.Column("message", sa.Text, nullable=False),
)
