"""PostgreSQL implementation of the import repository: mappings, jobs, row problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.tables import import_jobs, import_mappings, import_problems
from skuhub_catalog.domain.imports import (
    ColumnRule,
    FileFormat,
    ImportCounts,
    ImportJob,
    ImportMapping,
    JobStatus,
    RowProblem,
)


class SqlImportRepository:
    """Import mappings (a JSONB definition each), jobs and problems in PostgreSQL."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get_mapping(self, code: str) -> ImportMapping | None:
        statement = sa.select(import_mappings).where(import_mappings.c.code == code)
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_mapping(row) if row is not None else None

    async def save_mapping(self, mapping: ImportMapping) -> None:
        values = {
            "code": mapping.code,
            "definition": {
                "columns": [asdict(rule) for rule in mapping.columns],
                "units": dict(mapping.units),
                "defaults": dict(mapping.defaults),
            },
            "version": mapping.version,
            "updated_at": mapping.updated_at,
        }
        new = insert(import_mappings).values(**values)
        await self._conn.execute(
            new.on_conflict_do_update(
                index_elements=[import_mappings.c.code],
                set_={k: new.excluded[k] for k in values if k != "code"},
            )
        )

    async def list_mappings(self) -> list[ImportMapping]:
        statement = sa.select(import_mappings).order_by(import_mappings.c.code)
        return [_to_mapping(row) for row in (await self._conn.execute(statement)).mappings()]

    async def add_job(self, job: ImportJob) -> None:
        await self._conn.execute(sa.insert(import_jobs).values(**_job_row(job)))

    async def get_job(self, job_id: str, *, for_update: bool = False) -> ImportJob | None:
        statement = sa.select(import_jobs).where(import_jobs.c.id == job_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).mappings().first()
        return _to_job(row) if row is not None else None

    async def update_job(self, job: ImportJob) -> None:
        await self._conn.execute(
            sa.update(import_jobs).where(import_jobs.c.id == job.id).values(**_job_row(job))
        )

    async def list_jobs(self, limit: int) -> list[ImportJob]:
        statement = sa.select(import_jobs).order_by(import_jobs.c.started_at.desc()).limit(limit)
        return [_to_job(row) for row in (await self._conn.execute(statement)).mappings()]

    async def add_problems(
        self, job_id: str, first_seq: int, problems: Sequence[RowProblem]
    ) -> None:
        if not problems:
            return
        await self._conn.execute(
            sa.insert(import_problems),
            [
                {"job_id": job_id, "seq": seq, **asdict(problem)}
                for seq, problem in enumerate(problems, start=first_seq)
            ],
        )

    async def problems_of(
        self, job_id: str, after_seq: int, limit: int
    ) -> list[tuple[int, RowProblem]]:
        statement = (
            sa.select(import_problems)
            .where(import_problems.c.job_id == job_id, import_problems.c.seq > after_seq)
            .order_by(import_problems.c.seq)
            .limit(limit)
        )
        return [
            (r["seq"], RowProblem(r["row"], r["column"], r["field"], r["message"]))
            for r in (await self._conn.execute(statement)).mappings()
        ]


def _to_mapping(row: sa.RowMapping) -> ImportMapping:
    definition = row["definition"]
    return ImportMapping(
        code=row["code"],
        columns=tuple(ColumnRule(**rule) for rule in definition["columns"]),
        units=definition["units"],
        defaults=definition["defaults"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


def _job_row(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "mapping": job.mapping,
        "file_format": job.file_format.value,
        "file_name": job.file_name,
        "actor": job.actor,
        "status": job.status.value,
        "rows_total": job.rows_total,
        "counts": asdict(job.counts),
        "message": job.message,
        "started_at": job.started_at,
        "updated_at": job.updated_at,
    }


def _to_job(row: sa.RowMapping) -> ImportJob:
    return ImportJob(
        id=row["id"],
        mapping=row["mapping"],
        file_format=FileFormat(row["file_format"]),
        file_name=row["file_name"],
        actor=row["actor"],
        status=JobStatus(row["status"]),
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        rows_total=row["rows_total"],
        counts=ImportCounts(**row["counts"]),
        message=row["message"],
    )
