"""Products: the stock facts (packs, lot tracking, shelf life, kit components).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NEW_COLUMNS = {
    # Existing products get what a product created without these fields has.
    "packs": (JSONB, sa.text("'{}'::jsonb")),
    "lot_tracked": (sa.Boolean, sa.text("false")),
    "kit_components": (JSONB, sa.text("'[]'::jsonb")),
}


def upgrade() -> None:
    for name, (type_, default) in _NEW_COLUMNS.items():
        op.add_column("products", sa.Column(name, type_, nullable=False, server_default=default))
        # The code writes every column, so no default stays behind to hide a forgotten one.
        op.alter_column("products", name, server_default=None)
    op.add_column("products", sa.Column("shelf_life_days", sa.Integer))


def downgrade() -> None:
    op.drop_column("products", "shelf_life_days")
    for name in reversed(list(_NEW_COLUMNS)):
        op.drop_column("products", name)
