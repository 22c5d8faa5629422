"""Products keep the content last published (title, GTIN) and its version: channels sell
only published content. Rows stored before hold no published version until the catalog
publishes the product again.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("published_version", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("products", "published_version")
