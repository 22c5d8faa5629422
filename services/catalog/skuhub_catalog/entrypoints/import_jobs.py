"""Running an import job: a supplier file on disk, read a chunk of rows at a time, each
chunk put in by one transaction that also records the job's progress and problems.

The job counts the file's rows first (so its progress has a total), then reads it once
more, streamed. A file that cannot be read at all (no header, a mapped column missing,
not a workbook) fails the job with the reason; a row that cannot be read is a problem of
the report, and the rows around it go in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.batched_unit_of_work import BatchedUnitOfWork, batched_unit_of_work
from skuhub_catalog.adapters.product_repository import SqlUnitOfWork
from skuhub_catalog.adapters.supplier_files import (
    BadLine,
    Cells,
    UnreadableFileError,
    count_rows,
    header_of,
    rows_of,
)
from skuhub_catalog.domain.attributes import Attribute
from skuhub_catalog.domain.imports import (
    ImportCounts,
    ImportJob,
    ImportMapping,
    ImportRow,
    JobStatus,
    RowProblem,
)
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.entrypoints.supplier_rows import RowReader, missing_columns, row_reader
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.service_layer.snapshots import Channels
from skuhub_runtime.handling import Decision
from skuhub_runtime.origin import Origin
from skuhub_runtime.service import ServiceRuntime

log = logging.getLogger(__name__)
SOURCE = "/skuhub/catalog/imports"


async def run_import(
    runtime: ServiceRuntime[CatalogUnitOfWork],
    job: ImportJob,
    mapping: ImportMapping,
    path: Path,
    *,
    channels: Channels,
    chunk_rows: int,
) -> None:
    """Run ``job`` over the file at ``path`` (removed at the end, whatever happens)."""
    try:
        await _run(runtime, job, mapping, path, channels=channels, chunk_rows=chunk_rows)
    except UnreadableFileError as exc:
        await _finish(runtime, job.id, JobStatus.FAILED, f"the file cannot be read: {exc}")
    except Exception:
        log.exception("import %s stopped", job.id)
        await _finish(
            runtime,
            job.id,
            JobStatus.INTERRUPTED,
            "the import stopped on an internal error (see the service log); what went in "
            "stays: run the file again to finish",
        )
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def _run(
    runtime: ServiceRuntime[CatalogUnitOfWork],
    job: ImportJob,
    mapping: ImportMapping,
    path: Path,
    *,
    channels: Channels,
    chunk_rows: int,
) -> None:
    header = await asyncio.to_thread(header_of, path, job.file_format)
    if header is not None:
        missing = missing_columns(mapping, header)
        if missing:
            raise UnreadableFileError(
                f"the header has no column {', '.join(repr(c) for c in missing)}, which "
                f"mapping {mapping.code} maps; the header has {', '.join(repr(h) for h in header)}"
            )
    total = await asyncio.to_thread(count_rows, path, job.file_format)
    await _update(runtime, job.id, rows_total=total)
    codes = sorted({r.key for r in mapping.columns if r.kind == "attributes" and r.key})
    definitions: dict[str, Attribute] = await runtime.read(
        lambda uow: uow.attributes.get_many(codes)
    )
    origin = Origin(None, None, source=SOURCE)
    rows = rows_of(path, job.file_format)
    await _put_chunks(
        runtime, job, origin, channels, rows, chunk_rows, row_reader(mapping, definitions)
    )
    await _finish(runtime, job.id, JobStatus.DONE, None)


async def _put_chunks(
    runtime: ServiceRuntime[CatalogUnitOfWork],
    job: ImportJob,
    origin: Origin,
    channels: Channels,
    rows: Iterator[tuple[int, Cells | BadLine]],
    chunk_rows: int,
    read: RowReader,
) -> None:
    """Put in each chunk of ``rows``, one transaction each.

    Reading and checking cells is CPU work: off the event loop, the service keeps
    answering while a file goes in. The next chunk is read while this one is put in (its
    transaction mostly waits for PostgreSQL); one chunk is read at a time.
    """

    def next_chunk() -> asyncio.Future[_Chunk]:
        return asyncio.ensure_future(asyncio.to_thread(_read_chunk, rows, chunk_rows, read))

    reading = next_chunk()
    try:
        while (chunk := await reading).size:
            reading = next_chunk()
            await _put_one(runtime, job, origin, channels, chunk)
    finally:
        if not reading.done():  # a put failed: the thread finishes before the file goes
            await asyncio.gather(reading, return_exceptions=True)


async def _put_one(
    runtime: ServiceRuntime[CatalogUnitOfWork],
    job: ImportJob,
    origin: Origin,
    channels: Channels,
    chunk: _Chunk,
) -> None:
    """One chunk in one transaction (whose repositories read and write it in bulk)."""

    async def put(uow: CatalogUnitOfWork, batched: bool = True) -> Decision[ImportCounts]:
        if batched and isinstance(uow, SqlUnitOfWork):
            rows = await _batched(uow.connection, chunk)
            decision = await _put_chunk(rows, job, chunk, origin, channels)
            await rows.flush()
            return decision
        return await _put_chunk(uow, job, chunk, origin, channels)

    try:
        await runtime.execute(put)
    except sa_exc.IntegrityError:
        # Another writer took a SKU or GTIN of this chunk meanwhile: a row at a time,
        # each on its own savepoint, the row that collides is refused alone.
        await runtime.execute(functools.partial(put, batched=False))


async def _batched(conn: AsyncConnection, chunk: _Chunk) -> BatchedUnitOfWork:
    skus = [row.sku for row in chunk.good]
    gtins = [row.fields["gtin"] for row in chunk.good if "gtin" in row.fields]
    models = sorted(
        {row.fields["product_model"] for row in chunk.good if row.fields.get("product_model")}
    )
    return await batched_unit_of_work(conn, skus, gtins, models)


async def _put_chunk(
    uow: CatalogUnitOfWork,
    job: ImportJob,
    chunk: _Chunk,
    origin: Origin,
    channels: Channels,
) -> Decision[ImportCounts]:
    return await handlers.import_chunk(
        uow,
        job.id,
        chunk.good,
        chunk.problems,
        origin,
        unreadable_rows=chunk.unreadable,
        actor=job.actor,
        channels=channels,
    )


@dataclass(slots=True)
class _Chunk:
    size: int = 0
    good: list[ImportRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    unreadable: int = 0


def _read_chunk(rows: Iterator[tuple[int, Cells | BadLine]], size: int, read: RowReader) -> _Chunk:
    """The next ``size`` rows, read: the good ones, and the problems of the others."""
    chunk = _Chunk()
    for number, cells in itertools.islice(rows, size):
        chunk.size += 1
        if isinstance(cells, BadLine):
            chunk.problems.append(RowProblem(number, None, None, str(cells)))
            chunk.unreadable += 1
            continue
        row, found = read(number, cells)
        if row is None:
            chunk.problems += found
            chunk.unreadable += 1
        else:
            chunk.good.append(row)
    return chunk


async def _update(
    runtime: ServiceRuntime[CatalogUnitOfWork], job_id: str, *, rows_total: int
) -> None:
    async def count(uow: CatalogUnitOfWork) -> Decision[None]:
        job = await uow.imports.get_job(job_id, for_update=True)
        if job is not None:
            await uow.imports.update_job(
                dataclasses.replace(job, rows_total=rows_total, updated_at=datetime.now(UTC))
            )
        return Decision(None)

    await runtime.execute(count)


async def _finish(
    runtime: ServiceRuntime[CatalogUnitOfWork],
    job_id: str,
    status: JobStatus,
    message: str | None,
) -> None:
    async def finish(uow: CatalogUnitOfWork) -> Decision[None]:
        job = await uow.imports.get_job(job_id, for_update=True)
        if job is not None:
            await uow.imports.update_job(
                dataclasses.replace(
                    job, status=status, message=message, updated_at=datetime.now(UTC)
                )
            )
        return Decision(None)

    await runtime.execute(finish)
