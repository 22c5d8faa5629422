"""HTTP entrypoint of supplier imports and channel exports (docs/catalog.md, "Bulk import
and export").

A mapping is saved once (``PUT /v1/import-mappings/{code}``); a file is then posted as an
import job (``POST /v1/imports?mapping=…``), streamed to disk and put in by a background
task a chunk at a time, while ``GET /v1/imports/{id}`` shows its progress and
``GET /v1/imports/{id}/problems`` the report of the rows that did not go in. An export
streams the published content of a channel's products in the same formats.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
)

from skuhub_catalog.adapters.supplier_files import RowWriter
from skuhub_catalog.domain.imports import (
    ColumnRule,
    FileFormat,
    ImportJob,
    ImportMapping,
    ImportNotFoundError,
    JobStatus,
    MappingNotFoundError,
)
from skuhub_catalog.domain.product import Product
from skuhub_catalog.entrypoints.http import CatalogRuntime, ChannelsDep
from skuhub_catalog.entrypoints.import_jobs import run_import
from skuhub_catalog.service_layer import imports
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.settings import CatalogSettings
from skuhub_contracts.identifiers import Locale, UnitCode
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.handling import Decision
from skuhub_runtime.http import ActorDep, error_responses
from skuhub_runtime.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["imports and exports"])

MappingCode = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"), Field(examples=["acme"])
]
Column = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CONTENT_TYPES: Final = {
    "text/csv": FileFormat.CSV,
    "application/x-ndjson": FileFormat.JSONL,
    "application/jsonl": FileFormat.JSONL,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": FileFormat.XLSX,
}
MEDIA_TYPES: Final = {
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.JSONL: "application/x-ndjson",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
STALE_AFTER: Final = timedelta(minutes=10)
"""A running job whose progress has not moved for this long stopped with its service."""
EXPORT_PAGE: Final = 1_000
LOCALE: Final[TypeAdapter[str]] = TypeAdapter(Locale)
TARGET_PATTERN: Final = (
    r"^(sku|gtin|family|product_model|status|unit|lot_tracked|shelf_life_days|categories"
    r"|(title|description)\.[a-z]{2,3}(_[A-Z]{2})?"
    r"|(attributes|packs)\.[A-Za-z0-9_][A-Za-z0-9_.-]{0,99})$"
)
"""The fields a column can fill (domain/imports.py checks the same, and the rest)."""
JobId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]

_MAPPING_EXAMPLE: Final[dict[str, Any]] = {
    "columns": [
        {"column": "Article no.", "to": "sku"},
        {"column": "EAN", "to": "gtin"},
        {"column": "Name EN", "to": "title.en_US"},
        {"column": "Name DE", "to": "title.de_DE"},
        {"column": "Weight", "to": "attributes.weight", "unit": "lb"},
        {"column": "Price EUR", "to": "attributes.price", "currency": "EUR"},
        {"column": "Shop categories", "to": "categories", "separator": "|"},
        {"column": "Claim DE", "to": "attributes.claim", "locale": "de_DE"},
    ],
    "units": {"lb": "LBR", "pcs": "EA"},
    "defaults": {"family": "mugs"},
}


class ColumnRuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: Column = Field(description="The supplier's column (a header cell, a JSON key).")
    to: Annotated[str, StringConstraints(pattern=TARGET_PATTERN)] = Field(
        description="The field it fills: sku, gtin, family, product_model, status, unit, "
        "lot_tracked, shelf_life_days, categories, title.<locale>, description.<locale>, "
        "attributes.<code> or packs.<unit>."
    )
    unit: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = Field(
        default=None,
        description="A measurement's unit: a word of the supplier's (looked up in units) or a "
        "UN/ECE code.",
    )
    unit_column: Column | None = Field(
        default=None, description="A column naming each row's unit, instead of unit."
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="A price column's ISO 4217 currency (a price collection)."
    )
    separator: Annotated[str, StringConstraints(min_length=1, max_length=3)] = Field(
        default="|", description="Splits a cell into a list (categories, multi-select)."
    )
    locale: Locale | None = Field(
        default=None, description="The locale of a localizable attribute's value."
    )
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] | None = (
        Field(default=None, description="The channel of a scopable attribute's value.")
    )

    @field_validator("to")
    @classmethod
    def _locale_known(cls, to: str) -> str:
        kind, _, key = to.partition(".")
        if kind in ("title", "description") and key:
            LOCALE.validate_python(key)
        return to


class MappingBody(BaseModel):
    """How a supplier's file maps to the catalog: per column the field it fills."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_MAPPING_EXAMPLE]})

    columns: list[ColumnRuleBody] = Field(min_length=1, max_length=500)
    units: dict[Annotated[str, StringConstraints(min_length=1, max_length=50)], UnitCode] = Field(
        default_factory=dict,
        description="The supplier's unit words and the UN/ECE codes they mean.",
    )
    defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="Values every row gets where its cell is empty, by field (e.g. family).",
    )

    def to_mapping(self, code: str) -> ImportMapping:
        return ImportMapping(
            code=code,
            columns=tuple(ColumnRule(**rule.model_dump()) for rule in self.columns),
            units=self.units,
            defaults=self.defaults,
        )


class MappingView(MappingBody):
    code: str
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, mapping: ImportMapping) -> MappingView:
        return cls(
            code=mapping.code,
            version=mapping.version,
            updated_at=mapping.updated_at or datetime.now(UTC),
            columns=[ColumnRuleBody(**dataclasses.asdict(rule)) for rule in mapping.columns],
            units=dict(mapping.units),
            defaults=dict(mapping.defaults),
        )


class ImportView(BaseModel):
    id: str
    mapping: str
    format: FileFormat
    file_name: str
    actor: str
    status: JobStatus = Field(
        description="running; done; failed (the file could not be read: see message); "
        "interrupted (the service stopped: what went in stays, run the file again)."
    )
    rows_total: int | None = Field(description="Data rows in the file, once counted.")
    rows: int = Field(description="Rows read so far.")
    created: int
    updated: int
    unchanged: int = Field(description="Rows whose product already held what they say.")
    failed: int = Field(description="Rows that did not go in (see problems).")
    problems: int
    message: str | None
    started_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: ImportJob) -> ImportView:
        status = job.status
        if status is JobStatus.RUNNING and datetime.now(UTC) - job.updated_at > STALE_AFTER:
            status = JobStatus.INTERRUPTED
        return cls(
            id=job.id,
            mapping=job.mapping,
            format=job.file_format,
            file_name=job.file_name,
            actor=job.actor,
            status=status,
            rows_total=job.rows_total,
            rows=job.counts.rows,
            created=job.counts.created,
            updated=job.counts.updated,
            unchanged=job.counts.unchanged,
            failed=job.counts.failed,
            problems=job.counts.problems,
            message=job.message,
            started_at=job.started_at,
            updated_at=job.updated_at,
        )


class ProblemView(BaseModel):
    seq: int
    row: int = Field(description="As the file counts rows: CSV and XLSX header = 1; JSONL line.")
    column: str | None = Field(description="The supplier's column at fault, when one is.")
    field: str | None = Field(description="The catalog field (gtin, attributes.weight …).")
    message: str = Field(description="What is wrong, and what to do about it.")


class ProblemPage(BaseModel):
    items: list[ProblemView]
    next_after: int | None = Field(description="Pass as `after` for more; null at the end.")


@router.put(
    "/import-mappings/{code}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=MappingView,
    summary="Save an import mapping",
    description="Creates or replaces the mapping; the same mapping again keeps its version. "
    "A 422 names the rule at fault: a field named twice, no column to sku, a unit or "
    "currency on a field that is not an attribute.",
)
async def put_mapping(code: MappingCode, body: MappingBody, runtime: CatalogRuntime) -> MappingView:
    mapping = body.to_mapping(code)

    async def save(uow: CatalogUnitOfWork) -> Decision[ImportMapping]:
        return Decision(await imports.save_mapping(uow, mapping))

    return MappingView.of(await runtime.execute(save))


@router.get(
    "/import-mappings/{code}",
    response_model=MappingView,
    responses=error_responses(404, e404="No mapping has this code."),
    summary="Read an import mapping",
)
async def get_mapping(code: MappingCode, runtime: CatalogRuntime) -> MappingView:
    return MappingView.of(await _saved_mapping(runtime, code))


@router.get(
    "/import-mappings", response_model=list[MappingView], summary="List the import mappings"
)
async def list_mappings(runtime: CatalogRuntime) -> list[MappingView]:
    return [MappingView.of(m) for m in await runtime.read(lambda uow: uow.imports.list_mappings())]


@router.post(
    "/imports",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    status_code=202,
    response_model=ImportView,
    summary="Import a supplier file",
    description="The request body is the file: CSV (comma, semicolon or tab separated, UTF-8, "
    "a header row), JSON Lines (one object per line) or XLSX (the first sheet, a header "
    "row). It is streamed to disk and put in by a background job; follow it at the "
    "Location. Good rows go in while rows the catalog refuses are listed with their "
    "problems; a row changes only what its cells fill, so the same file again changes "
    "nothing. Each product created or changed is published as product-changed.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "Article no.,EAN,Name EN\nMUG-1,4006381333931,Mug\n",
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
                MEDIA_TYPES[FileFormat.XLSX]: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    responses={
        202: {
            "headers": {
                "Location": {
                    "description": "The job: /v1/imports/{id}.",
                    "required": True,
                    "schema": {"type": "string"},
                }
            }
        },
        **error_responses(
            404, 413, 415, e404="No mapping has this code.", e413="The file is too large."
        ),
    },
)
async def post_import(
    actor: ActorDep,
    request: Request,
    runtime: CatalogRuntime,
    response: Response,
    channels: ChannelsDep,
    mapping: MappingCode = Query(description="The saved mapping to read the file with."),
    file_format: FileFormat | None = Query(
        default=None,
        alias="format",
        description="csv, jsonl or xlsx; by default from the Content-Type.",
    ),
    file_name: Annotated[str, StringConstraints(max_length=255)] = Query(
        default="upload", description="The file's name, for the job's record."
    ),
) -> ImportView:
    settings: CatalogSettings = request.app.state.catalog_settings
    chosen = file_format or _format_of(request.headers.get("content-type", ""))
    found = await _saved_mapping(runtime, mapping)
    path = await _receive(request, settings, chosen)
    now = datetime.now(UTC)
    job = ImportJob(
        id=uuid.uuid4().hex,
        mapping=mapping,
        file_format=chosen,
        file_name=file_name,
        actor=actor,
        status=JobStatus.RUNNING,
        started_at=now,
        updated_at=now,
    )

    async def add(uow: CatalogUnitOfWork) -> Decision[None]:
        await uow.imports.add_job(job)
        return Decision(None)

    await runtime.execute(add)
    task = asyncio.create_task(
        run_import(
            runtime,
            job,
            found,
            path,
            channels=channels,
            chunk_rows=settings.import_chunk_rows,
        )
    )
    jobs: set[asyncio.Task[None]] = request.app.state.import_tasks
    jobs.add(task)
    task.add_done_callback(jobs.discard)
    response.headers["Location"] = f"/v1/imports/{job.id}"
    return ImportView.of(job)


async def _saved_mapping(runtime: ServiceRuntime[CatalogUnitOfWork], code: str) -> ImportMapping:
    mapping = await runtime.read(lambda uow: uow.imports.get_mapping(code))
    if mapping is None:
        raise MappingNotFoundError(
            f"no import mapping {code}; save one with PUT /v1/import-mappings/{code} first"
        )
    return mapping


def _format_of(content_type: str) -> FileFormat:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in CONTENT_TYPES:
        return CONTENT_TYPES[media]
    raise HTTPException(
        415,
        f"cannot tell the file's format from Content-Type {media or '(none)'}: send text/csv, "
        "application/x-ndjson or the XLSX media type, or pass format=csv|jsonl|xlsx",
    )


async def _receive(request: Request, settings: CatalogSettings, file_format: FileFormat) -> Path:
    """The request body streamed into a new file (never held in memory whole); its suffix
    says its format, as openpyxl wants."""
    handle, name = tempfile.mkstemp(
        prefix="skuhub-import-", suffix=f".{file_format.value}", dir=settings.import_dir
    )
    path = Path(name)
    size = 0
    try:
        with os.fdopen(handle, "wb") as file:
            async for part in request.stream():
                size += len(part)
                if size > settings.import_max_bytes:
                    raise HTTPException(
                        413,
                        f"the file is larger than {settings.import_max_bytes} bytes "
                        "(SKUHUB_IMPORT_MAX_BYTES); split it",
                    )
                await asyncio.to_thread(file.write, part)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return path


@router.get(
    "/imports",
    response_model=list[ImportView],
    summary="List import jobs",
    description="The newest first.",
)
async def list_imports(
    runtime: CatalogRuntime, limit: int = Query(default=50, ge=1, le=500)
) -> list[ImportView]:
    return [ImportView.of(j) for j in await runtime.read(lambda uow: uow.imports.list_jobs(limit))]


@router.get(
    "/imports/{job_id}",
    response_model=ImportView,
    responses=error_responses(404, e404="No import has this id."),
    summary="An import job's progress and counts",
)
async def get_import(job_id: JobId, runtime: CatalogRuntime) -> ImportView:
    job = await runtime.read(lambda uow: uow.imports.get_job(job_id))
    if job is None:
        raise ImportNotFoundError(f"no import {job_id}")
    return ImportView.of(job)


@router.get(
    "/imports/{job_id}/problems",
    response_model=ProblemPage,
    responses=error_responses(404, e404="No import has this id."),
    summary="The report: each problem of a row that did not go in",
)
async def get_import_problems(
    job_id: JobId,
    runtime: CatalogRuntime,
    after: int = Query(
        default=0, ge=0, le=2**63 - 1, description="Only problems after this seq (a cursor)."
    ),
    limit: int = Query(default=500, ge=1, le=5_000),
) -> ProblemPage:
    async def page(uow: CatalogUnitOfWork) -> tuple[ImportJob | None, list[Any]]:
        return await uow.imports.get_job(job_id), await uow.imports.problems_of(
            job_id, after, limit
        )

    job, found = await runtime.read(page)
    if job is None:
        raise ImportNotFoundError(f"no import {job_id}")
    return ProblemPage(
        items=[
            ProblemView(seq=seq, row=p.row, column=p.column, field=p.field, message=p.message)
            for seq, p in found
        ],
        next_after=found[-1][0] if len(found) == limit else None,
    )


@router.get(
    "/exports/{channel}",
    summary="Export a channel's published products",
    description="Every product published and not deleted, by SKU, with the content as "
    "published: sku, gtin, title.<locale> and description.<locale> for the channel's "
    "locales, categories (separated by |) and attributes.<code> (lists and objects as "
    "JSON). Streamed; the file reads back with a mapping whose columns are its header.",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
                MEDIA_TYPES[FileFormat.XLSX]: {"schema": {"type": "string", "format": "binary"}},
            }
        },
        **error_responses(404, e404="No channel has this code."),
    },
    response_class=StreamingResponse,
)
async def get_export(
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    runtime: CatalogRuntime,
    channels: ChannelsDep,
    file_format: FileFormat = Query(default=FileFormat.CSV, alias="format"),
) -> StreamingResponse:
    if channel not in channels:
        raise HTTPException(
            404, f"no channel {channel}; the catalog knows {', '.join(sorted(channels))}"
        )
    locales = channels[channel]
    codes = await runtime.read(lambda uow: uow.products.published_attribute_codes())
    header = [
        "sku",
        "gtin",
        *(f"title.{loc}" for loc in locales),
        *(f"description.{loc}" for loc in locales),
        "categories",
        *(f"attributes.{code}" for code in codes),
    ]
    headers = {"Content-Disposition": f'attachment; filename="{channel}.{file_format.value}"'}
    rows = _export_rows(runtime, locales)
    media = MEDIA_TYPES[file_format]
    if file_format is FileFormat.XLSX:
        path = await _xlsx_file(header, rows)
        return StreamingResponse(_file_bytes(path), media_type=media, headers=headers)
    return StreamingResponse(
        _streamed(file_format, header, rows), media_type=media, headers=headers
    )


async def _export_rows(
    runtime: ServiceRuntime[CatalogUnitOfWork], locales: Sequence[str]
) -> AsyncIterator[list[dict[str, Any]]]:
    """The published products' export cells, a page at a time, by SKU."""
    after: str | None = None
    while True:
        page = await runtime.read(_page_after(after))
        yield [export_row(p, locales) for p in page if p.published is not None]
        if len(page) < EXPORT_PAGE:
            return
        after = page[-1].sku


def _page_after(after: str | None) -> Callable[[CatalogUnitOfWork], Awaitable[list[Product]]]:
    return lambda uow: uow.products.list_after(after, EXPORT_PAGE)


def export_row(product: Product, locales: Sequence[str]) -> dict[str, Any]:
    """One product's published content as export cells."""
    content = product.published
    if content is None:
        raise ValueError(f"product {product.sku} was never published")
    row: dict[str, Any] = {"sku": product.sku, "gtin": content.gtin}
    for loc in locales:
        row[f"title.{loc}"] = content.title.get(loc)
        row[f"description.{loc}"] = content.description.get(loc)
    row["categories"] = "|".join(content.categories) or None
    for code, value in content.attributes.items():
        row[f"attributes.{code}"] = value
    return row


async def _streamed(
    file_format: FileFormat, header: list[str], pages: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[bytes]:
    buffer = io.BytesIO()
    writer = RowWriter(buffer, file_format, header)
    async for page in pages:
        writer.write(page)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


async def _xlsx_file(header: list[str], pages: AsyncIterator[list[dict[str, Any]]]) -> Path:
    """The workbook in a temporary file (openpyxl writes a workbook whole, at the end)."""
    handle, name = tempfile.mkstemp(prefix="skuhub-export-", suffix=".xlsx")
    with os.fdopen(handle, "wb") as file:
        writer = RowWriter(file, FileFormat.XLSX, header)
        async for page in pages:
            writer.write(page)
        await asyncio.to_thread(writer.close)
    return Path(name)


def _file_bytes(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as file:
            while part := file.read(1 << 16):
                yield part
    finally:
        path.unlink(missing_ok=True)
