"""Families: conditional requirements (a value that makes more attributes required).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "families",
        sa.Column("conditions", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    # The code writes every column, so no default stays behind to hide a forgotten one.
    op.alter_column("families", "conditions", server_default=None)


def downgrade() -> None:
    op.drop_column("families", "conditions")
