"""The demo feed: a small generated world pushed through skuhub the way upstream systems do.

Products go through the catalog's HTTP API; stock movements (with a few
duplicates, late and malformed records, like real feeds) go to the
stock-moved topic through a real Kafka client. The same traffic generator
feeds the tests and the benchmarks, and its oracle tells what the ledger
must show afterwards. Safe to run again: products that exist answer 409 and
re-sent movements carry the same event ids and source sequences, which the
stock service ignores as duplicates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from skuhub_contracts.topics import STOCK_MOVED
from skuhub_runtime.access_tokens import bearer
from skuhub_traffic import (
    Catalog,
    Oracle,
    TrafficConfig,
    build_catalog,
    generate_deliveries,
    publish,
)

DEMO_TRAFFIC = TrafficConfig(
    seed=7,
    product_models=6,
    max_variants=3,
    kits=1,
    locations=3,
    days=7,
    movements=400,
    source_system="demo",
)


@dataclass
class DemoResult:
    products_created: int = 0
    products_existing: int = 0
    records_published: int = 0
    ledger_matches_oracle: bool = False
    available: dict[str, Decimal] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def run_demo(
    *,
    catalog_url: str,
    stock_url: str,
    gateway_url: str | None,
    kafka_bootstrap: str,
    lifecycle_url: str | None = None,
    topic_prefix: str = "",
    token: str | None = None,
    console: Console | None = None,
    settle_timeout: float = 30.0,
) -> DemoResult:
    """Create the demo catalog, publish the demo movements, wait until the ledger agrees."""
    console = console or Console(stderr=True)
    catalog = build_catalog(DEMO_TRAFFIC)
    deliveries = generate_deliveries(DEMO_TRAFFIC, catalog)
    oracle = Oracle.from_deliveries(deliveries)
    result = DemoResult()
    with (
        httpx.Client(timeout=10.0, headers=bearer(token)) as client,
        Progress(console=console, transient=True) as progress,
    ):
        _create_products(client, catalog_url.rstrip("/"), catalog, progress, result)
        task = progress.add_task("Publishing stock movements to Kafka", total=len(deliveries))
        stats = publish(
            deliveries,
            bootstrap=kafka_bootstrap,
            topic=f"{topic_prefix}{STOCK_MOVED.name}",
            on_progress=lambda sent: progress.update(task, completed=sent),
        )
        result.records_published = stats.records
        if lifecycle_url:
            task = progress.add_task("Launching products (lifecycle)", total=len(catalog.products))
            for product in catalog.products:
                problem = launch_product(client, lifecycle_url.rstrip("/"), product.sku)
                if problem:
                    result.problems.append(problem)
                progress.advance(task)
        task = progress.add_task(
            "Waiting for the stock ledger to match", total=len(oracle.positions)
        )
        result.ledger_matches_oracle = _wait_for_ledger(
            client, stock_url.rstrip("/"), oracle, settle_timeout, result,
            lambda done: progress.update(task, completed=done),
        )  # fmt: skip
        if gateway_url:
            result.available = _offers(client, gateway_url.rstrip("/"), catalog)
    _report(console, catalog, oracle, result)
    return result


def _create_products(
    client: httpx.Client, base: str, catalog: Catalog, progress: Progress, result: DemoResult
) -> None:
    task = progress.add_task(
        "Creating product models in the catalog", total=len(catalog.product_models)
    )
    for model in catalog.product_models:
        response = client.post(f"{base}/v1/product-models", json=model.to_http())
        if response.status_code not in (201, 409):
            result.problems.append(
                f"catalog rejected product model {model.code}: HTTP {response.status_code} "
                f"{response.text[:300]}"
            )
        progress.advance(task)
    task = progress.add_task(
        "Creating and publishing products in the catalog", total=len(catalog.products)
    )
    for product in catalog.products:
        response = client.post(f"{base}/v1/products", json=product.to_http())
        if response.status_code == 201:
            result.products_created += 1
            _publish(client, base, product.sku, result)
        elif response.status_code == 409:
            result.products_existing += 1
        else:
            result.problems.append(
                f"catalog rejected {product.sku}: HTTP {response.status_code} {response.text[:300]}"
            )
        progress.advance(task)


def _publish(client: httpx.Client, base: str, sku: str, result: DemoResult) -> None:
    """Take a new product through review to the channels (the demo reviews its own)."""
    for action in ("submit", "approve", "publish"):
        response = client.post(
            f"{base}/v1/product-workflow/{sku}",
            json={"action": action},
        )
        if response.status_code != 200:
            result.problems.append(
                f"catalog refused to {action} {sku}: HTTP {response.status_code} "
                f"{response.text[:300]}"
            )
            return


LAUNCH_STEPS: tuple[dict[str, object], ...] = (
    {"stage": "development"},
    {"stage": "pre-launch", "pre_order": True},
    {"stage": "active"},
)
"""Concept to active; pre-order lets the active gate pass before stock arrives."""


def launch_product(
    client: httpx.Client, base: str, sku: str, *, timeout: float = 30.0, actor: str = "demo"
) -> str | None:
    """Move a SKU from concept to active through the lifecycle's gates; None when it got
    there, otherwise what stopped it.

    The lifecycle learns of the product's approval from product-changed a moment after the
    catalog approves it, so a step the gate refuses (409) or a SKU not seen yet (404) is
    tried again until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    for step in LAUNCH_STEPS:
        body = {**step, "reason": "demo launch", "actor": actor}
        while True:
            response = client.post(f"{base}/v1/stages/{sku}/transitions", json=body)
            if response.status_code == 200 or "already in stage" in response.text:
                break
            if response.status_code not in (404, 409) or time.monotonic() > deadline:
                return f"lifecycle refused {sku} -> {step['stage']}: {response.text[:300]}"
            time.sleep(0.1)
    return None


Ledger = dict[tuple[str, str, str], tuple[Decimal, Decimal, Decimal]]


def _ledger(client: httpx.Client, base: str, sku: str) -> Ledger:
    response = client.get(f"{base}/v1/positions/{sku}")
    response.raise_for_status()
    return {
        (sku, p["location"], p["lot"] or ""): (
            Decimal(p["on_hand"]), Decimal(p["reserved"]), Decimal(p["in_transit"])
        )
        for p in response.json()["positions"]
    }  # fmt: skip


def _wait_for_ledger(
    client: httpx.Client,
    base: str,
    oracle: Oracle,
    timeout: float,
    result: DemoResult,
    on_progress: Callable[[int], None],
) -> bool:
    """Poll the stock positions until they equal the oracle's, or the deadline passes."""
    skus = sorted({key[0] for key in oracle.positions})
    deadline = time.monotonic() + timeout
    while True:
        actual: Ledger = {}
        for sku in skus:
            actual.update(_ledger(client, base, sku))
        mismatches = oracle.compare(actual)
        on_progress(max(len(oracle.positions) - len(mismatches), 0))
        if not mismatches:
            return True
        if time.monotonic() > deadline:
            result.problems.append(
                f"after {timeout:.0f}s the ledger still differs from the oracle: "
                + "; ".join(mismatches[:3])
            )
            return False
        threading.Event().wait(0.2)  # the poll interval of a condition wait with a deadline


def _offers(client: httpx.Client, base: str, catalog: Catalog) -> dict[str, Decimal]:
    available = {}
    for sku in catalog.skus:
        response = client.get(f"{base}/v1/channels/web/offers/{sku}")
        if response.status_code == 200:
            available[sku] = Decimal(response.json()["available"])
    return available


def _report(console: Console, catalog: Catalog, oracle: Oracle, result: DemoResult) -> None:
    expected = {
        sku: oracle.network_available_to_promise(sku)
        for sku in {p.sku for p in oracle.positions.values()}
    }
    table = Table(title="demo feed")
    for column in ("sku", "title (en_US)", "gtin", "expected ATP", "web offer"):
        table.add_column(
            column, justify="right" if "ATP" in column or "offer" in column else "left"
        )
    for product in catalog.products:
        shown = result.available.get(product.sku)
        table.add_row(
            product.sku,
            product.title.get("en_US", ""),
            product.gtin,
            format(expected.get(product.sku, Decimal(0)).normalize(), "f"),
            "-" if shown is None else format(shown.normalize(), "f"),
        )
    console.print(table)
    counts = oracle.expected_counts
    console.print(
        f"products: {result.products_created} created, {result.products_existing} existed; "
        f"records published: {result.records_published} ({counts.get('valid', 0)} valid, "
        f"{counts.get('duplicate', 0)} duplicates, {counts.get('malformed', 0)} malformed → "
        f"stock.dead-letter.v1); ledger matches the generator's oracle: "
        f"{'yes' if result.ledger_matches_oracle else 'NO'}"
    )
    for problem in result.problems:
        console.print(f"[yellow]![/] {problem}")
