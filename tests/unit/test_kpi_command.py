"""``skuhub kpi``: the KPIs of a gateway as tables, and a clear exit when it does not answer."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from typer.testing import CliRunner

from skuhub_cli.kpi import show
from skuhub_cli.main import app

TALLY = {"matches": 3, "mismatches": 1, "in_flight": 2, "oldest_mismatch_age_s": 42.5}
KPIS: dict[str, Any] = {
    "latency": {
        "window_s": 900.0,
        "by_channel_and_cause": [
            {
                "channel": "web",
                "cause": "stock",
                "count": 12,
                "p50_s": 0.0123,
                "p90_s": 0.2,
                "p99_s": 0.45,
                "max_s": 1.5,
            },
        ],
    },
    "accuracy": {
        "offers": {**TALLY, "accuracy": "0.750000"},
        "channels": [{"channel": "web", **TALLY, "accuracy": "0.750000"}],
        "positions": {
            "matches": 0,
            "mismatches": 0,
            "in_flight": 0,
            "accuracy": None,
            "oldest_mismatch_age_s": None,
        },
        "grace_s": 5.0,
        "last_sweep": None,
    },
}


def test_the_tables_show_latency_accuracy_and_mismatches() -> None:
    console = Console(record=True, width=160)
    mismatch = {
        "channel": "web",
        "sku": "MUG-1",
        "offer_available": "7",
        "expected_available": "12",
        "age_s": 42.5,
        "reason": "offer promises 7",
    }

    show(console, KPIS, [mismatch])

    text = console.export_text()
    assert "│ web     │ stock │      12 │ 12.3 ms │ 200.0 ms │ 450.0 ms │ 1.50 s │" in text
    assert "offers, web" in text
    assert (
        "│ offers, web          │ 75.000 % │       3 │          1 │         2 │         42.50 s │"
        in text
    )
    assert "The reconciler has not finished a pass yet." in text
    assert "│ web     │ MUG-1 │     7 │       12 │ 42.50 s │ offer promises 7 │" in text


def test_an_unreachable_gateway_exits_1_saying_so() -> None:
    result = CliRunner().invoke(app, ["kpi", "--gateway", "http://127.0.0.1:9"])

    assert result.exit_code == 1
    assert "did not answer" in result.output
