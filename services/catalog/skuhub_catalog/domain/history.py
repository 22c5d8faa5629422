"""A product's history: who changed what, when, field by field.

Pure Python. Every new version of a product is one entry: the version, the actor, the
time, and each field that changed with its old and new value. Maps are compared key by
key (``title.de_DE``, ``attributes.colour``, ``packs.CS``), so an entry names the
attribute that changed, not the whole map. A version made by a change to the product's
model records what the variant's resolved snapshot gained or lost, and ``via`` names
the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from skuhub_catalog.domain.product import Product

ANONYMOUS: Final = "anonymous"
"""The actor of a change whose caller did not say who it is."""

_SCALARS: Final = (
    "status",
    "gtin",
    "family",
    "product_model",
    "unit",
    "lot_tracked",
    "shelf_life_days",
    "kit_components",
    "categories",
    "deleted",
    "workflow",
)
_MAPS: Final = ("title", "description", "attributes", "packs", "relations")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field (or one key of a map field) before and after; None where absent."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One version of one product: who made it, when, and what changed."""

    sku: str
    version: int
    actor: str
    changed_at: datetime
    changes: tuple[FieldChange, ...]
    via: str | None = None
    comment: str | None = None
    """What the actor said about it (a workflow step's, e.g. why it was rejected)."""


def entry_for(
    before: Product | None,
    after: Product,
    *,
    actor: str,
    via: str | None = None,
    comment: str | None = None,
) -> HistoryEntry:
    """The history entry of ``after`` (``before``: the previous version, None if new)."""
    return HistoryEntry(
        sku=after.sku,
        version=after.version,
        actor=actor,
        changed_at=after.updated_at,
        changes=changes_between(before, after),
        via=via,
        comment=comment,
    )


def changes_between(before: Product | None, after: Product) -> tuple[FieldChange, ...]:
    """Every field that differs, maps key by key, in a fixed order (JSON-ready values)."""
    old = _fields(before) if before is not None else {}
    new = _fields(after)
    changes: list[FieldChange] = []
    for name in _SCALARS:
        if old.get(name) != new[name]:
            changes.append(FieldChange(name, old.get(name), new[name]))
    for name in _MAPS:
        was: Mapping[str, Any] = old.get(name, {})
        now: Mapping[str, Any] = new[name]
        for key in sorted(was.keys() | now.keys()):
            if was.get(key) != now.get(key):
                changes.append(FieldChange(f"{name}.{key}", was.get(key), now.get(key)))
    return tuple(changes)


def _fields(product: Product) -> dict[str, Any]:
    return {
        "status": product.status.value,
        "gtin": product.gtin,
        "family": product.family,
        "product_model": product.product_model,
        "unit": product.unit,
        "lot_tracked": product.lot_tracked,
        "shelf_life_days": product.shelf_life_days,
        "kit_components": [
            {"sku": c.sku, "quantity": _text(c.quantity)} for c in product.kit_components
        ],
        "categories": list(product.categories),
        "deleted": product.deleted,
        "workflow": product.workflow.value,
        "title": dict(product.title),
        "description": dict(product.description),
        "attributes": dict(product.attributes),
        "packs": {code: _text(quantity) for code, quantity in product.packs.items()},
        "relations": {kind.value: list(skus) for kind, skus in product.relations.items()},
    }


def _text(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f")
