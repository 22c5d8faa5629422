"""What exporting every span costs: the stock service's throughput on the same backlog
with traces exported at sampling 1.0 to a collector stand-in (an OTLP/HTTP receiver in
the bench process, :mod:`skuhub_cli.otlp_sink`) and without export; the ratio (target
at least 0.9, docs/benchmarks.md)."""

from __future__ import annotations

import math
import statistics

from skuhub_cli import bench_span_path
from skuhub_cli.bench_probes import produce_flat_out
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession
from skuhub_cli.bench_throughput import consumer_case
from skuhub_cli.otlp_sink import OtlpSink
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.movements import generate_deliveries

TARGET = 0.9
ROUNDS = 4
"""An even count: each kind runs as often first as second in its round, so a machine that
slows (or speeds up) over the case weighs on both alike."""
SPAN_PATH_RECORDS = 30_000
WITHOUT = "no export"
WITH = "OTLP at 1.0"


def exporting_env(endpoint: str) -> dict[str, str]:
    """Every span of every trace exported, as a production service configured for OTLP."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "always_on",
    }


async def traced_case(session: BenchSession, movements: int, rounds: int = ROUNDS) -> None:
    """The same backlog drained by stock on fresh prefixes, without export and with it in
    turn, the order reversed every other round (``rounds`` times each, so that a machine
    busy with something else for a while weighs on both alike); the ratio of the mean
    sustained rates."""
    options = session.options
    with session.step(f"Generating {movements:,} movements for the tracing case"):
        config = options.traffic(movements)
        deliveries = generate_deliveries(config, build_catalog(config))
    rates: dict[str, list[float]] = {WITHOUT: [], WITH: []}
    cpu: dict[str, list[tuple[int, float]]] = {WITHOUT: [], WITH: []}
    with OtlpSink(keep=False).serve() as sink:
        kinds = ((WITHOUT, None), (WITH, exporting_env(sink.endpoint)))
        for round_ in range(1, rounds + 1):
            # Without, with; with, without; ...: a drift over the run (the machine, the
            # broker's and the database's growing state) weighs on both kinds alike.
            for label, env in kinds if round_ % 2 else kinds[::-1]:
                group = await session.new_group()
                topic = group.wiring.settings().topic(STOCK_MOVED.name)
                with session.step(f"Pre-loading {len(deliveries):,} deliveries ({label})"):
                    await produce_flat_out(session.bootstrap, topic, deliveries)
                case = f"stock, traces {label} ({round_}/{rounds})"
                # No pass-through baseline here: the two kinds of run are each other's.
                await consumer_case(
                    session, group, STOCK_MOVEMENTS, 0.0, outbox=True, case=case, env=env
                )
                found = session.report.details[f"throughput_{case}"]
                rates[label].append(found["sustained_rate"])
                cpu[label].append((found["records_timed"], found["cpu_seconds"]))
        spans, requests = sink.received, sink.requests
        with session.step(f"The span path alone, {SPAN_PATH_RECORDS:,} records"):
            alone = bench_span_path.measure(SPAN_PATH_RECORDS, None)
            exported = bench_span_path.measure(SPAN_PATH_RECORDS, exporting_env(sink.endpoint))
    without, with_export = statistics.fmean(rates[WITHOUT]), statistics.fmean(rates[WITH])
    ratio = with_export / without if without and not math.isnan(with_export) else math.nan
    # Each round's two runs ran back to back: their ratios show how far one run's figure
    # can be trusted on this machine (0.73 to 1.03 over a day, docs/benchmarks.md).
    by_round = [w / o for w, o in zip(rates[WITH], rates[WITHOUT], strict=True) if o]
    spread = f"{min(by_round):.2f} to {max(by_round):.2f}" if by_round else "n/a"
    per_cpu = {label: _per_cpu_second(runs) for label, runs in cpu.items()}
    cpu_ratio = per_cpu[WITH] / per_cpu[WITHOUT] if per_cpu[WITHOUT] else math.nan
    stock_us = 1e6 / per_cpu[WITHOUT] if per_cpu[WITHOUT] else math.nan
    expected = stock_us / (stock_us + exported - alone)
    session.report.add(
        Row(
            "traces",
            "span path CPU per record, without / with export",
            exported - alone,
            "µs",
            note=f"{alone:.1f} / {exported:.1f} µs (bench_span_path); stock spends "
            f"{stock_us:.0f} µs a record without export: {expected:.2f} expected",
        ),
        Row(
            "traces",
            "records per CPU-second of stock, with / without",
            cpu_ratio,
            "",
            note=f"{per_cpu[WITH]:,.0f} / {per_cpu[WITHOUT]:,.0f}: the cost alone, whatever "
            "else the machine runs",
        ),
        Row(
            "traces",
            "sustained with export / without",
            ratio,
            "",
            note=f"means of {rounds} runs each: {with_export:,.0f} / {without:,.0f} rec/s "
            f"(round by round {spread}); target ≥ {TARGET}; {spans:,} spans received in "
            f"{requests:,} OTLP requests",
        ),
    )
    session.report.details["traces"] = {
        "movements": movements,
        "rates_without_export": rates[WITHOUT],
        "rates_with_export": rates[WITH],
        "ratio": ratio,
        "ratios_by_round": by_round,
        "records_per_cpu_second_without": per_cpu[WITHOUT],
        "records_per_cpu_second_with": per_cpu[WITH],
        "cpu_ratio": cpu_ratio,
        "target": TARGET,
        "spans_received": spans,
        "span_path_us_per_record_without": alone,
        "span_path_us_per_record_with": exported,
        "expected_ratio_from_span_path": expected,
        "otlp_requests": requests,
    }
    verdict = "[green]met[/]" if ratio >= TARGET else "[red]missed[/]"
    session.done(
        f"traces: {with_export:,.0f} records/s exporting every span, {without:,.0f} without "
        f"(means of {rounds} runs): {ratio:.2f}, round by round {spread} (target ≥ {TARGET} "
        f"{verdict}); per CPU-second "
        f"{cpu_ratio:.2f}; the span path costs {exported - alone:.1f} µs a record "
        f"({expected:.2f} expected); {spans:,} spans received"
    )


def _per_cpu_second(runs: list[tuple[int, float]]) -> float:
    """Records per CPU-second of the service over its runs (NaN if none was measured)."""
    records = sum(r for r, _ in runs)
    seconds = sum(s for _, s in runs)
    return records / seconds if seconds > 0 else math.nan
