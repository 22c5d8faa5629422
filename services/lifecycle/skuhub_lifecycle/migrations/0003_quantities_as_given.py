"""Quantities as unconstrained NUMERIC, like the stock service's: a quantity keeps the
scale it was reported with (9, not 9.000000).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTERS = ("received", "shipped", "returned", "scrapped", "lost_sales")
QUANTITIES = {
    "positions": ("on_hand", "reserved", "location_available_to_promise", *COUNTERS),
    "sku_stock": ("on_hand", "reserved", "available_to_promise", *COUNTERS),
    "sku_days": (*COUNTERS, "on_hand_close"),
    "sku_classes": ("units_sold_28",),
}


def _retype(to: sa.Numeric[Decimal]) -> None:
    for table, columns in QUANTITIES.items():
        for column in columns:
            # trim_scale: 9.000000 reads back as 9 once the column no longer fixes the scale.
            using = f"trim_scale({column})" if to.scale is None else None
            op.alter_column(table, column, type_=to, postgresql_using=using)


def upgrade() -> None:
    _retype(sa.Numeric())


def downgrade() -> None:
    _retype(sa.Numeric(20, 6))
