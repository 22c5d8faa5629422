"""``skuhub trace SKU``: a SKU's last changes hop by hop, from the services' own records.

For the embedded mode, where no trace backend runs. It reads two HTTP routes and joins
them on the movement's event id (docs/operations.md, "Reading skuhub trace"):

- stock ``GET /v1/journal/{sku}``: each movement, when it happened at the source and when
  stock journaled it (applied it, or refused it);
- the gateway's ``GET /v1/offer-changes?sku=``: each offer change with the upstream event
  behind it, its origin time, when the offer version was stored, its trace id and its
  webhook deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.table import Table

from skuhub_cli import endpoints

TIMEOUT_S = 10.0
_LONG_AGO = datetime.min.replace(tzinfo=UTC)
JOURNAL_PAGE = 500
MAX_JOURNAL_PAGES = 200
"""At most this many pages of a SKU's journal are read (its 100,000 oldest movements)."""


@dataclass(frozen=True, slots=True)
class Hop:
    what: str
    at: datetime | None
    """None: not reached (yet)."""
    note: str = ""


@dataclass
class ChangeTrace:
    """One change of the SKU and its hops, oldest hop first."""

    title: str
    trace_id: str | None = None
    hops: list[Hop] = field(default_factory=list)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def change_traces(
    journal: list[dict[str, Any]], changes: list[dict[str, Any]], limit: int
) -> list[ChangeTrace]:
    """The last ``limit`` changes, newest first: movements from the journal with the offer
    changes they caused, then offer changes no journaled movement explains (product,
    lifecycle and channel changes, or movements older than the journal read)."""
    by_cause: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_cause.setdefault(change.get("caused_by") or "", []).append(change)
    traces: list[tuple[datetime, int, ChangeTrace]] = []
    explained: set[str] = set()
    for entry in journal:
        mine = sorted(by_cause.get(entry["event_id"], []), key=lambda c: c["changed_at"])
        explained.add(entry["event_id"])
        trace = ChangeTrace(
            title=f"movement {entry['event_id']}: {entry['kind']} {entry['quantity']} "
            f"{entry['unit']} at {entry['location']}"
            + (f" → {entry['destination']}" if entry.get("destination") else ""),
            trace_id=next((c["trace_id"] for c in mine if c.get("trace_id")), None),
        )
        trace.hops.append(Hop("occurred at the source", _time(entry["occurred_at"])))
        if mine:
            trace.hops.append(Hop("entered skuhub", _time(mine[0]["origin_time"])))
        refused = entry.get("rejected_reason")
        trace.hops.append(
            Hop(
                "stock: refused" if refused else "stock: applied to the ledger",
                _time(entry["recorded_at"]),
                refused or (entry.get("outcome") or ""),
            )
        )
        trace.hops += _gateway_hops(mine)
        if not mine and not refused:
            trace.hops.append(
                Hop(
                    "gateway: no offer change names it",
                    None,
                    "stood for by a later movement of the same batch, or no offer changed",
                )
            )
        traces.append((_time(entry["recorded_at"]) or _LONG_AGO, len(traces), trace))
    for cause, mine in by_cause.items():
        # A stock change whose movement is not in the journal read is older than the ones
        # shown: it is not "unexplained".
        if cause in explained or (cause and mine[0]["cause"] == "stock"):
            continue
        mine = sorted(mine, key=lambda c: c["changed_at"])
        trace = ChangeTrace(
            title=f"{mine[0]['cause']} change {cause or '(cause not recorded)'}",
            trace_id=next((c["trace_id"] for c in mine if c.get("trace_id")), None),
        )
        trace.hops.append(Hop("entered skuhub", _time(mine[0]["origin_time"])))
        trace.hops += _gateway_hops(mine)
        traces.append((_time(mine[0]["changed_at"]) or _LONG_AGO, len(traces), trace))
    # Newest first; the journal's order among movements applied in one transaction.
    traces.sort(key=lambda entry: entry[:2], reverse=True)
    return [trace for _, _, trace in traces[:limit]]


def _gateway_hops(changes: list[dict[str, Any]]) -> list[Hop]:
    hops = []
    for change in changes:
        hops.append(
            Hop(
                f"gateway: {change['channel']} offer v{change['offer_version']} stored",
                _time(change["changed_at"]),
            )
        )
        for delivery in change.get("deliveries", []):
            delivered = _time(delivery.get("delivered_at"))
            hops.append(
                Hop(
                    "webhook: " + ("delivered" if delivered else delivery["status"]),
                    delivered,
                    f"{delivery['webhook_id']} to subscription "
                    f"{delivery['subscription_id'][:8]}, {delivery['attempts']} attempt(s)",
                )
            )
    return hops


def trace_table(trace: ChangeTrace) -> Table:
    title = trace.title + (f"\ntrace {trace.trace_id}" if trace.trace_id else "")
    table = Table(title=title, title_justify="left")
    table.add_column("hop")
    table.add_column("at (UTC)")
    table.add_column("+ since previous", justify="right")
    table.add_column("+ since first", justify="right")
    table.add_column("note")
    first = next((h.at for h in trace.hops if h.at is not None), None)
    previous = first
    for hop in trace.hops:
        if hop.at is None:
            table.add_row(hop.what, "-", "", "", hop.note)
            continue
        table.add_row(
            hop.what,
            hop.at.isoformat(timespec="milliseconds"),
            _ms(hop.at, previous),
            _ms(hop.at, first),
            hop.note,
        )
        previous = hop.at
    return table


def _ms(at: datetime, since: datetime | None) -> str:
    if since is None:
        return ""
    return f"{(at - since).total_seconds() * 1000:,.1f} ms"


def read_records(
    stock_url: str, gateway_url: str, sku: str, limit: int, headers: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The SKU's journal (its last ``limit`` entries) and last offer changes (``headers``:
    the API token's ``Authorization``)."""
    import httpx  # here: every other skuhub command starts without it

    journal: list[dict[str, Any]] = []
    with httpx.Client(base_url=stock_url.rstrip("/"), timeout=TIMEOUT_S, headers=headers) as client:
        after: int | None = None
        for _ in range(MAX_JOURNAL_PAGES):
            params: dict[str, Any] = {"limit": JOURNAL_PAGE}
            if after is not None:
                params["after"] = after
            page = client.get(f"/v1/journal/{quote(sku, safe='/')}", params=params)
            page.raise_for_status()
            body = page.json()
            journal = (journal + body["entries"])[-limit:]
            after = body["next_after"]
            if after is None:
                break
    with httpx.Client(
        base_url=gateway_url.rstrip("/"), timeout=TIMEOUT_S, headers=headers
    ) as client:
        found = client.get("/v1/offer-changes", params={"sku": sku, "limit": 200})
        found.raise_for_status()
        changes: list[dict[str, Any]] = found.json()
    return journal, changes


def trace_command(
    sku: Annotated[str, typer.Argument(help="The SKU whose last changes to follow.")],
    limit: Annotated[
        int, typer.Option(min=1, max=200, help="Show this many of its last changes.")
    ] = 5,
    stock: Annotated[
        str | None,
        typer.Option(help="Stock URL (default: from .skuhub/endpoints.json, else :8102)."),
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option(help="Sync gateway URL (default: from .skuhub/endpoints.json, else :8104)."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where `skuhub dev` wrote endpoints.json (and its token).")
    ] = Path(".skuhub"),
) -> None:
    """A SKU's last changes hop by hop with their times, from the services' own records:
    occurred at the source, entered skuhub, applied by stock, offer version stored per
    channel, webhook delivered. For the embedded mode, where no trace backend runs.
    Sends SKUHUB_TOKEN, else the dev stack's token (any token: it only reads)."""
    import httpx
    from pydantic import TypeAdapter, ValidationError

    from skuhub_contracts.identifiers import Sku

    try:
        TypeAdapter(Sku).validate_python(sku)
    except ValidationError as exc:
        raise typer.BadParameter(
            "not a SKU: 1 to 64 letters, digits and . _ - /, starting with a letter or digit",
            param_hint="SKU",
        ) from exc
    stock_url = stock or endpoints.service_url("stock", state_dir)
    gateway_url = gateway or endpoints.service_url("sync_gateway", state_dir)
    try:
        journal, changes = read_records(
            stock_url, gateway_url, sku, limit, endpoints.auth_headers(state_dir)
        )
    except httpx.HTTPStatusError as exc:
        # The service refused the request (a SKU it cannot take): say what it said.
        Console(stderr=True).print(
            f"[red]error:[/] {exc.request.url} answered {exc.response.status_code}: "
            f"{exc.response.text[:500]}"
        )
        raise typer.Exit(1) from exc
    except httpx.HTTPError as exc:
        Console(stderr=True).print(
            f"[red]error:[/] stock at {stock_url} or the gateway at {gateway_url} did not "
            f"answer ({exc}); is the stack running (skuhub dev)?"
        )
        raise typer.Exit(1) from exc
    console = Console(soft_wrap=True)
    traces = change_traces(journal, changes, limit)
    if not traces:
        console.print(f"no change of {sku} is recorded by stock or the gateway")
        return
    for trace in traces:
        console.print(trace_table(trace))
