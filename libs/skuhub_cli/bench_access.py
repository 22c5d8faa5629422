"""Benchmark: what checking an API token adds to a request (target: p99 < 1 ms)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession
from skuhub_runtime import access_store
from skuhub_runtime.access_http import Authenticator
from skuhub_runtime.access_tokens import Principal, Scope, hash_secret, issue

CHECKS = 20_000
TARGET_P99_MS = 1.0


async def access_case(session: BenchSession) -> None:
    """Time ``Authenticator.principal`` on a real token store: the first check (argon2),
    then every later one, with the row read again every 5 s (the default) and every 50 ms."""
    prefix = f"b{uuid.uuid4().hex[:8]}_"
    engine = create_async_engine(session.infra.database_url, pool_size=2)
    token = issue()
    try:
        await access_store.migrate(engine, prefix)
        async with engine.begin() as conn:
            await access_store.insert_token(
                conn,
                prefix,
                Principal(token.token_id, "bench", frozenset(Scope)),
                hash_secret(token.secret),
                note="bench",
                at=datetime.now(UTC),
            )
        rows: list[Row] = []
        for recheck_s, label in ((5.0, "row re-read every 5 s"), (0.05, "row re-read every 50 ms")):
            authenticator = Authenticator(engine, prefix, recheck_s=recheck_s)
            started = time.perf_counter()
            await authenticator.principal(token.value)
            first_ms = (time.perf_counter() - started) * 1000
            samples = []
            for _ in range(CHECKS):
                started_ns = time.perf_counter_ns()
                await authenticator.principal(token.value)
                samples.append(time.perf_counter_ns() - started_ns)
            samples.sort()
            p50_us = samples[len(samples) // 2] / 1e3
            p99_us = samples[int(len(samples) * 0.99)] / 1e3
            rows += [
                Row("access", f"first check (argon2), {label}", round(first_ms, 1), "ms"),
                Row("access", f"token check p50, {label}", round(p50_us, 1), "µs"),
                Row(
                    "access",
                    f"token check p99, {label}",
                    round(p99_us, 1),
                    "µs",
                    ratio=round(p99_us / 1000 / TARGET_P99_MS, 4),
                    note=f"target < {TARGET_P99_MS:g} ms; ratio = p99 / target",
                ),
            ]
        session.report.add(*rows)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}access" CASCADE'))
        await engine.dispose()
