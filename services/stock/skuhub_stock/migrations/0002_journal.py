"""Journal: keep each movement's reason and expiry, and number entries for paging.

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
    op.add_column("movements", sa.Column("expires_on", sa.Date))
    op.add_column("movements", sa.Column("reason", sa.Text))
    # Numbers existing rows too, in no particular order; new ones in the order journaled.
    op.add_column(
        "movements",
        sa.Column("journal_seq", sa.BigInteger, sa.Identity(always=False), nullable=False),
    )
    op.drop_index("movements_sku_idx", table_name="movements")
    op.create_index("movements_sku_seq_idx", "movements", ["sku", "journal_seq"])


def downgrade() -> None:
    op.drop_index("movements_sku_seq_idx", table_name="movements")
    op.create_index("movements_sku_idx", "movements", ["sku"])
    op.drop_column("movements", "journal_seq")
    op.drop_column("movements", "reason")
    op.drop_column("movements", "expires_on")
