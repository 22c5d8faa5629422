"""Use cases: save an import mapping; put a chunk of a supplier file's rows in.

Each row goes in on its own (a savepoint): a row the catalog refuses is a problem in the
report and leaves nothing behind, while the rows around it go in. A row creates its
product when the SKU is new and otherwise changes only what its cells fill, so a file
run twice changes nothing the second time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from skuhub_catalog.domain.history import ANONYMOUS
from skuhub_catalog.domain.imports import (
    ImportCounts,
    ImportJob,
    ImportMapping,
    ImportNotFoundError,
    ImportRow,
    RowProblem,
    change_of,
    check_mapping,
    new_product_of,
)
from skuhub_catalog.domain.product import CatalogError
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.service_layer.products import Saved, create_product, update_product
from skuhub_catalog.service_layer.snapshots import NO_CHANNELS, Channels


async def save_mapping(
    uow: CatalogUnitOfWork, mapping: ImportMapping, *, now: datetime | None = None
) -> ImportMapping:
    """Create or replace the mapping with this code; the same mapping again keeps its
    version.

    Raises:
        InvalidMappingError: the mapping names a field the catalog does not have.
    """
    check_mapping(mapping)
    current = await uow.imports.get_mapping(mapping.code)
    if current is not None and _same(current, mapping):
        return current
    saved = dataclasses.replace(
        mapping,
        version=current.version + 1 if current is not None else 1,
        updated_at=now or datetime.now(UTC),
    )
    await uow.imports.save_mapping(saved)
    return saved


def _same(a: ImportMapping, b: ImportMapping) -> bool:
    return (a.columns, dict(a.units), dict(a.defaults)) == (
        b.columns,
        dict(b.units),
        dict(b.defaults),
    )


@dataclass(slots=True)
class ChunkResult:
    """What one chunk of rows did: the saved products and the problems, counted."""

    saved: list[Saved] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    counts: ImportCounts = field(default_factory=ImportCounts)


async def import_rows(
    uow: CatalogUnitOfWork,
    job_id: str,
    rows: Sequence[ImportRow],
    unreadable: Sequence[RowProblem] = (),
    *,
    unreadable_rows: int = 0,
    channels: Channels = NO_CHANNELS,
    actor: str = ANONYMOUS,
) -> ChunkResult:
    """Put ``rows`` in, each on its own, and record on job ``job_id`` what they did, with
    ``unreadable`` (the problems of ``unreadable_rows`` rows that could not be read).

    Raises:
        ImportNotFoundError: no job has this id.
    """
    job = await uow.imports.get_job(job_id, for_update=True)
    if job is None:
        raise ImportNotFoundError(f"no import {job_id}")
    result = ChunkResult(problems=list(unreadable))
    result.counts.rows = len(rows) + unreadable_rows
    result.counts.failed = unreadable_rows
    for row in rows:
        try:
            async with uow.savepoint():
                saved = await _put(uow, row, channels=channels, actor=actor)
        except CatalogError as exc:
            result.problems.append(
                RowProblem(row.row, row.column_of(exc.field), exc.field, exc.reason)
            )
            result.counts.failed += 1
            continue
        if saved is None:
            result.counts.unchanged += 1
            continue
        result.saved.append(saved)
        if saved.product.version == 1:
            result.counts.created += 1
        else:
            result.counts.updated += 1
    result.problems.sort(key=lambda problem: problem.row)  # the report reads like the file
    result.counts.problems = len(result.problems)
    await uow.imports.add_problems(job_id, job.counts.problems + 1, result.problems)
    await uow.imports.update_job(_advanced(job, result.counts))
    return result


async def _put(
    uow: CatalogUnitOfWork, row: ImportRow, *, channels: Channels, actor: str
) -> Saved | None:
    """The row's product saved (None: it already holds what the row says)."""
    if await uow.products.get(row.sku) is None:
        return await create_product(uow, new_product_of(row), channels=channels, actor=actor)
    saved = await update_product(uow, row.sku, change_of(row), channels=channels, actor=actor)
    return saved if saved.changed else None


def _advanced(job: ImportJob, counts: ImportCounts) -> ImportJob:
    total = dataclasses.replace(job.counts)
    total.add(counts)
    return dataclasses.replace(job, counts=total, updated_at=datetime.now(UTC))
