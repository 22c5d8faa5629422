"""``skuhub kpi``: the sync KPIs of a running gateway as tables in the terminal.

Reads ``GET /v1/kpis`` (data latency per channel and cause, data accuracy of the offers
and of the projected positions, the reconciler's last pass) and, when asked, the oldest
mismatches from ``GET /v1/kpis/mismatches``. docs/kpis.md defines every figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from skuhub_cli import endpoints

TIMEOUT_S = 10.0


def gateway_url(state_dir: Path = endpoints.STATE_DIR) -> str:
    """The running stack's gateway (``.skuhub/endpoints.json``), else the default port."""
    return endpoints.service_url("sync_gateway", state_dir)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def _percent(value: str | float | None) -> str:
    if value is None:
        return "-"
    return f"{float(value) * 100:.3f} %"


def latency_table(kpis: dict[str, Any]) -> Table:
    latency = kpis["latency"]
    table = Table(
        title=f"Data latency: origin → offer stored (last {latency['window_s']:g} s)",
        title_justify="left",
    )
    for name in ("channel", "cause"):
        table.add_column(name)
    for name in ("changes", "p50", "p90", "p99", "max"):
        table.add_column(name, justify="right")
    for row in latency["by_channel_and_cause"]:
        table.add_row(
            row["channel"],
            row["cause"],
            str(row["count"]),
            *(_seconds(row[k]) for k in ("p50_s", "p90_s", "p99_s", "max_s")),
        )
    if not latency["by_channel_and_cause"]:
        table.add_row("-", "-", "0", "-", "-", "-", "-")
    return table


def accuracy_table(kpis: dict[str, Any]) -> Table:
    accuracy = kpis["accuracy"]
    table = Table(
        title=f"Data accuracy against the stock service (grace {accuracy['grace_s']:g} s)",
        title_justify="left",
    )
    table.add_column("checked")
    for name in ("accuracy", "matches", "mismatches", "in flight", "oldest mismatch"):
        table.add_column(name, justify="right")

    def row(label: str, tally: dict[str, Any]) -> None:
        table.add_row(
            label,
            _percent(tally["accuracy"]),
            str(tally["matches"]),
            str(tally["mismatches"]),
            str(tally["in_flight"]),
            _seconds(tally["oldest_mismatch_age_s"]),
        )

    row("offers, all channels", accuracy["offers"])
    for channel in accuracy["channels"]:
        row(f"offers, {channel['channel']}", channel)
    row("projected positions", accuracy["positions"])
    return table


def sweep_line(kpis: dict[str, Any]) -> str:
    sweep = kpis["accuracy"]["last_sweep"]
    if sweep is None:
        return "The reconciler has not finished a pass yet."
    return (
        f"Last reconciler pass: {sweep['skus']} SKUs in {sweep['seconds']:.2f} s, "
        f"ended {sweep['finished_at']}."
    )


def mismatch_table(mismatches: list[dict[str, Any]]) -> Table:
    table = Table(title="Oldest mismatches", title_justify="left")
    for name in ("channel", "sku", "offer", "expected", "age", "reason"):
        table.add_column(name, justify="right" if name in ("offer", "expected", "age") else "left")
    for m in mismatches:
        table.add_row(
            m["channel"],
            m["sku"],
            str(m["offer_available"]) if m["offer_available"] is not None else "-",
            str(m["expected_available"]) if m["expected_available"] is not None else "-",
            _seconds(m["age_s"]),
            m["reason"],
        )
    return table


def show(
    console: Console, kpis: dict[str, Any], mismatches: list[dict[str, Any]] | None = None
) -> None:
    """Print the KPIs (and mismatches, when given) as tables."""
    console.print(latency_table(kpis))
    console.print(accuracy_table(kpis))
    console.print(sweep_line(kpis))
    if mismatches:
        console.print(mismatch_table(mismatches))


def kpi(
    gateway: Annotated[
        str | None,
        typer.Option(help="Sync gateway URL [default: from .skuhub/endpoints.json, else :8104]."),
    ] = None,
    window: Annotated[
        float,
        typer.Option(
            min=1, max=86_400, help="Latency over the offer changes of this many seconds."
        ),
    ] = 900.0,
    mismatches: Annotated[
        int, typer.Option(min=0, max=1000, help="Also list up to this many oldest mismatches.")
    ] = 10,
) -> None:
    """The sync KPIs: data latency per channel and cause, data accuracy, mismatches."""
    import httpx  # here: every other skuhub command starts without it

    url = (gateway or gateway_url()).rstrip("/")
    console = Console(soft_wrap=True)
    try:
        with httpx.Client(
            base_url=url, timeout=TIMEOUT_S, headers=endpoints.auth_headers()
        ) as client:
            response = client.get("/v1/kpis", params={"window_s": window})
            response.raise_for_status()
            listed: list[dict[str, Any]] = []
            if mismatches and response.json()["accuracy"]["offers"]["mismatches"]:
                found = client.get("/v1/kpis/mismatches", params={"limit": mismatches})
                found.raise_for_status()
                listed = found.json()
    except httpx.HTTPError as exc:
        Console(stderr=True).print(
            f"[red]error:[/] the sync gateway at {url} did not answer the KPIs ({exc}); is the "
            "stack running (skuhub dev)?"
        )
        raise typer.Exit(1) from exc
    show(console, response.json(), listed)
