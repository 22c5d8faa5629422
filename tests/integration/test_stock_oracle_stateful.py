"""The stock ledger (its public use case on the real PostgreSQL) against the oracle.

A hypothesis state machine writes histories of stock-moved facts for three SKUs at
three locations — receipts with lots and dates, lot-less outbound (FEFO), reservations
and transfers tied by reference in either order, cycle counts earlier and later than
other movements, quality holds, purchase-order lines, lost sales, pack and gram
units — while a processing clock moves on, so lots expire during the history. Each
step goes to both sides: to ``record_movements`` with ``SqlLedgerRepository`` (after
the expiry scheduler's ``expire_lots``, as the service runs it), and as the wire
record to :class:`skuhub_traffic.oracle.StockModel`, written from docs/stock.md alone.
After every step every bucket of every position must agree. A second test sends a
generated ``profile="hard"`` stream in batches of 50 (duplicates included) and compares
the end state.

Disagreements found so far are the ledger's (docs/stock.md decides), each with its
smallest history in tests/unit/test_stock_sheet_findings.py; these tests fail until they
are fixed. To explore past a known one: ``ORACLE_SKIP=anomalies,expires_on`` (fields left
out), ``ORACLE_COLLECT=/tmp/f.txt`` (write each example's first disagreement and go on),
``ORACLE_RANDOM=1`` (new examples), ``ORACLE_EXAMPLES=400``, ``ORACLE_SHRINK=1``,
``ORACLE_BATCH=1`` (the hard stream one record per transaction).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from skuhub_contracts.codec import Envelope, decode, encode
from skuhub_contracts.events import MovementKind, StockMoved
from skuhub_runtime import migrations
from skuhub_runtime.db import create_engine
from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository
from skuhub_stock.domain.ledger import SkuFacts
from skuhub_stock.entrypoints.app import MIGRATIONS as STOCK_MIGRATIONS
from skuhub_stock.entrypoints.events import to_reported
from skuhub_stock.service_layer.ports import Scope
from skuhub_stock.service_layer.record_movements import expire_lots, record_movements
from skuhub_stock.settings import StockSettings
from skuhub_traffic import Oracle, TrafficConfig, build_catalog, generate_deliveries, stock_facts
from skuhub_traffic.model import Delivery, HardCases, StockFacts
from skuhub_traffic.oracle import StockModel
from tests.harness import Infrastructure

pytestmark = pytest.mark.integration

GLNS = ("0614141000012", "4012345000009", "4012345000023")
T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
FACTS = {
    "ORC-LOT": StockFacts("EA", {"CS": Decimal(12)}, lot_tracked=True, shelf_life_days=4),
    "ORC-EA": StockFacts("EA", {"CS": Decimal(6)}),
    "ORC-KG": StockFacts("KGM"),
}
LOTS = {
    # lot -> the date every well-behaved inbound gives (None: inbound omits the date)
    "ORC-LOT": {"A1": date(2025, 3, 4), "A2": date(2025, 3, 6), "A3": None},
    "ORC-EA": {"B1": date(2025, 3, 5), "B2": None},
    "ORC-KG": {},
}
SKUS = tuple(FACTS)
HAS_PINT = importlib.util.find_spec("pint") is not None
"""The ledger converts physical units with pint, which skuhub does not install (yet): without
it a movement in grams crashes the use case (tests/unit/test_stock_sheet_findings.py)."""
SKIPPED = frozenset(os.environ.get("ORACLE_SKIP", "").split(",")) - {""}
"""Fields left out of the comparison (exploring past a known disagreement)."""
COLLECT = os.environ.get("ORACLE_COLLECT")
"""A file: write every example's first disagreement there and go on (exploring)."""
SHRINK = os.environ.get("ORACLE_SHRINK") is not None
"""Shrink a failing history (minutes against the database; the report shows it anyway)."""
QUANTITY_BUCKETS = (
    "on_hand",
    "reserved",
    "in_transit",
    "quality_hold",
    "expired",
    "incoming",
    "available_to_promise",
    "location_available_to_promise",
    "received",
    "shipped",
    "returned",
    "scrapped",
    "lost_sales",
)


def _facts(facts: StockFacts) -> SkuFacts:
    return SkuFacts(
        unit=facts.unit,
        packs=dict(facts.packs),
        lot_tracked=facts.lot_tracked,
        shelf_life_days=facts.shelf_life_days,
    )


class Sides:
    """The real use case on one migrated schema, driven from synchronous rules."""

    def __init__(self, runner: asyncio.Runner, engine: AsyncEngine, schema: str) -> None:
        self.runner = runner
        self.engine = engine
        self.schema = schema

    def reset(self) -> None:
        async def truncate() -> None:
            async with self.engine.begin() as conn:
                rows = await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                    {"s": self.schema},
                )
                tables = [r[0] for r in rows if "version" not in r[0]]
                names = ", ".join(f'"{self.schema}"."{t}"' for t in tables)
                await conn.execute(text(f"TRUNCATE {names}"))
                repo = SqlLedgerRepository(conn)
                for sku, facts in FACTS.items():
                    await repo.save_facts(sku, _facts(facts), 1)

        self.runner.run(truncate())

    def apply(self, reported: Any, now: datetime) -> dict[str, str]:
        return self.apply_batch([reported], now)

    def apply_batch(self, batch: list[Any], now: datetime) -> dict[str, str]:
        """One batch through the use case, after the expiry scheduler, in one transaction."""

        async def go() -> dict[str, str]:
            async with self.engine.begin() as conn:
                repo = SqlLedgerRepository(conn)
                await expire_lots(repo, now, 1_000, "scheduler")
                recorded = await record_movements(repo, batch, now)
                return recorded.rejected

        return self.runner.run(go())

    def expire(self, now: datetime) -> None:
        async def go() -> None:
            async with self.engine.begin() as conn:
                await expire_lots(SqlLedgerRepository(conn), now, 1_000, "scheduler")

        self.runner.run(go())

    def positions(
        self, now: datetime, skus: Sequence[str] = SKUS
    ) -> dict[tuple[str, str, str], dict[str, Any]]:
        async def go() -> dict[tuple[str, str, str], dict[str, Any]]:
            out: dict[tuple[str, str, str], dict[str, Any]] = {}
            async with self.engine.begin() as conn:
                repo = SqlLedgerRepository(conn)
                for sku in skus:
                    found = await repo.positions_of(sku)
                    places = frozenset((p.sku, p.location) for p in found)
                    state = await repo.load(Scope(places=places), lock=False)
                    ledger = state.ledger(now)
                    for p in found:
                        out[(p.sku, p.location, p.lot or "")] = {
                            "on_hand": p.on_hand,
                            "reserved": p.reserved,
                            "in_transit": p.in_transit,
                            "quality_hold": p.quality_hold,
                            "expired": p.expired_quantity,
                            "incoming": p.incoming,
                            "available_to_promise": p.available_to_promise,
                            "location_available_to_promise": (
                                ledger.location_available_to_promise((p.sku, p.location))
                            ),
                            "received": p.received,
                            "shipped": p.shipped,
                            "returned": p.returned,
                            "scrapped": p.scrapped,
                            "lost_sales": p.lost_sales,
                            "counted_at": p.counted_at,
                            "expires_on": p.expires_on,
                            "anomalies": sorted(str(getattr(a, "value", a)) for a in p.anomalies),
                        }
            return out

        return self.runner.run(go())


def _expected(model: StockModel, now: datetime) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, p in model.expected(now).items():
        row: dict[str, Any] = {name: getattr(p, name) for name in QUANTITY_BUCKETS}
        row.update(counted_at=p.counted_at, expires_on=p.expires_on, anomalies=sorted(p.anomalies))
        out[key] = row
    return out


def _differences(
    want: dict[tuple[str, str, str], dict[str, Any]],
    got: dict[tuple[str, str, str], dict[str, Any]],
) -> list[str]:
    problems: list[str] = []
    for key in sorted(set(want) | set(got)):
        w, g = want.get(key), got.get(key)
        if w is None or g is None:
            present = w if w is not None else g
            assert present is not None
            if any(present[name] != 0 for name in QUANTITY_BUCKETS):
                side = "oracle only" if g is None else "ledger only"
                problems.append(f"{key}: {side}: {present}")
            continue
        for name, value in w.items():
            if name in SKIPPED:
                continue
            if g[name] != value:
                problems.append(f"{key}: {name} ledger {g[name]!r}, sheet {value!r}")
    return problems


class LedgerVersusSheet(RuleBasedStateMachine):
    sides: Sides

    def __init__(self) -> None:
        super().__init__()
        self.sides.reset()
        self.model = StockModel(FACTS)
        self.now = T0
        self.sequence = 0
        self.history: list[str] = []
        self.reservations_sent: list[tuple[str, str]] = []  # sku, reservation_id
        self.releases_early: list[tuple[str, str]] = []
        self.transfers_sent: list[tuple[str, str, str, str]] = []  # ref, sku, source, dest
        self.transfers_in_early: list[tuple[str, str, str, str]] = []
        self.orders: list[tuple[str, str, str]] = []  # sku, location, order_ref
        self.broken = False

    # -- sending one fact to both sides

    def send(self, data: st.DataObject, kind: MovementKind, sku: str, **fields: Any) -> None:
        hours_back = data.draw(st.sampled_from((0, 0, 1, 3, 12, 30)), label="hours_back")
        occurred = fields.pop("occurred_at", self.now - timedelta(hours=hours_back))
        fields.setdefault("location", GLNS[0])
        fields.setdefault("unit", FACTS[sku].unit)
        self.sequence += 1
        payload = StockMoved(
            sku=sku,
            kind=kind,
            source_system="oracle-sm",
            source_sequence=self.sequence,
            occurred_at=occurred,
            **fields,
        )
        event_id = str(uuid.UUID(int=self.sequence, version=4))
        envelope = Envelope(
            payload=payload, id=event_id, source="urn:oracle", time=occurred, origin_time=occurred
        )
        record = encode(envelope)
        delivery = Delivery(record.key, record.value, tuple(record.headers), "valid", event_id)
        shown = {k: v for k, v in fields.items() if v is not None}
        self.history.append(
            f"now={self.now:%d %H:%M} {kind.value} {sku} {shown} occurred={occurred:%d %H:%M}"
        )
        outcome = self.model.deliver(delivery, self.now)
        rejected = self.sides.apply(to_reported(envelope), self.now)
        if (event_id in rejected) != (outcome == "refused") and COLLECT and not self.broken:
            with open(COLLECT, "a", encoding="utf-8") as out:
                out.write("\n".join(["=== history:", *self.history]))
                out.write(f"\nrefusal differs: ledger {rejected}, oracle {outcome}\n")
            self.broken = True
        assert self.broken or (event_id in rejected) == (outcome == "refused"), (
            f"refusal differs: ledger {rejected}, oracle {outcome}\n" + "\n".join(self.history)
        )

    def lot(self, data: st.DataObject, sku: str, *, lotless: bool = True) -> str | None:
        choices: list[str | None] = list(LOTS[sku])
        if lotless or not choices:
            choices.append(None)
        return data.draw(st.sampled_from(choices), label="lot")

    def quantity(self, data: st.DataObject, sku: str) -> tuple[Decimal, str]:
        if sku == "ORC-KG":
            kilos = [(Decimal("0.5"), "KGM"), (Decimal("1.25"), "KGM")]
            grams = [(Decimal(250), "GRM")] if HAS_PINT else []
            return data.draw(st.sampled_from(kilos + grams), label="quantity")
        if data.draw(st.integers(0, 9), label="pack?") == 0:
            return Decimal(1), "CS"
        return Decimal(data.draw(st.integers(1, 9), label="quantity")), "EA"

    def inbound_date(self, data: st.DataObject, sku: str, lot: str | None) -> date | None:
        if lot is None:
            return None
        canonical = LOTS[sku][lot]
        if canonical is None:
            return None
        roll = data.draw(st.integers(0, 9), label="date")
        if roll == 0:
            return canonical + timedelta(days=1)  # a second date: refused
        if roll == 1 and FACTS[sku].lot_tracked and FACTS[sku].shelf_life_days is not None:
            return None  # the ledger derives one (or keeps the one fixed)
        return canonical

    # -- rules

    @rule(data=st.data())
    def advance_clock(self, data: st.DataObject) -> None:
        self.now += timedelta(hours=data.draw(st.sampled_from((2, 6, 13)), label="advance"))
        self.history.append(f"clock -> {self.now:%d %H:%M}")
        self.sides.expire(self.now)

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def inbound(self, data: st.DataObject, sku: str, loc: str) -> None:
        kind = data.draw(st.sampled_from((MovementKind.RECEIPT, MovementKind.RETURN)))
        lot = self.lot(data, sku, lotless=data.draw(st.integers(0, 9), label="no lot?") == 0)
        q, unit = self.quantity(data, sku)
        order_ref = None
        mine = [o for o in self.orders if o[:2] == (sku, loc)]
        if kind is MovementKind.RECEIPT and mine and data.draw(st.booleans(), label="po?"):
            order_ref = data.draw(st.sampled_from(mine))[2]
        self.send(
            data,
            kind,
            sku,
            location=loc,
            lot=lot,
            quantity=q * 3,
            unit=unit,
            expires_on=self.inbound_date(data, sku, lot),
            order_ref=order_ref,
        )

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def outbound(self, data: st.DataObject, sku: str, loc: str) -> None:
        kind = data.draw(
            st.sampled_from(
                (MovementKind.SHIPMENT, MovementKind.SHIPMENT, MovementKind.SCRAP, "adjustment")
            )
        )
        q, unit = self.quantity(data, sku)
        lot = self.lot(data, sku)
        if kind == "adjustment":
            sign = data.draw(st.sampled_from((1, -1)), label="sign")
            self.send(
                data,
                MovementKind.ADJUSTMENT,
                sku,
                location=loc,
                lot=lot,
                quantity=q * sign,
                unit=unit,
            )
            return
        assert isinstance(kind, MovementKind)
        self.send(data, kind, sku, location=loc, lot=lot, quantity=q, unit=unit)

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def reserve(self, data: st.DataObject, sku: str, loc: str) -> None:
        q, unit = self.quantity(data, sku)
        rid: str | None = None
        roll = data.draw(st.integers(0, 2), label="id?")
        early = [r for r in self.releases_early if r[0] == sku]
        if roll == 1:
            rid = f"R{self.sequence}"
            self.reservations_sent.append((sku, rid))
        elif roll == 2 and early:
            self.releases_early.remove(early[0])
            self.reservations_sent.append(early[0])
            rid = early[0][1]
        lot = self.lot(data, sku)
        self.send(
            data,
            MovementKind.RESERVATION,
            sku,
            location=loc,
            lot=lot,
            quantity=q,
            unit=unit,
            reservation_id=rid,
        )

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def release(self, data: st.DataObject, sku: str, loc: str) -> None:
        q, unit = self.quantity(data, sku)
        roll = data.draw(st.integers(0, 2), label="which id")
        rid: str | None = None
        lot = None
        mine = [r for r in self.reservations_sent if r[0] == sku]
        if roll == 1 and mine:
            rid = data.draw(st.sampled_from(mine))[1]
        elif roll == 2:
            rid = f"R{self.sequence}"
            self.releases_early.append((sku, rid))
        else:
            lot = self.lot(data, sku)
        self.send(
            data,
            MovementKind.RESERVATION_RELEASE,
            sku,
            location=loc,
            lot=lot,
            quantity=q,
            unit=unit,
            reservation_id=rid,
        )

    @rule(data=st.data(), sku=st.sampled_from(SKUS), src=st.sampled_from(GLNS[:2]))
    def transfer_out(self, data: st.DataObject, sku: str, src: str) -> None:
        dest = GLNS[2] if src != GLNS[2] else GLNS[0]
        q, unit = self.quantity(data, sku)
        ref: str | None = None
        roll = data.draw(st.integers(0, 2), label="ref?")
        early = [t for t in self.transfers_in_early if t[1:3] == (sku, src)]
        if roll == 1:
            ref = f"T{self.sequence}"
            self.transfers_sent.append((ref, sku, src, dest))
        elif roll == 2 and early:
            taken = early[0]
            self.transfers_in_early.remove(taken)
            ref, dest = taken[0], taken[3]
            self.transfers_sent.append(taken)
        self.send(
            data,
            MovementKind.TRANSFER_OUT,
            sku,
            location=src,
            destination=dest,
            lot=self.lot(data, sku),
            quantity=q,
            unit=unit,
            transfer_ref=ref,
        )

    @rule(data=st.data(), sku=st.sampled_from(SKUS))
    def transfer_in(self, data: st.DataObject, sku: str) -> None:
        q, unit = self.quantity(data, sku)
        roll = data.draw(st.integers(0, 2), label="ref?")
        mine = [t for t in self.transfers_sent if t[1] == sku]
        ref: str | None = None
        dest = GLNS[2]
        if roll == 1 and mine:
            ref, _, _, dest = data.draw(st.sampled_from(mine))
        elif roll == 2:
            src = data.draw(st.sampled_from(GLNS[:2]), label="from")
            dest = GLNS[2]
            ref = f"T{self.sequence}"
            self.transfers_in_early.append((ref, sku, src, dest))
        # A lot-tracked SKU's transfer-in names a lot (it is inbound); the others may not.
        lot = self.lot(data, sku, lotless=not FACTS[sku].lot_tracked)
        self.send(
            data,
            MovementKind.TRANSFER_IN,
            sku,
            location=dest,
            lot=lot,
            quantity=q,
            unit=unit,
            transfer_ref=ref,
            expires_on=LOTS[sku][lot] if lot else None,
        )

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def count(self, data: st.DataObject, sku: str, loc: str) -> None:
        c = Decimal(data.draw(st.integers(0, 30), label="counted"))
        hours = data.draw(st.sampled_from((0, 1, 2, 5, 20, 40)), label="count hours back")
        self.send(
            data,
            MovementKind.CYCLE_COUNT,
            sku,
            location=loc,
            lot=self.lot(data, sku),
            quantity=c,
            occurred_at=self.now - timedelta(hours=hours),
        )

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def quality(self, data: st.DataObject, sku: str, loc: str) -> None:
        kind = data.draw(st.sampled_from((MovementKind.QUALITY_HOLD, MovementKind.QUALITY_RELEASE)))
        q, unit = self.quantity(data, sku)
        lot = self.lot(data, sku)
        self.send(data, kind, sku, location=loc, lot=lot, quantity=q, unit=unit)

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def expect_receipt(self, data: st.DataObject, sku: str, loc: str) -> None:
        q, unit = self.quantity(data, sku)
        ref = data.draw(st.sampled_from(("PO-1", "PO-2")), label="order")
        if (sku, loc, ref) not in self.orders:
            self.orders.append((sku, loc, ref))
        self.send(
            data,
            MovementKind.EXPECTED_RECEIPT,
            sku,
            location=loc,
            quantity=q * 4,
            unit=unit,
            order_ref=ref,
            expected_on=(self.now + timedelta(days=3)).date(),
        )

    @rule(data=st.data(), sku=st.sampled_from(SKUS), loc=st.sampled_from(GLNS))
    def lost_sale(self, data: st.DataObject, sku: str, loc: str) -> None:
        q, unit = self.quantity(data, sku)
        self.send(data, MovementKind.LOST_SALE, sku, location=loc, quantity=q, unit=unit)

    @invariant()
    def every_bucket_agrees(self) -> None:
        if self.broken:
            return
        want = _expected(self.model, self.now)
        got = self.sides.positions(self.now)
        problems = _differences(want, got)
        if problems and COLLECT:
            with open(COLLECT, "a", encoding="utf-8") as out:
                out.write("\n".join(["=== history:", *self.history, "differences:", *problems]))
                out.write("\n")
            self.broken = True
            return
        assert not problems, "\n".join(["history:", *self.history, "differences:", *problems])


@pytest.fixture(scope="module")
def sides(infra: Infrastructure) -> Iterator[Sides]:
    settings_ = StockSettings(
        database_url=infra.database_url, schema_prefix=f"o{uuid.uuid4().hex[:8]}_"
    )
    with asyncio.Runner() as runner:
        engine = create_engine(settings_)
        runner.run(migrations.upgrade(engine, STOCK_MIGRATIONS, settings_.db_schema))
        try:
            yield Sides(runner, engine, settings_.db_schema)
        finally:

            async def drop() -> None:
                async with engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA "{settings_.db_schema}" CASCADE'))
                await engine.dispose()

            runner.run(drop())


def test_the_ledger_follows_the_formula_sheet(sides: Sides) -> None:
    LedgerVersusSheet.sides = sides
    run_state_machine_as_test(
        LedgerVersusSheet,
        settings=settings(
            max_examples=int(os.environ.get("ORACLE_EXAMPLES", "40")),
            stateful_step_count=20,
            deadline=None,
            derandomize=os.environ.get("ORACLE_RANDOM") is None,
            phases=tuple(Phase) if SHRINK else (Phase.explicit, Phase.generate),
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


HARD_STREAM = TrafficConfig(
    seed=7,
    product_models=16,
    kits=1,
    locations=3,
    days=8,
    movements=1_200,
    duplicate_share=0.03,
    late_share=0.05,
    malformed_share=0.01,
    source_system="wms-hard",
    profile="hard",
    # grams only where the ledger can convert them (see HAS_PINT)
    hard_cases=HardCases(gram_share=0.05 if HAS_PINT else 0.0),
)


def test_a_generated_hard_stream_ends_where_the_oracle_says(sides: Sides) -> None:
    """The generator's hard profile, in batches as the consumer takes them, at one
    processing time (after the short-dated lots' expiry day): the ledger's final positions
    are the oracle's, bucket by bucket."""
    catalog = build_catalog(HARD_STREAM)
    facts = stock_facts(HARD_STREAM, catalog)
    deliveries = generate_deliveries(HARD_STREAM, catalog)
    now = HARD_STREAM.start + timedelta(days=HARD_STREAM.days, hours=12)
    sides.reset()

    async def load() -> None:
        async with sides.engine.begin() as conn:
            repo = SqlLedgerRepository(conn)
            for sku, f in facts.items():
                await repo.save_facts(sku, _facts(f), 1)
            await expire_lots(repo, now, 10_000, "scheduler")

    sides.runner.run(load())
    valid = [d for d in deliveries if d.kind != "malformed"]  # duplicates included
    size = int(os.environ.get("ORACLE_BATCH", "50"))  # 1: one record per transaction
    for start in range(0, len(valid), size):
        batch = [
            to_reported(decode(d.value, d.headers, key=d.key, accept=[StockMoved]))
            for d in valid[start : start + size]
        ]
        sides.apply_batch(batch, now)
    oracle = Oracle.from_deliveries(deliveries, catalog=facts, now=now)
    skus = sorted({key[0] for key in oracle.positions})
    got = sides.positions(now, skus)
    want = {
        key: {name: getattr(p, name) for name in QUANTITY_BUCKETS}
        for key, p in oracle.positions.items()
    }
    got_buckets = {key: {n: row[n] for n in QUANTITY_BUCKETS} for key, row in got.items()}
    assert len(want) > 50
    assert any(key[2] for key in want)  # lots, FEFO and expiry are in play
    problems = _differences(want, got_buckets)
    assert not problems, "\n".join(problems[:20])
