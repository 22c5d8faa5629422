"""``skuhub bench``: throughput, latency, accuracy and memory on the embedded stack.

One embedded Kafka broker and one embedded PostgreSQL serve the whole run
(:mod:`skuhub_cli.bench_session`); every case gets a fresh topic prefix and
schema prefix, so no case sees another's records or rows. The cases, in order:

1. **pass-through baseline** — consume and produce the generator's valid
   records on the same broker with no processing: the physical limit here.
2. **stock** — N pre-loaded deliveries (valid, duplicate, malformed), the
   service started afterwards; timed from ready until its consumer group has
   committed every partition's end offset.
3. **sync_gateway** — the stock-level-changed events stock derived in (2),
   consumed the same way.
4. **catalog** — the generated products created over HTTP (8 in flight);
   **lifecycle** — the resulting product-changed events, consumed the same way.
   (1 to 4: :mod:`skuhub_cli.bench_throughput`.)
5. **latency** — deliveries published at fixed rates, first to stock alone, then to all
   four services running; per event: origin → stock-level-changed derived (stock),
   origin → applied in the offer projection (sync_gateway, i.e. visible to a channel),
   product created → stage derived (lifecycle) (:mod:`skuhub_cli.bench_latency`).
6. **backlog** (``--backlog N``) — N movements written one record per batch, as a
   steady trickle leaves them; the stock service drains them from the start and its
   sustained rate is compared with (2)'s (:mod:`skuhub_cli.bench_backlog`).
7. **stock reads and commands** (``--positions N``) — stock alone on N stored positions:
   position reads' latency, and racing reservations' rate with a check that none
   oversold (:mod:`skuhub_cli.bench_commands`).
8. **a retailer's size** (``--realistic N``, 1,000,000 in the full run) — N movements over
   50,000 SKUs x 20 locations, Zipf-skewed, drained by stock against a pass-through of the
   same records (:mod:`skuhub_cli.bench_realistic`), with the lifecycle consuming
   stock-level-changed alongside: its lag after the load ends and SKU-metrics reads
   (:mod:`skuhub_cli.bench_lifecycle`).
9. **catalog import** (``--catalog-import N``, 100,000 in the full run) — the catalog
   importing a generated supplier file of N SKUs (20 attributes, 3 locales, variants,
   categories) until every product-changed is on Kafka, then the same file again
   (:mod:`skuhub_cli.bench_catalog`).
10. **traces** (``--traced N``, 20,000 in the full run) — stock drains N movements twice,
   without export and exporting every span over OTLP (sampling 1.0) to a receiver in the
   bench process; the ratio of the sustained rates (:mod:`skuhub_cli.bench_traces`), and
   the span path's CPU per record alone (:mod:`skuhub_cli.bench_span_path`).
11. **accuracy** after each run: the stock ledger against the generator's
   oracle; the gateway's projection against the stock ledger
   (:mod:`skuhub_cli.bench_accuracy`).

With ``--replicas 1,2,3`` only the scale-out cases run instead: stock's throughput
with each count of instances and the pauses when an instance dies or joins
(:mod:`skuhub_cli.bench_scale`).

Peak RSS of every process tree is sampled throughout. The result is printed as
a table and written as JSON under ``bench-results/`` (:mod:`skuhub_cli.bench_report`).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from skuhub_cli.bench_access import access_case
from skuhub_cli.bench_backlog import backlog_case
from skuhub_cli.bench_catalog import catalog_import_case
from skuhub_cli.bench_commands import commands_case
from skuhub_cli.bench_latency import latency_case, stock_alone_latency_case
from skuhub_cli.bench_options import BenchOptions
from skuhub_cli.bench_probes import RssSampler, machine
from skuhub_cli.bench_realistic import realistic_case
from skuhub_cli.bench_report import BenchReport, Row, print_report, write_report
from skuhub_cli.bench_scale import scale_cases
from skuhub_cli.bench_session import BenchSession
from skuhub_cli.bench_throughput import throughput_cases
from skuhub_cli.bench_traces import traced_case


def run_bench(options: BenchOptions, console: Console) -> tuple[BenchReport, Path]:
    """Run every case, print the table, write the JSON; stops everything it started."""
    report = BenchReport(
        command=options.command(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        options=options.summary(),
    )
    try:
        asyncio.run(_run(options, console, report))
    except BaseException:
        if report.rows:
            partial = write_report(report, options.out)
            console.print(f"[yellow]partial results (complete: false) in {partial}[/]")
        raise
    path = write_report(report, options.out)
    print_report(report, path, console)
    return report, path


async def _run(options: BenchOptions, console: Console, report: BenchReport) -> None:
    """Every case on one event loop; the report is filled in as they go."""
    wall = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="skuhub-bench-"))
    rss = RssSampler()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    rss.start()
    try:
        with progress:
            async with BenchSession(
                options, console=console, report=report, rss=rss, workdir=workdir, progress=progress
            ) as session:
                report.machine = machine()
                report.machine["postgresql"] = await session.db.version()
                if options.replicas:
                    await scale_cases(session, options.replicas)
                else:
                    await throughput_cases(session)
                    if options.backlog:
                        await backlog_case(session)
                    if options.positions:
                        await commands_case(session, options.positions)
                    if options.realistic:
                        await realistic_case(session, options.realistic)
                    if options.catalog_import:
                        await catalog_import_case(session, options.catalog_import)
                    if options.traced:
                        await traced_case(session, options.traced)
                    await stock_alone_latency_case(session)
                    await latency_case(session)
                    await access_case(session)
        report.complete = True
    except BaseException:
        console.print(f"[yellow]logs kept in {workdir}[/]")
        raise
    finally:
        rss.stop()
        report.add(*_memory_rows(rss, report))
        report.wall_seconds = round(time.monotonic() - wall, 1)
    shutil.rmtree(workdir, ignore_errors=True)


def _memory_rows(rss: RssSampler, report: BenchReport) -> list[Row]:
    rows = []
    for index, (name, peak) in enumerate(sorted(rss.peaks.items())):
        note = "process and children, sampled every 0.2 s" if index == 0 else ""
        rows.append(Row("peak RSS", name, peak / 2**20, "MiB", note=note))
    report.details["peak_rss_bytes"] = dict(rss.peaks)
    return rows


__all__ = ["run_bench"]
