"""``skuhub top``: every service of a running stack at a glance, refreshed in place.

Scrapes each service's ``/metrics`` every ``--interval`` seconds and shows, per
service: events applied per second, consumer lag (records and seconds), data
latency p50/p99 over the window, dead letters, accuracy and the outbox backlog.
The figures are computed in :mod:`skuhub_cli.top_figures`; docs/operations.md
says what each one means. A service that does not answer is shown as down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from skuhub_cli import endpoints
from skuhub_cli.top_figures import Samples, ServiceFigures, figures, parse_metrics
from skuhub_runtime.access_tokens import bearer

SCRAPE_TIMEOUT_S = 2.0


def parse_urls(values: list[str]) -> dict[str, str]:
    """``NAME=URL`` options as a mapping; a value without a name is named by its URL."""
    urls: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep:
            name, url = value, value
        if not url.startswith(("http://", "https://")):
            raise typer.BadParameter(f"{value!r}: expected NAME=http://host:port")
        urls[name] = url.rstrip("/")
    return urls


@dataclass(frozen=True, slots=True)
class Scrape:
    """One service's answer: its samples, or why there are none."""

    samples: Samples | None
    at: float
    problem: str = ""


class Scraper:
    """Reads every service's ``/metrics``; keeps the previous round for rates."""

    def __init__(self, urls: Mapping[str, str], token: str | None = None) -> None:
        self.urls = dict(urls)
        self._headers = bearer(token)
        self._previous: dict[str, Scrape] = {}

    async def _scrape(self, client: httpx.AsyncClient, url: str) -> Scrape:
        try:
            response = await client.get(f"{url}/metrics", headers=self._headers)
            response.raise_for_status()
            return Scrape(parse_metrics(response.text), time.monotonic())
        except httpx.HTTPStatusError as exc:
            problem = f"HTTP {exc.response.status_code} from {url}/metrics"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__} at {url}"
        except ValueError as exc:  # not a metrics exposition
            problem = f"unreadable metrics at {url} ({exc})"
        return Scrape(None, time.monotonic(), problem)

    async def round(self) -> list[ServiceFigures]:
        """Scrape every service once; each one's figures since the previous round."""
        async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S) as client:
            scrapes = await asyncio.gather(*(self._scrape(client, u) for u in self.urls.values()))
        rows = []
        for name, scrape in zip(self.urls, scrapes, strict=True):
            before = self._previous.get(name)
            if scrape.samples is None:
                rows.append(ServiceFigures(name, up=False, problem=scrape.problem))
                self._previous.pop(name, None)
                continue
            earlier = before.samples if before is not None else None
            seconds = scrape.at - before.at if before is not None else 0.0
            rows.append(figures(name, earlier, scrape.samples, seconds))
            self._previous[name] = scrape
        return rows


def _number(value: float | None, form: str = "{:,.0f}") -> str:
    return "-" if value is None else form.format(value)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:,.2f} s"


def render(rows: list[ServiceFigures], interval_s: float) -> Table:
    down = [f"{row.name}: {row.problem}" for row in rows if not row.up]
    table = Table(
        title=f"skuhub top: every {interval_s:g} s (rate and latency over the last window)",
        title_justify="left",
        caption="down: " + "; ".join(down) if down else None,
        caption_justify="left",
    )
    table.add_column("service", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for heading in (
        "applied/s",
        "lag",
        "lag age",
        "latency p50",
        "latency p99",
        "dead letters",
        "accuracy",
        "outbox",
    ):
        table.add_column(heading, justify="right")
    for row in rows:
        if not row.up:
            table.add_row(row.name, "[red]down[/]", *["-"] * 8)
            continue
        table.add_row(
            row.name,
            "[green]up[/]",
            _number(row.applied_per_s, "{:,.1f}"),
            _number(row.lag_records),
            _seconds(row.lag_seconds),
            _seconds(row.latency_p50_s),
            _seconds(row.latency_p99_s),
            _number(row.dead_letters),
            _number(None if row.accuracy is None else row.accuracy * 100, "{:.2f} %"),
            _number(row.outbox_backlog),
        )
    return table


async def _once(scraper: Scraper, interval_s: float) -> list[ServiceFigures]:
    await scraper.round()
    await asyncio.sleep(interval_s)  # the measuring window, not a synchronisation
    return await scraper.round()


async def _live(scraper: Scraper, interval_s: float, console: Console) -> None:
    with Live(render(await scraper.round(), interval_s), console=console) as live:
        while True:
            await asyncio.sleep(interval_s)  # the refresh clock
            live.update(render(await scraper.round(), interval_s))


def top(
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between refreshes (and the rate window).")
    ] = 2.0,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Print one frame (two scrapes --interval apart) and exit: 1 when no service "
            "answered.",
        ),
    ] = False,
    url: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=URL of a service to show instead of the stack's (repeatable). "
            "Default: the instances in .skuhub/endpoints.json (written by skuhub dev), else "
            "ports 8101-8104 on this host.",
        ),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(hidden=True, help="Where skuhub dev wrote endpoints.json.")
    ] = Path(".skuhub"),
) -> None:
    """Live view of every service: rate, lag, latency p50/p99, dead letters, accuracy,
    outbox backlog (each service's /metrics; sends SKUHUB_TOKEN, else the dev stack's token)."""
    urls = parse_urls(url) if url else endpoints.instance_urls(state_dir)
    scraper = Scraper(urls, endpoints.api_token(state_dir))
    console = Console()
    if not console.is_terminal:  # a pipe or a file: room for every column, nothing cut
        console = Console(width=160)
    if once:
        rows = asyncio.run(_once(scraper, interval))
        console.print(render(rows, interval))
        if not any(row.up for row in rows):
            raise typer.Exit(1)
        return
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a live view ends
        asyncio.run(_live(scraper, interval, console))
