"""Supplier imports: saved mappings, import jobs and the problems of their rows.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_mappings",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("definition", JSONB, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("mapping", sa.Text, nullable=False),
        sa.Column("file_format", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("rows_total", sa.BigInteger),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "import_problems",
        sa.Column("job_id", sa.Text, sa.ForeignKey("import_jobs.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("row", sa.BigInteger, nullable=False),
        sa.Column("column", sa.Text),
        sa.Column("field", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("import_problems")
    op.drop_table("import_jobs")
    op.drop_table("import_mappings")
