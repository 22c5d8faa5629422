"""The catalog's product repository in a dict, and its unit of work."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from skuhub_catalog.domain.attributes import Attribute
from skuhub_catalog.domain.availability import PositionFact, StageFact
from skuhub_catalog.domain.category import Category
from skuhub_catalog.domain.completeness import Family
from skuhub_catalog.domain.history import HistoryEntry
from skuhub_catalog.domain.imports import ImportJob, ImportMapping, RowProblem
from skuhub_catalog.domain.product import GtinInUseError, Product
from skuhub_catalog.domain.product_model import ProductModel


class FakeProductRepository:
    """Products by SKU in memory; the contract suite holds it to ``SqlProductRepository``."""

    def __init__(self, *products: Product) -> None:
        self._products = {p.sku: _copy(p) for p in products}

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        found = self._products.get(sku)
        return _copy(found) if found is not None else None

    async def add(self, product: Product) -> bool:
        if product.sku in self._products:
            return False
        self._check_gtin_free(product)
        self._products[product.sku] = _copy(product)
        return True

    async def update(self, product: Product) -> None:
        if product.sku not in self._products:
            return
        self._check_gtin_free(product)
        self._products[product.sku] = _copy(product)

    async def sku_with_gtin(self, gtin: str) -> str | None:
        return next((p.sku for p in self._products.values() if _same_gtin(p.gtin, gtin)), None)

    async def list_after(
        self,
        after: str | None,
        limit: int,
        *,
        include_deleted: bool = False,
        updated_since: datetime | None = None,
    ) -> list[Product]:
        listed = sorted(
            (
                p
                for p in self._products.values()
                if (after is None or p.sku > after)
                and (include_deleted or not p.deleted)
                and (updated_since is None or p.updated_at >= updated_since)
            ),
            key=lambda p: p.sku,
        )
        return [_copy(p) for p in listed[:limit]]

    async def in_family(self, family: str, *, for_update: bool = False) -> list[Product]:
        found = (p for p in self._products.values() if p.family == family and not p.deleted)
        return [_copy(p) for p in sorted(found, key=lambda p: p.sku)]

    async def skus_in_category(self, code: str, limit: int) -> list[str]:
        inside = (p.sku for p in self._products.values() if code in p.categories and not p.deleted)
        return sorted(inside)[:limit]

    async def published_attribute_codes(self) -> list[str]:
        return sorted(
            {
                code
                for p in self._products.values()
                if p.published is not None and not p.deleted
                for code in p.published.attributes
            }
        )

    async def variants_of(self, model: str, *, for_update: bool = False) -> list[Product]:
        found = (p for p in self._products.values() if p.product_model == model)
        return [_copy(p) for p in sorted(found, key=lambda p: p.sku) if not p.deleted]

    def _check_gtin_free(self, product: Product) -> None:
        """What the unique GTIN index does: one product (deleted ones too) per GTIN."""
        if product.gtin is None:
            return
        owner = next(
            (p.sku for p in self._products.values() if _same_gtin(p.gtin, product.gtin)),
            product.sku,
        )
        if owner != product.sku:
            raise GtinInUseError(f"GTIN {product.gtin} identifies product {owner}", field="gtin")


class FakeProductModelRepository:
    """Product models by code in memory; held to ``SqlProductModelRepository``."""

    def __init__(self, *models: ProductModel) -> None:
        self._models = {m.code: m for m in models}

    async def get(self, code: str, *, for_update: bool = False) -> ProductModel | None:
        found = self._models.get(code)
        return _copy(found) if found is not None else None

    async def add(self, model: ProductModel) -> bool:
        if model.code in self._models:
            return False
        self._models[model.code] = _copy(model)
        return True

    async def update(self, model: ProductModel) -> None:
        if model.code in self._models:
            self._models[model.code] = _copy(model)

    async def children(self, code: str) -> list[ProductModel]:
        found = (m for m in self._models.values() if m.parent == code and not m.deleted)
        return [_copy(m) for m in sorted(found, key=lambda m: m.code)]

    async def in_family(self, family: str) -> list[ProductModel]:
        found = (m for m in self._models.values() if m.family == family and not m.deleted)
        return [_copy(m) for m in sorted(found, key=lambda m: m.code)]

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[ProductModel]:
        listed = sorted(
            (
                m
                for m in self._models.values()
                if (after is None or m.code > after) and (include_deleted or not m.deleted)
            ),
            key=lambda m: m.code,
        )
        return [_copy(m) for m in listed[:limit]]


class FakeCategoryRepository:
    """Categories by code in memory; held to ``SqlCategoryRepository``."""

    def __init__(self) -> None:
        self._categories: dict[str, Category] = {}

    async def get(self, code: str, *, for_update: bool = False) -> Category | None:
        found = self._categories.get(code)
        return _copy(found) if found is not None else None

    async def add(self, category: Category) -> bool:
        if category.code in self._categories:
            return False
        self._categories[category.code] = _copy(category)
        return True

    async def update(self, category: Category) -> None:
        if category.code in self._categories:
            self._categories[category.code] = _copy(category)

    async def children(self, code: str) -> list[Category]:
        found = (c for c in self._categories.values() if c.parent == code and not c.deleted)
        return [_copy(c) for c in sorted(found, key=lambda c: c.code)]

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[Category]:
        listed = sorted(
            (
                c
                for c in self._categories.values()
                if (after is None or c.code > after) and (include_deleted or not c.deleted)
            ),
            key=lambda c: c.code,
        )
        return [_copy(c) for c in listed[:limit]]


class FakeAttributeRepository:
    """Attribute definitions by code in memory; held to ``SqlAttributeRepository``."""

    def __init__(self) -> None:
        self._attributes: dict[str, Attribute] = {}

    async def get(self, code: str, *, for_update: bool = False) -> Attribute | None:
        found = self._attributes.get(code)
        return _copy(found) if found is not None else None

    async def get_many(self, codes: Sequence[str]) -> dict[str, Attribute]:
        return {c: _copy(self._attributes[c]) for c in codes if c in self._attributes}

    async def add(self, attribute: Attribute) -> bool:
        if attribute.code in self._attributes:
            return False
        self._attributes[attribute.code] = _copy(attribute)
        return True

    async def update(self, attribute: Attribute) -> None:
        if attribute.code in self._attributes:
            self._attributes[attribute.code] = _copy(attribute)

    async def list_after(self, after: str | None, limit: int) -> list[Attribute]:
        listed = sorted(
            (a for a in self._attributes.values() if after is None or a.code > after),
            key=lambda a: a.code,
        )
        return [_copy(a) for a in listed[:limit]]


class FakeFamilyRepository:
    """Families by code in memory; held to ``SqlFamilyRepository``."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    async def get(self, code: str, *, for_update: bool = False) -> Family | None:
        found = self._families.get(code)
        return _copy(found) if found is not None else None

    async def add(self, family: Family) -> bool:
        if family.code in self._families:
            return False
        self._families[family.code] = _copy(family)
        return True

    async def update(self, family: Family) -> None:
        if family.code in self._families:
            self._families[family.code] = _copy(family)

    async def list_after(self, after: str | None, limit: int) -> list[Family]:
        listed = sorted(
            (f for f in self._families.values() if after is None or f.code > after),
            key=lambda f: f.code,
        )
        return [_copy(f) for f in listed[:limit]]


class FakeHistoryRepository:
    """History entries in a dict by (SKU, version); held to ``SqlHistoryRepository``."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], HistoryEntry] = {}

    async def record(self, entry: HistoryEntry) -> None:
        key = (entry.sku, entry.version)
        if key in self._entries:  # what the primary key does
            raise ValueError(f"history of {entry.sku} has version {entry.version} already")
        self._entries[key] = entry

    async def of(self, sku: str, *, before: int | None, limit: int) -> list[HistoryEntry]:
        found = [
            e
            for (entry_sku, version), e in self._entries.items()
            if entry_sku == sku and (before is None or version < before)
        ]
        found.sort(key=lambda e: e.version, reverse=True)
        return [
            dataclasses.replace(e, changed_at=e.changed_at.astimezone(UTC)) for e in found[:limit]
        ]


class FakeProjectionRepository:
    """Positions and stages in dicts; held to ``SqlProjectionRepository``."""

    def __init__(self) -> None:
        self._positions: dict[tuple[str, str, str], PositionFact] = {}
        self._stages: dict[str, StageFact] = {}

    async def keep_positions(self, facts: Sequence[PositionFact]) -> None:
        for fact in facts:
            key = (fact.sku, fact.location, fact.lot)
            stored = self._positions.get(key)
            if stored is None or stored.position_version < fact.position_version:
                self._positions[key] = fact

    async def keep_stages(self, facts: Sequence[StageFact]) -> None:
        for fact in facts:
            stored = self._stages.get(fact.sku)
            if stored is None or stored.stage_version < fact.stage_version:
                self._stages[fact.sku] = fact

    async def shown_of(
        self, skus: Sequence[str]
    ) -> tuple[dict[str, list[PositionFact]], dict[str, StageFact]]:
        positions: dict[str, list[PositionFact]] = {}
        for key in sorted(k for k in self._positions if k[0] in skus):
            positions.setdefault(key[0], []).append(_in_utc(self._positions[key]))
        stages = {sku: _in_utc(stage) for sku, stage in self._stages.items() if sku in skus}
        return positions, stages


class FakeImportRepository:
    """Import mappings, jobs and their problems in memory."""

    def __init__(self) -> None:
        self._mappings: dict[str, ImportMapping] = {}
        self._jobs: dict[str, ImportJob] = {}
        self._problems: dict[str, dict[int, RowProblem]] = {}

    async def get_mapping(self, code: str) -> ImportMapping | None:
        return self._mappings.get(code)

    async def save_mapping(self, mapping: ImportMapping) -> None:
        self._mappings[mapping.code] = mapping

    async def list_mappings(self) -> list[ImportMapping]:
        return [self._mappings[code] for code in sorted(self._mappings)]

    async def add_job(self, job: ImportJob) -> None:
        self._jobs[job.id] = copy.deepcopy(job)

    async def get_job(self, job_id: str, *, for_update: bool = False) -> ImportJob | None:
        return copy.deepcopy(self._jobs.get(job_id))

    async def update_job(self, job: ImportJob) -> None:
        self._jobs[job.id] = copy.deepcopy(job)

    async def list_jobs(self, limit: int) -> list[ImportJob]:
        newest = sorted(self._jobs.values(), key=lambda j: j.started_at, reverse=True)
        return copy.deepcopy(newest[:limit])

    async def add_problems(
        self, job_id: str, first_seq: int, problems: Sequence[RowProblem]
    ) -> None:
        kept = self._problems.setdefault(job_id, {})
        for seq, problem in enumerate(problems, start=first_seq):
            kept[seq] = problem

    async def problems_of(
        self, job_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, RowProblem]]:
        kept = self._problems.get(job_id, {})
        return [(seq, kept[seq]) for seq in sorted(kept) if seq > after_seq][:limit]


@dataclass(frozen=True, slots=True)
class FakeCatalogUnitOfWork:
    """The catalog's repositories, in memory."""

    products: FakeProductRepository = field(default_factory=FakeProductRepository)
    models: FakeProductModelRepository = field(default_factory=FakeProductModelRepository)
    history: FakeHistoryRepository = field(default_factory=FakeHistoryRepository)
    categories: FakeCategoryRepository = field(default_factory=FakeCategoryRepository)
    families: FakeFamilyRepository = field(default_factory=FakeFamilyRepository)
    attributes: FakeAttributeRepository = field(default_factory=FakeAttributeRepository)
    projection: FakeProjectionRepository = field(default_factory=FakeProjectionRepository)
    imports: FakeImportRepository = field(default_factory=FakeImportRepository)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[object]:
        """The use cases check before they write, so a refused row wrote nothing to undo."""
        yield self


Fact = TypeVar("Fact", PositionFact, StageFact)


def _in_utc(fact: Fact) -> Fact:
    return dataclasses.replace(fact, changed_at=fact.changed_at.astimezone(UTC))


def _same_gtin(carried: str | None, gtin: str) -> bool:
    """GS1's comparison: as 14 digits, leading zeros added."""
    return carried is not None and carried.zfill(14) == gtin.zfill(14)


Stored = TypeVar("Stored", Product, ProductModel, Category, Family, Attribute)


def _copy(stored: Stored) -> Stored:
    """A copy sharing nothing mutable, with the time in UTC (as PostgreSQL returns it)."""
    return dataclasses.replace(copy.deepcopy(stored), updated_at=stored.updated_at.astimezone(UTC))
