"""Use cases: attribute definitions, and the check of a product's or a model's own values.

A value of a defined attribute must be what its type takes. A product (or model) of a
family the catalog holds takes only that family's attributes; without one, attributes not
defined stay free-form (the catalog's values before attributes were typed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from skuhub_catalog.domain.attributes import (
    Attribute,
    AttributeChange,
    AttributeExistsError,
    AttributeNotFoundError,
    apply_attribute_change,
    broken_rule,
    new_attribute,
)
from skuhub_catalog.domain.product import InvalidProductError
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.service_layer.snapshots import Families


async def create_attribute(uow: CatalogUnitOfWork, attribute: Attribute) -> Attribute:
    """Create a definition at version 1.

    Raises:
        AttributeExistsError, InvalidAttributeError.
    """
    defined = new_attribute(attribute)
    if not await uow.attributes.add(defined):
        raise AttributeExistsError(
            f"an attribute with code {attribute.code} exists already; change it with PATCH"
        )
    return defined


async def update_attribute(
    uow: CatalogUnitOfWork,
    code: str,
    change: AttributeChange,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Attribute:
    """Relabel, regroup or change the options of a definition.

    Raises:
        AttributeNotFoundError, VersionConflictError, InvalidAttributeError.
    """
    current = await uow.attributes.get(code, for_update=True)
    if current is None:
        raise AttributeNotFoundError(f"no attribute {code}; define it with POST /v1/attributes")
    changed = apply_attribute_change(
        current, change, now=now or datetime.now(UTC), expected_version=expected_version
    )
    if changed is not current:
        await uow.attributes.update(changed)
    return changed


async def check_values(
    uow: CatalogUnitOfWork,
    owner: str,
    values: Mapping[str, Any],
    family: str | None,
    families: Families | None = None,
) -> None:
    """``owner``'s own ``values`` against the definitions and its family's attributes.

    Raises:
        InvalidProductError: ``field`` ``attributes.<code>``, the message the rule.
    """
    if not values:
        return
    held = await (families or Families(uow)).get(family)
    definitions = await uow.attributes.get_many(sorted(values))
    for code, value in values.items():
        if held is not None and code not in held.attributes:
            raise InvalidProductError(
                f"attribute {code} is not an attribute of family {held.code}: add it to the "
                f"family, or remove it from {owner}",
                field=f"attributes.{code}",
            )
        definition = definitions.get(code)
        if definition is None:
            continue
        broken = broken_rule(definition, value)
        if broken is not None:
            raise InvalidProductError(
                f"attribute {code} of {owner} ({definition.type.value}) {broken}",
                field=f"attributes.{code}",
            )
