"""API tokens (argon2id hashes of their secrets) and the audit of every write.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    at = sa.DateTime(timezone=True)
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.Text, primary_key=True),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False),
        sa.Column("channels", ARRAY(sa.Text)),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", at, nullable=False),
        sa.Column("revoked_at", at),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", at, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("token_id", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("trace_id", sa.Text),
    )
    op.create_index("audit_log_by_token", "audit_log", ["token_id", "at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
