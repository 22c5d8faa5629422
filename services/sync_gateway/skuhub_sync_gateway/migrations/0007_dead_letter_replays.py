"""Dead-letter replays: one row per dead letter of this service replayed, so that none is
replayed twice. The current shape is libs/skuhub_runtime/messaging_tables.py's, shared by
every service (docs/operations.md, Dead letters).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from skuhub_runtime.migrations import create_dead_letter_replays, drop_dead_letter_replays

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letter_replays(op)


def downgrade() -> None:
    drop_dead_letter_replays(op)
