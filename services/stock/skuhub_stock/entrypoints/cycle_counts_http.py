"""Cycle counts uploaded as a CSV file, answered with a report per row.

Each valid row becomes a cycle_count on the stock-moved topic, as if upstream had sent it;
its source system names the file's content (``csv-`` + 16 hex digits of its SHA-256) and
its sequence the row's line, so uploading the same file again counts nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError

from skuhub_contracts.events import MovementKind, StockMoved
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import OriginDep, error_responses
from skuhub_stock.entrypoints.http import (
    StockRuntime,
    publish_movements,
    refused_movements,
)

router = APIRouter(prefix="/v1", tags=["stock"])

MAX_BYTES = 10 * 1024 * 1024
REQUIRED = ("sku", "location", "quantity", "counted_at")
OPTIONAL = ("lot", "unit", "reference")
FIELD_COLUMNS = {"occurred_at": "counted_at", "reason": "reference"}
EXAMPLE = (
    "sku,location,lot,quantity,unit,counted_at,reference\n"
    "TSHIRT-RED-M,4012345000009,,12,EA,2026-12-02T07:30:00Z,count 2026-12 aisle 4\n"
)


class RowProblem(BaseModel):
    column: str
    message: str


class RowReport(BaseModel):
    line: int = Field(description="Line of the file (the header is line 1).")
    status: str = Field(description="`accepted` (published) or `refused`.")
    event_id: str | None = None
    problems: list[RowProblem] = Field(default_factory=list)


class CountUpload(BaseModel):
    source_system: str = Field(description="Names this file's content in the journal.")
    accepted: int
    refused: int
    rows: list[RowReport]


@router.post(
    "/cycle-counts",
    dependencies=[requires(Scope.INGEST)],
    status_code=202,
    response_model=CountUpload,
    summary="Upload cycle counts (CSV)",
    description="A UTF-8 CSV file with a header row: sku, location, quantity, counted_at (ISO "
    "8601 with offset) and optionally lot, unit (default EA), reference. Every row is checked "
    "like a movement (the contract, then the ledger's rules); valid rows are published as "
    "cycle counts, each count applying as of its counted_at (docs/stock.md, Time). The "
    "report says, per row, accepted (with its event id) or refused (with each problem's "
    "column). Uploading the same file again counts nothing twice.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": EXAMPLE}},
        }
    },
    responses=error_responses(400, 413, 503, e400="Not a UTF-8 CSV file with the required header."),
)
async def post_cycle_counts(
    request: Request, runtime: StockRuntime, origin: OriginDep
) -> CountUpload:
    raw = await request.body()
    if len(raw) > MAX_BYTES:
        raise HTTPException(413, f"the file has {len(raw)} bytes; send at most {MAX_BYTES}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"the file is not UTF-8 (byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise HTTPException(
            400,
            f"the header lacks {', '.join(missing)}; columns are {', '.join(REQUIRED + OPTIONAL)}",
        )
    source = f"csv-{hashlib.sha256(raw).hexdigest()[:16]}"
    reports: list[RowReport] = []
    valid: list[tuple[RowReport, StockMoved]] = []
    for row in reader:
        report = RowReport(line=reader.line_num, status="refused")
        reports.append(report)
        try:
            valid.append((report, _count(row, source, reader.line_num)))
        except ValidationError as invalid:
            report.problems = [_problem(e) for e in invalid.errors()]
    refused = await refused_movements(runtime, [m for _, m in valid])
    for index, rejection in refused.items():
        column = FIELD_COLUMNS.get(rejection.field, rejection.field)
        valid[index][0].problems = [RowProblem(column=column, message=rejection.reason)]
    publish = [(r, m) for i, (r, m) in enumerate(valid) if i not in refused]
    if publish:
        accepted = await publish_movements(runtime, origin, [m for _, m in publish])
        for (report, _), event_id in zip(publish, accepted.event_ids, strict=True):
            report.status, report.event_id = "accepted", event_id
    return CountUpload(
        source_system=source,
        accepted=len(publish),
        refused=len(reports) - len(publish),
        rows=reports,
    )


def _count(row: dict[str, Any], source: str, line: int) -> StockMoved:
    def cell(name: str) -> str | None:
        value = (row.get(name) or "").strip()
        return value or None

    return StockMoved(
        kind=MovementKind.CYCLE_COUNT,
        sku=cell("sku"),
        location=cell("location"),
        quantity=cell("quantity"),
        unit=cell("unit") or "EA",
        lot=cell("lot"),
        occurred_at=cell("counted_at"),
        reason=cell("reference"),
        source_system=source,
        source_sequence=line,
    )


def _problem(error: Any) -> RowProblem:
    field = str(error["loc"][0]) if error["loc"] else "row"
    return RowProblem(column=FIELD_COLUMNS.get(field, field), message=error["msg"])
