"""The demo feed: a few products through the catalog API and stock receipts through the stock API.

It uses only the public HTTP APIs, exactly as an upstream system would, and is
safe to run again: a product that exists already (409) is fine, and the stock
movements carry fixed ``source_system``/``source_sequence`` pairs, which the
stock service treats as duplicates on a second run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from stdnum import ean

SOURCE_SYSTEM = "demo"
GS1_COMPANY_PREFIX = "4012345"
"""An example GS1 company prefix (used in GS1's own documentation)."""


def gs1_number(body: str) -> str:
    """Append the GS1 mod-10 check digit to ``body`` (12 digits -> GTIN-13 / GLN)."""
    return body + ean.calc_check_digit(body)


# Two locations: a warehouse and a store (GLN = company prefix + location reference + check digit).
LOCATIONS: dict[str, str] = {
    "central warehouse": gs1_number(f"{GS1_COMPANY_PREFIX}00001"),
    "berlin store": gs1_number(f"{GS1_COMPANY_PREFIX}00002"),
}


@dataclass(frozen=True, slots=True)
class DemoProduct:
    sku: str
    title: str
    family: str
    item_reference: str
    receipts: tuple[int, int]
    """Quantity received at each of the two locations."""

    @property
    def gtin(self) -> str:
        return gs1_number(f"{GS1_COMPANY_PREFIX}{self.item_reference}")


PRODUCTS: tuple[DemoProduct, ...] = (
    DemoProduct("DEMO-TSHIRT-RED-M", "T-shirt, red, M", "apparel", "10001", (24, 6)),
    DemoProduct("DEMO-TSHIRT-RED-L", "T-shirt, red, L", "apparel", "10002", (12, 4)),
    DemoProduct("DEMO-MUG-WHITE", "Mug, white, 300 ml", "kitchen", "20001", (48, 12)),
    DemoProduct("DEMO-KETTLE-1L", "Electric kettle, 1 l", "kitchen", "20002", (10, 2)),
    DemoProduct("DEMO-LAMP-DESK", "Desk lamp, LED", "lighting", "30001", (8, 3)),
)


@dataclass(slots=True)
class DemoResult:
    products_created: int = 0
    products_existing: int = 0
    movements_accepted: int = 0
    problems: list[str] = field(default_factory=list)
    positions: dict[str, Decimal] = field(default_factory=dict)


def product_body(product: DemoProduct) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "gtin": product.gtin,
        "status": "enabled",
        "title": {"en_US": product.title},
        "unit": "EA",
        "family": product.family,
    }


def movement_bodies(occurred_at: datetime | None = None) -> list[dict[str, Any]]:
    """One receipt per product and location, with stable source sequence numbers."""
    base = occurred_at or datetime.now(UTC)
    movements: list[dict[str, Any]] = []
    sequence = 0
    for product in PRODUCTS:
        for location, quantity in zip(LOCATIONS.values(), product.receipts, strict=True):
            sequence += 1
            movements.append(
                {
                    "sku": product.sku,
                    "kind": "receipt",
                    "location": location,
                    "quantity": str(quantity),
                    "unit": "EA",
                    "source_system": SOURCE_SYSTEM,
                    "source_sequence": sequence,
                    "occurred_at": (base + timedelta(milliseconds=sequence)).isoformat(),
                }
            )
    return movements


def _expected_atp() -> dict[str, Decimal]:
    return {p.sku: Decimal(sum(p.receipts)) for p in PRODUCTS}


def run_demo(
    *,
    catalog_url: str | None,
    stock_url: str | None,
    console: Console | None = None,
    settle_timeout: float = 20.0,
) -> DemoResult:
    """Feed the demo data; ``None`` for a URL skips that service."""
    console = console or Console(stderr=True)
    result = DemoResult()
    with (
        httpx.Client(timeout=10.0) as client,
        Progress(console=console, transient=True) as progress,
    ):
        if catalog_url:
            _create_products(client, catalog_url.rstrip("/"), progress, result)
        else:
            result.problems.append("catalog skipped (no URL)")
        if stock_url:
            _post_movements(client, stock_url.rstrip("/"), progress, result)
            if result.movements_accepted:
                _wait_for_positions(client, stock_url.rstrip("/"), progress, result, settle_timeout)
        else:
            result.problems.append("stock skipped (no URL)")
    _report(console, result)
    return result


def _create_products(
    client: httpx.Client, base: str, progress: Progress, result: DemoResult
) -> None:
    task = progress.add_task("Creating products in the catalog", total=len(PRODUCTS))
    for product in PRODUCTS:
        try:
            response = client.post(f"{base}/v1/products", json=product_body(product))
        except httpx.HTTPError as exc:
            result.problems.append(f"catalog unreachable at {base}: {exc}")
            return
        if response.status_code in (200, 201, 202):
            result.products_created += 1
        elif response.status_code == 409:
            result.products_existing += 1
        else:
            result.problems.append(
                f"catalog rejected {product.sku}: HTTP {response.status_code} {response.text[:300]}"
            )
        progress.advance(task)


def _post_movements(
    client: httpx.Client, base: str, progress: Progress, result: DemoResult
) -> None:
    movements = movement_bodies()
    task = progress.add_task("Posting stock receipts", total=len(movements))
    try:
        response = client.post(f"{base}/v1/movements", json={"movements": movements})
    except httpx.HTTPError as exc:
        result.problems.append(f"stock unreachable at {base}: {exc}")
        return
    if response.status_code == 202:
        result.movements_accepted = int(response.json().get("accepted", len(movements)))
    else:
        result.problems.append(
            f"stock rejected the movements: HTTP {response.status_code} {response.text[:500]}"
        )
    progress.update(task, completed=len(movements))


def _wait_for_positions(
    client: httpx.Client, base: str, progress: Progress, result: DemoResult, timeout: float
) -> None:
    """Poll the stock positions until each demo SKU has at least the demo's receipts."""
    expected = _expected_atp()
    task = progress.add_task("Waiting for the stock ledger", total=len(expected))
    deadline = time.monotonic() + timeout
    pending = dict(expected)
    while pending:
        for sku in list(pending):
            try:
                response = client.get(f"{base}/v1/positions/{sku}")
            except httpx.HTTPError:
                continue
            if response.status_code != 200:
                continue
            atp = Decimal(str(response.json().get("available_to_promise", "0")))
            result.positions[sku] = atp
            if atp >= pending[sku]:
                del pending[sku]
                progress.advance(task)
        if not pending:
            return
        if time.monotonic() > deadline:
            result.problems.append(
                f"stock positions not yet visible after {timeout:.0f}s for: {', '.join(pending)}"
            )
            return
        # Poll interval of a condition wait that has a deadline.
        threading.Event().wait(0.2)


def _report(console: Console, result: DemoResult) -> None:
    table = Table(title="demo feed")
    table.add_column("sku")
    table.add_column("gtin")
    table.add_column("available to promise", justify="right")
    for product in PRODUCTS:
        atp = result.positions.get(product.sku)
        shown = "-" if atp is None else format(atp.normalize(), "f")
        table.add_row(product.sku, product.gtin, shown)
    console.print(table)
    console.print(
        f"products: {result.products_created} created, {result.products_existing} existed; "
        f"movements accepted: {result.movements_accepted}; locations: "
        + ", ".join(f"{name} {gln}" for name, gln in LOCATIONS.items())
    )
    for problem in result.problems:
        console.print(f"[yellow]![/] {problem}")
