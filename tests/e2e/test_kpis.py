"""The sync KPIs on the real stack (docs/kpis.md): the reconciler finds a correct offer
matching the stock service and reports a deliberately corrupted offer and projection row
with their age; the lineage of an offer names the movement behind it; ``skuhub kpi``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from skuhub_contracts.topics import STOCK_MOVED
from tests import api
from tests.e2e.observe import new_sku, offer_where
from tests.harness import Stack, wait_until
from tests.upstream import GLN_A, Upstream, movement, new_trace

pytestmark = pytest.mark.e2e

PASS_S = 30.0
"""A few reconciler passes (1 s apart) on the test stack, with room for a slow machine."""


def sql(
    stack: Stack, statement: str, service: str = "sync_gateway", **params: Any
) -> list[dict[str, Any]]:
    """Run one statement in a service's schema, as an operator (or a bug) would."""

    async def run() -> list[dict[str, Any]]:
        engine = create_async_engine(stack.infra.database_url)
        try:
            async with engine.begin() as conn:
                schema = f"{stack.wiring.schema_prefix}{service}"
                await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
                result = await conn.execute(text(statement), params)
                return [dict(r) for r in result.mappings()] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def create_product(stack: Stack, sku: str) -> None:
    body = {"sku": sku, "status": "enabled", "title": {"en_US": sku}, "unit": "EA"}
    created = api.post(f"{stack.url('catalog')}/v1/products", json=body)
    assert created.status_code == 201, created.text


def gateway(stack: Stack, path: str, service: str = "sync_gateway", **params: Any) -> Any:
    response = api.get(f"{stack.url(service)}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def offer_check(stack: Stack, sku: str) -> dict[str, Any] | None:
    rows = sql(stack, "SELECT * FROM offer_checks WHERE channel = 'web' AND sku = :sku", sku=sku)
    return rows[0] if rows else None


def mismatch_of(stack: Stack, sku: str) -> dict[str, Any] | None:
    found = gateway(stack, "/v1/kpis/mismatches", channel="web", limit=1000)
    return next((m for m in found if m["sku"] == sku), None)


def stocked_offer(stack: Stack, upstream: Upstream, quantity: str) -> tuple[str, str, str]:
    """A product with ``quantity`` received at GLN_A, once the web offer shows it and its
    lifecycle stage (every fact arrived): the SKU, the movement's event id and its trace id."""
    sku = new_sku("KPI")
    create_product(stack, sku)
    traceparent, trace_id = new_trace()
    sent = upstream.publish_movement(
        stack.topic(STOCK_MOVED.name), movement(sku, quantity=quantity), traceparent=traceparent
    )
    offer_where(
        stack,
        sku,
        lambda o: Decimal(o["available"]) == Decimal(quantity) and o["stage"] is not None,
        f"{quantity} available, and the product's stage, in the offer",
    )
    return sku, sent.id, trace_id


def test_a_correct_offer_matches_and_a_corrupted_one_is_reported_with_its_age(
    stack: Stack, upstream: Upstream
) -> None:
    sku, _, _ = stocked_offer(stack, upstream, "12")

    # A pass that ran before the movement reached the offer also says "match" (0 and 0):
    # wait for one that saw the offer as it is now.
    matched = wait_until(
        lambda: (c := offer_check(stack, sku)) and c["offer_available"] == 12 and c,
        timeout=PASS_S,
        what="the reconciler to check the offer with 12 available",
    )
    assert (matched["verdict"], matched["expected_available"]) == ("match", 12)
    [position] = sql(stack, "SELECT * FROM position_checks WHERE sku = :sku", sku=sku)
    assert (position["verdict"], position["local_version"], position["stock_version"]) == (
        "match",
        1,
        1,
    )
    kpis = gateway(stack, "/v1/kpis")
    assert kpis["accuracy"]["offers"]["mismatches"] == 0, gateway(stack, "/v1/kpis/mismatches")
    assert Decimal(kpis["accuracy"]["offers"]["accuracy"]) == 1
    assert kpis["accuracy"]["positions"]["mismatches"] == 0
    assert kpis["accuracy"]["last_sweep"] is not None

    # A bug (or a hand) changes what the channel is told, and a projected figure, without
    # a new version: nothing downstream would ever notice but the reconciler.
    sql(
        stack,
        "UPDATE offers SET offer = jsonb_set(offer, '{available}', '\"7\"') "
        "WHERE channel = 'web' AND sku = :sku",
        sku=sku,
    )
    sql(stack, "UPDATE positions SET available_to_promise = 99 WHERE sku = :sku", sku=sku)
    try:
        first = wait_until(
            lambda: mismatch_of(stack, sku), timeout=PASS_S, what="the offer's mismatch"
        )
        assert Decimal(first["offer_available"]) == 7
        assert Decimal(first["expected_available"]) == 12
        assert (
            first["gateway_versions"]
            == first["stock_versions"]
            == [{"location": GLN_A, "lot": None, "version": 1}]
        )
        assert first["reason"] == (
            f"offer version {first['offer_version']} promises 7; stock's location ATP at the "
            "same position versions allocates 12"
        )
        # Aged from its first sighting: a later pass keeps first_seen and the age grows.
        later = wait_until(
            lambda: (m := mismatch_of(stack, sku)) and m["checked_at"] > first["checked_at"] and m,
            timeout=PASS_S,
            what="another pass over the mismatch",
        )
        assert later["first_seen"] == first["first_seen"]
        assert later["age_s"] > first["age_s"]

        [wrong_position] = [
            m for m in gateway(stack, "/v1/accuracy/mismatches", limit=1000) if m["sku"] == sku
        ]
        assert wrong_position["location"] == GLN_A
        assert Decimal(wrong_position["local"]["available_to_promise"]) == 99
        assert Decimal(wrong_position["stock"]["available_to_promise"]) == 12
        assert wrong_position["local_version"] == wrong_position["stock_version"] == 1

        kpis = gateway(stack, "/v1/kpis")
        offers = kpis["accuracy"]["offers"]
        assert offers["mismatches"] >= 1
        assert Decimal(offers["accuracy"]) < 1
        assert offers["oldest_mismatch_age_s"] >= later["age_s"] - 1
        [web] = [c for c in kpis["accuracy"]["channels"] if c["channel"] == "web"]
        assert web["mismatches"] >= 1
        assert kpis["accuracy"]["positions"]["mismatches"] >= 1

        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "skuhub_cli.main",
                "kpi",
                "--gateway",
                stack.url("sync_gateway"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200", "SKUHUB_TOKEN": api.SESSION_TOKEN.value},
        )
        assert shown.returncode == 0, shown.stderr
        assert "Data latency" in shown.stdout
        assert "Data accuracy" in shown.stdout
        assert sku in shown.stdout, shown.stdout
    finally:
        sql(
            stack,
            "UPDATE offers SET offer = jsonb_set(offer, '{available}', '\"12\"') "
            "WHERE channel = 'web' AND sku = :sku",
            sku=sku,
        )
        sql(stack, "UPDATE positions SET available_to_promise = 12 WHERE sku = :sku", sku=sku)

    wait_until(
        lambda: (c := offer_check(stack, sku)) and c["verdict"] == "match",
        timeout=PASS_S,
        what="the mended offer to match again",
    )


def test_the_lineage_of_an_offer_names_the_movement_and_versions_behind_its_number(
    stack: Stack, upstream: Upstream
) -> None:
    sku, event_id, trace_id = stocked_offer(stack, upstream, "3")

    lineage = gateway(stack, f"/v1/channels/web/offers/{sku}/lineage")

    offer = gateway(stack, f"/v1/channels/web/offers/{sku}")
    assert lineage["offer_version"] == offer["offer_version"]
    assert Decimal(lineage["available"]) == 3
    # The last of the product, stage and stock facts to arrive made this version.
    assert lineage["cause"] in ("product", "lifecycle", "stock")
    assert lineage["latency_s"] >= 0
    assert lineage["stage"]["stage"] == offer["stage"]
    [position] = lineage["positions"]
    assert (position["location"], position["lot"], position["version"]) == (GLN_A, None, 1)
    assert position["caused_by"] == event_id
    assert position["trace_id"] == trace_id
    assert lineage["location_atp"] == [{"location": GLN_A, "available_to_promise": "3"}]
    assert Decimal(lineage["allocated"]) == 3
    assert lineage["channel_config"]["allocation_rule"] == "share"
    assert lineage["product"]["version"] >= 1
    assert lineage["explanation"].startswith("3 available = the channel's allocation 3 (share)")
    kpis = gateway(stack, "/v1/kpis")
    stock_latency = [
        row
        for row in kpis["latency"]["by_channel_and_cause"]
        if (row["channel"], row["cause"]) == ("web", "stock")
    ]
    [web_stock] = stock_latency
    assert web_stock["count"] >= 1
    assert 0 <= web_stock["p50_s"] <= web_stock["p90_s"] <= web_stock["p99_s"] <= web_stock["max_s"]


def test_kpis_refuse_an_unknown_channel_and_lineage_an_unknown_offer(stack: Stack) -> None:
    base = stack.url("sync_gateway")

    unknown_channel = api.get(f"{base}/v1/kpis/mismatches", params={"channel": "nowhere"})
    no_offer = api.get(f"{base}/v1/channels/web/offers/{new_sku('NONE')}/lineage")
    bad_window = api.get(f"{base}/v1/kpis", params={"window_s": "0"})

    assert unknown_channel.status_code == 404
    assert "GET /v1/channels" in unknown_channel.json()["detail"]
    assert no_offer.status_code == 404
    assert bad_window.status_code == 422


PROJECTIONS = [
    # service, its projection of stock positions, a figure to corrupt
    ("catalog", "stock_positions", "on_hand"),
    ("lifecycle", "positions", "reserved"),
]


@pytest.mark.parametrize(("service", "table", "figure"), PROJECTIONS)
def test_catalog_and_lifecycle_reconcile_their_stock_projections_too(
    stack: Stack, upstream: Upstream, service: str, table: str, figure: str
) -> None:
    sku, _, _ = stocked_offer(stack, upstream, "5")

    def check() -> dict[str, Any] | None:
        rows = sql(stack, "SELECT * FROM position_checks WHERE sku = :sku", service, sku=sku)
        return rows[0] if rows else None

    matched = wait_until(
        lambda: (c := check()) and c["verdict"] == "match" and c,
        timeout=PASS_S,
        what=f"{service}'s reconciler to find the position matching stock",
    )
    assert matched["local_version"] == matched["stock_version"] == 1
    accuracy = gateway(stack, "/v1/accuracy", service)
    assert accuracy["positions"]["matches"] >= 1
    assert accuracy["last_sweep"] is not None

    original = sql(stack, f"SELECT {figure} FROM {table} WHERE sku = :sku", service, sku=sku)
    sql(stack, f"UPDATE {table} SET {figure} = {figure} + 40 WHERE sku = :sku", service, sku=sku)
    try:
        found = wait_until(
            lambda: next(
                (
                    m
                    for m in gateway(stack, "/v1/accuracy/mismatches", service, limit=1000)
                    if m["sku"] == sku
                ),
                None,
            ),
            timeout=PASS_S,
            what=f"{service}'s mismatch",
        )
        assert Decimal(found["local"][figure]) == Decimal(found["stock"][figure]) + 40
        assert found["local_version"] == found["stock_version"] == 1
        assert found["age_s"] >= 0
        assert gateway(stack, "/v1/accuracy", service)["positions"]["mismatches"] >= 1
    finally:
        sql(
            stack,
            f"UPDATE {table} SET {figure} = :value WHERE sku = :sku",
            service,
            sku=sku,
            value=original[0][figure],
        )
    wait_until(
        lambda: (c := check()) and c["verdict"] == "match",
        timeout=PASS_S,
        what=f"{service}'s mended position to match again",
    )
