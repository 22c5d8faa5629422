"""What the catalog use cases need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from skuhub_catalog.domain.attributes import Attribute
from skuhub_catalog.domain.availability import PositionFact, StageFact
from skuhub_catalog.domain.category import Category
from skuhub_catalog.domain.completeness import Family
from skuhub_catalog.domain.history import HistoryEntry
from skuhub_catalog.domain.imports import ImportJob, ImportMapping, RowProblem
from skuhub_catalog.domain.product import Product
from skuhub_catalog.domain.product_model import ProductModel


class ProductRepository(Protocol):
    """Products by SKU, deleted ones included: a deleted product keeps its SKU and its GTIN.

    Products come back as copies, field for field as stored, with ``updated_at``
    in UTC. Ordering is by SKU as text, as the database collates it (byte order in
    the C collation of the embedded PostgreSQL). After :class:`GtinInUseError` the
    transaction is spoiled: roll it back. ``tests/integration/test_repository_contracts.py``
    holds every implementation to this contract.
    """

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        """The product with this SKU (deleted ones too), optionally locked for this transaction
        (another ``for_update`` read of it waits until this transaction ends)."""

    async def add(self, product: Product) -> bool:
        """Insert a new product; False if its SKU is taken (by a deleted product too, or by a
        concurrent transaction, which ``add`` waits for).

        Raises:
            GtinInUseError: (``field`` "gtin") another product carries the GTIN (in any
                form: GTINs are compared as GTIN-14), or a concurrent transaction just gave
                it to one; the SKU is checked first.
        """

    async def update(self, product: Product) -> None:
        """Overwrite the product with this SKU with ``product`` (every field, version as given);
        nothing is stored when no product has the SKU.

        Raises:
            GtinInUseError: (``field`` "gtin") another product carries the new GTIN.
        """

    async def sku_with_gtin(self, gtin: str) -> str | None:
        """The SKU of the product carrying this GTIN in any of its forms (compared as
        GTIN-14: ``04006381333931`` finds ``4006381333931``), deleted ones too, if any."""

    async def list_after(
        self,
        after: str | None,
        limit: int,
        *,
        include_deleted: bool = False,
        updated_since: datetime | None = None,
    ) -> list[Product]:
        """Up to ``limit`` products ordered by SKU, starting after ``after`` (a cursor: any
        text, not necessarily a stored SKU); deleted ones only with ``include_deleted``;
        only those changed at or after ``updated_since``."""

    async def in_family(self, family: str, *, for_update: bool = False) -> list[Product]:
        """The products (not deleted) whose own ``family`` is ``family``, by SKU, optionally
        locked for this transaction."""

    async def skus_in_category(self, code: str, limit: int) -> list[str]:
        """Up to ``limit`` SKUs (not deleted) in category ``code``, by SKU."""

    async def published_attribute_codes(self) -> list[str]:
        """The attribute codes in any product's published content, sorted."""

    async def variants_of(self, model: str, *, for_update: bool = False) -> list[Product]:
        """The products (not deleted) whose ``product_model`` is ``model``, by SKU,
        optionally locked for this transaction."""


class ProductModelRepository(Protocol):
    """Product models by code, deleted ones included (a deleted model keeps its code)."""

    async def get(self, code: str, *, for_update: bool = False) -> ProductModel | None:
        """The model with this code, optionally locked for this transaction."""

    async def add(self, model: ProductModel) -> bool:
        """Insert a new model; False if its code is taken (by a deleted model too)."""

    async def update(self, model: ProductModel) -> None:
        """Overwrite the model with this code (every field, version as given)."""

    async def children(self, code: str) -> list[ProductModel]:
        """The sub-models (not deleted) whose parent is ``code``, by code."""

    async def in_family(self, family: str) -> list[ProductModel]:
        """The models (not deleted) whose ``family`` is ``family``, by code."""

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[ProductModel]:
        """Up to ``limit`` models ordered by code, after ``after``."""


class CategoryRepository(Protocol):
    """Categories by code, deleted ones included (a deleted category keeps its code)."""

    async def get(self, code: str, *, for_update: bool = False) -> Category | None:
        """The category with this code, optionally locked for this transaction."""

    async def add(self, category: Category) -> bool:
        """Insert a new category; False if its code is taken (by a deleted one too)."""

    async def update(self, category: Category) -> None:
        """Overwrite the category with this code (every field, version as given)."""

    async def children(self, code: str) -> list[Category]:
        """The categories (not deleted) whose parent is ``code``, by code."""

    async def list_after(
        self, after: str | None, limit: int, *, include_deleted: bool = False
    ) -> list[Category]:
        """Up to ``limit`` categories ordered by code, after ``after``."""


class AttributeRepository(Protocol):
    """Attribute definitions by code."""

    async def get(self, code: str, *, for_update: bool = False) -> Attribute | None:
        """The attribute with this code, optionally locked for this transaction."""

    async def get_many(self, codes: Sequence[str]) -> dict[str, Attribute]:
        """The defined attributes among ``codes`` (undefined ones are left out)."""

    async def add(self, attribute: Attribute) -> bool:
        """Insert a new attribute; False if its code is taken."""

    async def update(self, attribute: Attribute) -> None:
        """Overwrite the attribute with this code (every field, version as given)."""

    async def list_after(self, after: str | None, limit: int) -> list[Attribute]:
        """Up to ``limit`` attributes ordered by code, after ``after``."""


class FamilyRepository(Protocol):
    """Families by code."""

    async def get(self, code: str, *, for_update: bool = False) -> Family | None:
        """The family with this code, optionally locked for this transaction."""

    async def add(self, family: Family) -> bool:
        """Insert a new family; False if its code is taken."""

    async def update(self, family: Family) -> None:
        """Overwrite the family with this code (every field, version as given)."""

    async def list_after(self, after: str | None, limit: int) -> list[Family]:
        """Up to ``limit`` families ordered by code, after ``after``."""


class HistoryRepository(Protocol):
    """Each product's history entries, one per version, kept for good."""

    async def record(self, entry: HistoryEntry) -> None:
        """Store the entry of a new version (one per SKU and version)."""

    async def of(self, sku: str, *, before: int | None, limit: int) -> list[HistoryEntry]:
        """Up to ``limit`` entries of ``sku``, newest first, of versions below ``before``
        (all when None)."""


class ProjectionRepository(Protocol):
    """Stock positions and lifecycle stages as last reported, each at its newest version."""

    async def keep_positions(self, facts: Sequence[PositionFact]) -> None:
        """Store each position unless a newer or equal ``position_version`` is stored (one
        fact per position in a call)."""

    async def keep_stages(self, facts: Sequence[StageFact]) -> None:
        """Store each stage unless a newer or equal ``stage_version`` is stored (one fact per
        SKU in a call)."""

    async def shown_of(
        self, skus: Sequence[str]
    ) -> tuple[dict[str, list[PositionFact]], dict[str, StageFact]]:
        """The positions of each SKU (by location, then lot) and its stage, in one read;
        SKUs with neither are left out."""


class ImportRepository(Protocol):
    """Saved import mappings, import jobs and the problems of their rows."""

    async def get_mapping(self, code: str) -> ImportMapping | None:
        """The mapping with this code."""

    async def save_mapping(self, mapping: ImportMapping) -> None:
        """Insert or replace the mapping with this code (version as given)."""

    async def list_mappings(self) -> list[ImportMapping]:
        """Every mapping, ordered by code."""

    async def add_job(self, job: ImportJob) -> None:
        """Insert a new job."""

    async def get_job(self, job_id: str, *, for_update: bool = False) -> ImportJob | None:
        """The job with this id, optionally locked for this transaction."""

    async def update_job(self, job: ImportJob) -> None:
        """Overwrite the job with this id."""

    async def list_jobs(self, limit: int) -> list[ImportJob]:
        """The newest jobs first."""

    async def add_problems(
        self, job_id: str, first_seq: int, problems: Sequence[RowProblem]
    ) -> None:
        """Keep the problems of a job's rows, numbered from ``first_seq``."""

    async def problems_of(
        self, job_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, RowProblem]]:
        """Up to ``limit`` problems with their numbers, after ``after_seq``, in order."""


class CatalogUnitOfWork(Protocol):
    """The catalog's repositories, bound to one transaction."""

    @property
    def products(self) -> ProductRepository: ...

    @property
    def models(self) -> ProductModelRepository: ...

    @property
    def history(self) -> HistoryRepository: ...

    @property
    def categories(self) -> CategoryRepository: ...

    @property
    def families(self) -> FamilyRepository: ...

    @property
    def attributes(self) -> AttributeRepository: ...

    @property
    def projection(self) -> ProjectionRepository: ...

    @property
    def imports(self) -> ImportRepository: ...

    def savepoint(self) -> AbstractAsyncContextManager[object]:
        """A nested transaction: an error inside undoes what it wrote, and only that."""
        ...
