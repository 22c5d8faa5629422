"""Webhooks: subscriptions (with their cursor into the offer change log) and deliveries, one
per subscription and offer version (docs/webhooks.md).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column(
            "channel",
            sa.Text,
            sa.ForeignKey("channels.code", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("events", JSONB, nullable=False),
        sa.Column("only_sellable_changes", sa.Boolean, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("paused_reason", sa.Text),
        sa.Column("paused_since", _TIME),
        sa.Column("next_probe_at", _TIME),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", _TIME),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_index("webhook_subscriptions_by_channel", "webhook_subscriptions", ["channel"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Uuid,
            sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("offer_version", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("sellable", sa.Boolean, nullable=False),
        sa.Column("offer", JSONB, nullable=False),
        sa.Column("changed_at", _TIME, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("leased_until", _TIME),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_attempt_at", _TIME),
        sa.Column("delivered_at", _TIME),
        sa.UniqueConstraint(
            "subscription_id", "channel", "sku", "offer_version", name="webhook_deliveries_once"
        ),
    )
    # Waiting deliveries in due order (claims), and by SKU and version (the ordering rule).
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["subscription_id", "next_attempt_at", "seq"],
        postgresql_where=sa.text("status IN ('pending', 'retrying')"),
    )
    op.create_index(
        "webhook_deliveries_waiting",
        "webhook_deliveries",
        ["subscription_id", "channel", "sku", "offer_version"],
        postgresql_where=sa.text("status IN ('pending', 'retrying')"),
    )
    op.create_index("webhook_deliveries_by_seq", "webhook_deliveries", ["subscription_id", "seq"])
    op.create_index(
        "webhook_deliveries_dead",
        "webhook_deliveries",
        ["subscription_id", "seq"],
        postgresql_where=sa.text("status = 'dead'"),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
