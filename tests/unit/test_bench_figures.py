"""The arithmetic behind `make bench`: percentiles, latency summaries, ATP of the ledger check."""

from __future__ import annotations

import math
from decimal import Decimal

from typer.testing import CliRunner

from skuhub_cli.bench_probes import LatencySummary, atp, percentile
from skuhub_cli.main import app


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7
    assert math.isnan(percentile([], 0.5))


def test_latency_summary_reports_milliseconds_from_seconds() -> None:
    summary = LatencySummary.of([0.3, 0.1, 0.2])
    assert (summary.samples, summary.p50_ms, summary.max_ms) == (3, 200.0, 300.0)
    assert LatencySummary.of([]).samples == 0


def test_bench_checks_atp_like_the_ledger_defines_it() -> None:
    assert atp(Decimal(10), Decimal(4)) == 6
    assert atp(Decimal(3), Decimal(5)) == 0


def test_bench_command_documents_quick_mode() -> None:
    result = CliRunner().invoke(app, ["bench", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--quick" in result.output
