"""The review queue as plain entries: a place may be queued more than once.

With one row per place, a consumer queuing a place waited on the unique index for a review
transaction that was taking (deleting) that place's row, for as long as the review ran:
stock-level-changed stood still behind replenishment. Plain inserts never wait; the review
takes entries by id and reviews each place once per run.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("review_queue_pkey", "review_queue", type_="primary")
    op.add_column(
        "review_queue", sa.Column("entry", sa.BigInteger, sa.Identity(always=True), nullable=False)
    )
    op.create_primary_key("review_queue_pkey", "review_queue", ["entry"])


def downgrade() -> None:
    op.drop_constraint("review_queue_pkey", "review_queue", type_="primary")
    op.drop_column("review_queue", "entry")
    op.execute(
        "DELETE FROM review_queue a USING review_queue b "
        "WHERE a.ctid < b.ctid AND (a.sku, a.location) = (b.sku, b.location)"
    )
    op.create_primary_key("review_queue_pkey", "review_queue", ["sku", "location"])
