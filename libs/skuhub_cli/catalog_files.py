"""``skuhub catalog import`` and ``skuhub catalog export``: supplier files in and channel
files out, through the catalog's HTTP API (docs/catalog.md, "Bulk import and export").

An import saves the mapping when it is given as a JSON file, streams the file to
``POST /v1/imports`` and follows the job with a progress bar until it ends; the problems
of the rows that did not go in are printed and, with ``--report``, written to a CSV file.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

FORMATS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}
CONTENT_TYPES: Final = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
POLL_S: Final = 0.25
SHOWN_PROBLEMS: Final = 20
UPLOAD_PART: Final = 1 << 20


class CatalogFileError(Exception):
    """The catalog refused a request of the import or export; the message says why."""


@dataclass(slots=True)
class ImportOutcome:
    """The job as it ended, and every problem of its report."""

    job: dict[str, Any]
    problems: list[dict[str, Any]] = field(default_factory=list)


def import_file(
    catalog_url: str,
    path: Path,
    mapping: str,
    *,
    file_format: str | None = None,
    headers: Mapping[str, str] | None = None,
    console: Console,
) -> ImportOutcome:
    """Import ``path`` with ``mapping`` (a saved mapping's code, or a JSON file that is saved
    first under its file name); the job as it ended and its problems.

    Raises:
        CatalogFileError: the catalog refused the mapping or the file.
    """
    chosen = file_format or FORMATS.get(path.suffix.lower())
    if chosen is None:
        raise CatalogFileError(
            f"cannot tell the format of {path.name} from its suffix: pass --format csv|jsonl|xlsx"
        )
    with httpx.Client(base_url=catalog_url.rstrip("/"), timeout=60.0, headers=headers) as client:
        code = _mapping_code(client, mapping)
        size = path.stat().st_size
        console.print(f"Uploading {path.name} ({size:,} bytes) with mapping {code}")
        created = _checked(
            client.post(
                "/v1/imports",
                params={"mapping": code, "format": chosen, "file_name": path.name},
                content=_parts(path),
                headers={"Content-Type": CONTENT_TYPES[chosen]},
            )
        )
        job = _follow(client, created["id"], console)
        return ImportOutcome(job, _problems(client, job["id"]))


def _mapping_code(client: httpx.Client, mapping: str) -> str:
    file = Path(mapping)
    if not (file.suffix == ".json" and file.is_file()):
        return mapping
    code = re.sub(r"[^a-z0-9_-]", "-", file.stem.lower()).strip("-") or "mapping"
    body = json.loads(file.read_text(encoding="utf-8"))
    _checked(client.put(f"/v1/import-mappings/{code}", json=body))
    return code


def _parts(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while part := file.read(UPLOAD_PART):
            yield part


def _follow(client: httpx.Client, job_id: str, console: Console) -> dict[str, Any]:
    """Poll the job until it ends, showing its rows against the file's total."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("Importing", total=None, counts="")
        while True:
            job = _checked(client.get(f"/v1/imports/{job_id}"))
            progress.update(
                task,
                total=job["rows_total"],
                completed=job["rows"],
                counts=f"{job['created']} new, {job['updated']} changed, "
                f"{job['unchanged']} unchanged, {job['failed']} refused",
            )
            if job["status"] != "running":
                return job
            time.sleep(POLL_S)


def _problems(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _checked(
            client.get(f"/v1/imports/{job_id}/problems", params={"after": after, "limit": 5000})
        )
        found += page["items"]
        if page["next_after"] is None:
            return found
        after = page["next_after"]


def write_report(problems: list[dict[str, Any]], path: Path) -> None:
    """The problems as a CSV file: row, column, field, message."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["row", "column", "field", "message"])
        for p in problems:
            writer.writerow([p["row"], p["column"] or "", p["field"] or "", p["message"]])


def show_outcome(outcome: ImportOutcome, console: Console) -> None:
    job = outcome.job
    console.print(
        f"Import {job['id']} {job['status']}: {job['rows']} rows, {job['created']} created, "
        f"{job['updated']} changed, {job['unchanged']} unchanged, {job['failed']} refused"
    )
    if job["message"]:
        console.print(f"[red]{job['message']}[/red]")
    for p in outcome.problems[:SHOWN_PROBLEMS]:
        where = f"row {p['row']}" + (f", column {p['column']}" if p["column"] else "")
        console.print(f"  {where}: {p['message']}", markup=False, highlight=False)
    if len(outcome.problems) > SHOWN_PROBLEMS:
        console.print(f"  … and {len(outcome.problems) - SHOWN_PROBLEMS} more (--report FILE)")


def export_channel(
    catalog_url: str,
    channel: str,
    file_format: str,
    out: Path,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Stream a channel's published products into ``out``; the bytes written.

    Raises:
        CatalogFileError: the catalog refused (an unknown channel, say).
    """
    written = 0
    with (
        httpx.Client(base_url=catalog_url.rstrip("/"), timeout=120.0, headers=headers) as client,
        client.stream("GET", f"/v1/exports/{channel}", params={"format": file_format}) as response,
    ):
        if response.status_code != 200:
            response.read()
            _checked(response)
        with out.open("wb") as file:
            for part in response.iter_bytes():
                written += file.write(part)
    return written


def _checked(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:500]
        raise CatalogFileError(f"the catalog answered {response.status_code}: {detail}")
    body: dict[str, Any] = response.json()
    return body
