"""Products: relations to other products (accessory, replacement, cross-sell, up-sell).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "products",
        sa.Column("relations", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    # The code writes every column, so no default stays behind to hide a forgotten one.
    op.alter_column("products", "relations", server_default=None)


def downgrade() -> None:
    op.drop_column("products", "relations")
