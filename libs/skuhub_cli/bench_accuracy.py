"""Accuracy checks of ``skuhub bench``: the stock ledger against the generator's oracle,
and the gateway's projection against the stock ledger."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from skuhub_cli.bench_probes import atp, record_count
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession
from skuhub_cli.launcher import Wiring
from skuhub_contracts.topics import dead_letter
from skuhub_traffic.model import Delivery, StockFacts
from skuhub_traffic.oracle import Oracle, where

SHOWN_MISMATCHES = 5

PositionKey = tuple[str, str, str]


COMPARED = (
    "on_hand",
    "reserved",
    "in_transit",
    "quality_hold",
    "expired",
    "incoming",
    "received",
    "shipped",
    "returned",
    "scrapped",
    "lost_sales",
)
"""The buckets and counters of docs/stock.md the positions table stores (location ATP is
derived; the stateful integration test compares it)."""


def ledger_buckets(row: Mapping[str, Any]) -> dict[str, Decimal]:
    """What a row of the stock service's positions holds, by the names of docs/stock.md
    (columns a schema does not have yet are left out)."""
    out = {name: Decimal(row[name]) for name in COMPARED if name in row and name != "expired"}
    if "expired" in row:
        out["expired"] = max(Decimal(row["on_hand"]), Decimal(0)) if row["expired"] else Decimal(0)
    return out


async def stock_accuracy(
    session: BenchSession,
    run: str,
    wiring: Wiring,
    deliveries: list[Delivery],
    facts: Mapping[str, StockFacts] | None = None,
) -> None:
    """The ledger's positions against ``Oracle.from_deliveries`` of exactly the records
    sent (every bucket and counter the positions table stores); the journal and the dead
    letters against the oracle's counts. ``facts``: what the stock service knows of the
    SKUs (none while it does not consume product-changed)."""
    oracle = Oracle.from_deliveries(deliveries, catalog=facts, now=datetime.now(UTC))
    schema = f"{wiring.schema_prefix}stock"
    rows = await session.db.stock_positions(schema)
    actual: dict[PositionKey, dict[str, Decimal]] = {
        (r["sku"], r["location"], r["lot"] or ""): ledger_buckets(r) for r in rows
    }
    problems = oracle.compare(actual)
    wrong = {problem.split(":")[0] for problem in problems}
    matching = sum(1 for key in oracle.positions if key in actual and where(key) not in wrong)
    extra = len(set(actual) - set(oracle.positions))
    expected = len(oracle.positions)
    share = 100.0 * matching / expected if expected else math.nan
    journal = await session.db.stock_journal(schema)
    dead_letters = await record_count(
        session.bootstrap, wiring.settings().topic(dead_letter("stock").name)
    )
    malformed = oracle.expected_counts.get("malformed", 0)
    session.report.add(
        Row(
            f"accuracy ({run})",
            "stock ledger = oracle",
            share,
            "%",
            note=f"{matching:,}/{expected:,} positions"
            + (f"; {extra} unexpected" if extra else "")
            + (f"; first: {problems[0]}" if problems else ""),
        ),
        Row(
            f"accuracy ({run})",
            "movements journaled = oracle",
            "yes" if journal["applied"] == oracle.applied else "NO",
            note=f"{journal['applied']:,} journaled, oracle {oracle.applied:,}; "
            f"dead letters {dead_letters} for {malformed} malformed",
        ),
    )
    session.report.details[f"accuracy_stock_{run}"] = {
        "expected_positions": expected,
        "matching": matching,
        "unexpected": extra,
        "share_percent": share,
        "problems": len(problems),
        "first_problems": problems[:SHOWN_MISMATCHES],
        "journaled": journal,
        "oracle_applied": oracle.applied,
        "oracle_refused": oracle.refused,
        "oracle_parked": oracle.parked,
        "delivered_by_kind": oracle.expected_counts,
        "dead_letters": dead_letters,
    }


async def gateway_accuracy(session: BenchSession, run: str, wiring: Wiring) -> None:
    """Share of the ledger's positions whose projection in sync_gateway has the same
    version and available to promise."""
    ledger = await session.db.stock_positions(f"{wiring.schema_prefix}stock")
    projection = {
        (r["sku"], r["location"], r["lot"] or ""): r
        for r in await session.db.gateway_positions(f"{wiring.schema_prefix}sync_gateway")
    }
    matching = 0
    mismatches: list[str] = []
    for row in ledger:
        key = (row["sku"], row["location"], row["lot"] or "")
        seen = projection.get(key)
        buckets = ledger_buckets(row)
        want_atp = atp(
            buckets["on_hand"],
            buckets["reserved"],
            buckets.get("quality_hold", Decimal(0)),
            buckets.get("expired", Decimal(0)),
        )
        if (
            seen is not None
            and int(seen["version"]) == int(row["version"])
            and Decimal(seen["available_to_promise"]) == want_atp
        ):
            matching += 1
        elif len(mismatches) < SHOWN_MISMATCHES:
            got = f"v{seen['version']} atp {seen['available_to_promise']}" if seen else "missing"
            mismatches.append(
                f"{'/'.join(key)}: ledger v{row['version']} atp {want_atp}, projection {got}"
            )
    share = 100.0 * matching / len(ledger) if ledger else math.nan
    session.report.add(
        Row(
            f"accuracy ({run})",
            "gateway projection = stock ledger",
            share,
            "%",
            note=f"{matching:,}/{len(ledger):,} positions at the same version and ATP"
            + (f"; first: {mismatches[0]}" if mismatches else ""),
        )
    )
    session.report.details[f"accuracy_gateway_{run}"] = {
        "positions": len(ledger),
        "matching": matching,
        "share_percent": share,
        "first_mismatches": mismatches,
    }
