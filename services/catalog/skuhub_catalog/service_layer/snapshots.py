"""What a product's product-changed snapshot needs beyond the product itself: the models it
inherits from and its completeness, for one save or for the many a model or family change
gives a new version."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from skuhub_catalog.domain.attributes import Attribute
from skuhub_catalog.domain.completeness import Family, completeness
from skuhub_catalog.domain.product import Completeness, Product
from skuhub_catalog.domain.product_model import Lineage, resolve
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork

Channels = Mapping[str, Sequence[str]]
"""Each channel the catalog knows and its locales (settings)."""

NO_CHANNELS: Channels = {}
"""No channel: no completeness to measure (the callers that publish pass the settings')."""


@dataclass(frozen=True, slots=True)
class Republished:
    """A product another change gave a new version (with its completeness), and the
    models its snapshot is resolved through."""

    product: Product
    lineage: Lineage | None


@dataclass(slots=True)
class Families:
    """The families of one use case, each read once however many products name it."""

    uow: CatalogUnitOfWork
    _read: dict[str, Family | None] = field(default_factory=dict)
    _definitions: dict[str, dict[str, Attribute]] = field(default_factory=dict)

    async def get(self, code: str | None) -> Family | None:
        if code is None:
            return None
        if code not in self._read:
            self._read[code] = await self.uow.families.get(code)
        return self._read[code]

    async def definitions(self, family: Family | None) -> dict[str, Attribute]:
        """The definitions of the attributes the family requires (its completeness reads
        them to find localizable and scopable values)."""
        if family is None:
            return {}
        if family.code not in self._definitions:
            required = {name for names in family.requirements.values() for name in names}
            required |= {n for c in family.conditions for n in c.require}
            self._definitions[family.code] = await self.uow.attributes.get_many(sorted(required))
        return self._definitions[family.code]


async def completeness_of(
    uow: CatalogUnitOfWork,
    product: Product,
    lineage: Lineage | None,
    channels: Channels,
    families: Families | None = None,
) -> tuple[Completeness, ...]:
    """The product's completeness per channel x locale against its (resolved) family."""
    resolved = resolve(product, lineage)
    families = families or Families(uow)
    family = await families.get(resolved.family)
    return completeness(resolved, family, channels, await families.definitions(family))


async def measured(
    uow: CatalogUnitOfWork,
    product: Product,
    lineage: Lineage | None,
    channels: Channels,
    families: Families | None = None,
) -> Product:
    """``product`` with its completeness (kept with it, so a read need not measure it)."""
    complete = await completeness_of(uow, product, lineage, channels, families)
    return dataclasses.replace(product, completeness=complete)
