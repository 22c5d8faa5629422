"""Each product keeps its completeness as measured at its last save, so a read need not
measure it again (null for products saved before: measured when read).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("completeness", JSONB))


def downgrade() -> None:
    op.drop_column("products", "completeness")
