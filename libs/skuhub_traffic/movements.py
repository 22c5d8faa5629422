"""Upstream stock movements shaped like the real world, as Kafka records.

The generator simulates the physical world first, in the order things happen:
opening stock, store sales following each SKU's skewed demand (weekly
seasonality with a weekend peak, a slow trend), web orders that reserve at a
warehouse and are shipped or cancelled later, returns, scrap, small
adjustments, cycle counts that count the simulated stock (with small
variances), store replenishment by transfers from a warehouse (transfer-out,
transit, transfer-in) and warehouse replenishment by purchase orders with lead
times. Quantities never leave the contract: a store cannot sell what it does
not have.

Then the delivery layer shapes the wire: a share of records arrives late
(after later records of the same SKU, but never across a cycle count of the
same position, because a count does not commute with deltas), a share is sent
twice (the exact same record, later), and a share is malformed. Sequence
numbers (``source_sequence``) increase in delivery order, as an upstream
outbox would number them.

Everything is drawn from :class:`random.Random` seeded from the config, so the
same config gives byte-identical deliveries, CloudEvents ids included.

``profile="hard"`` adds the hard cases of docs/stock.md, each at a small share
(:class:`~skuhub_traffic.model.HardCases`; their decisions use a random generator of
their own, so the classic part of the stream does not change): cycle counts delivered
late (after later movements of their position) or early (before earlier ones), lots
that expire during the run, lot-less sales of lot-tracked SKUs (FEFO), quantities in
a pack (``CS``) or in grams, web orders whose reservations and releases carry a
``reservation_id`` with some releases delivered first, transfers that carry a
``transfer_ref`` with some transfer-ins delivered first, purchase orders announced
by ``expected_receipt`` and received with their ``order_ref``, and lost sales. The
oracle needs the SKUs' stock facts: :func:`stock_facts` (pack sizes included, owned
here until the catalog publishes ``packs``).
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import random
import uuid
from dataclasses import replace
from datetime import UTC, date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from skuhub_contracts.codec import Envelope, encode
from skuhub_contracts.events import MovementKind, StockMoved
from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.model import Catalog, Delivery, ProductSpec, StockFacts, TrafficConfig

SECOND = 1_000_000
HOUR = 3_600 * SECOND
DAY = 24 * HOUR
MILLI = 1_000  # quantities are simulated in thousandths of a unit (exact, fast)

STORE_WEEKDAY = (0.85, 0.85, 0.9, 0.95, 1.15, 1.7, 1.4)
"""Store sales by weekday, Monday first: the weekend peak."""
WEB_WEEKDAY = (1.0, 0.95, 0.95, 1.0, 1.0, 1.2, 1.35)
TREND = 0.25
"""Overall demand grows by this share over the simulated period (a slow trend)."""
WEB_SHARE = 0.5
"""Web orders per day at the warehouses, relative to one store's sales."""
CANCEL_SHARE = 0.08
STORE_RETURN_SHARE = 0.03
WEB_RETURN_SHARE = 0.06
CYCLE_COUNT_SHARE = 0.05
"""Share of the movement budget spent on cycle counts."""
CYCLE_COUNT_EXACT = 0.75
"""Share of cycle counts that find exactly the expected quantity."""

EVENT_TYPE = StockMoved.event_type
UNKNOWN_EVENT_TYPE = "skuhub.stock-teleported.v1"
MALFORMED_DEFECTS = ("garbage", "bad_gln", "negative_receipt", "unknown_type")

PACK_UNIT = "CS"
PACK_SIZES = (6, 12, 24)

# A simulated movement before it becomes a record:
# (time µs since start, kind, sku, location, destination, quantity in milli-units of the stock
#  unit, unit, lot, expires_on ISO date or None, reason, references and wire unit or None)
_Move = tuple[int, str, str, str, str | None, int, str, str | None, str | None, str | None, Any]


def pack_sizes(config: TrafficConfig, catalog: Catalog) -> dict[str, dict[str, Decimal]]:
    """The packs of each SKU (``{"CS": 12}``): in the hard profile a share of the EA SKUs
    has a case. Owned here until the catalog publishes ``packs`` in product-changed."""
    if config.profile != "hard":
        return {}
    rng = random.Random(f"packs:{config.seed}")
    out: dict[str, dict[str, Decimal]] = {}
    for p in catalog.products:
        if p.kit_components or p.unit != "EA":
            continue
        if rng.random() < config.hard_cases.packed_sku_share:
            out[p.sku] = {PACK_UNIT: Decimal(rng.choice(PACK_SIZES))}
    return out


def stock_facts(config: TrafficConfig, catalog: Catalog) -> dict[str, StockFacts]:
    """What the oracle must know of each SKU: stock unit, packs, lot tracking, shelf life."""
    packs = pack_sizes(config, catalog)
    out: dict[str, StockFacts] = {}
    for p in catalog.products:
        shelf = p.attributes.get("shelf_life_days")
        out[p.sku] = StockFacts(
            unit=p.unit,
            packs=packs.get(p.sku, {}),
            lot_tracked=p.lot_tracked,
            shelf_life_days=int(shelf) if p.lot_tracked and shelf is not None else None,
        )
    return out


def generate_deliveries(config: TrafficConfig, catalog: Catalog | None = None) -> list[Delivery]:
    """The records upstream sends, in order: valid movements, duplicates, malformed records.

    Roughly ``config.movements`` valid movements over ``config.days`` days.
    """
    catalog = catalog if catalog is not None else build_catalog(config)
    moves = simulate(config, catalog)
    return _deliver(config, catalog, moves)


# --------------------------------------------------------------------------- simulation


def simulate(config: TrafficConfig, catalog: Catalog) -> list[_Move]:
    """The physical world in occurred order (strictly increasing times), before delivery."""
    stocked = [p for p in catalog.products if not p.kit_components]
    if not stocked or not catalog.locations:
        return []
    # Calibrate the demand intensity so the stream has about config.movements movements:
    # opening receipts and cycle counts are fixed, everything else grows with demand.
    target = max(1, config.movements)
    intensity = 1.0
    moves: list[_Move] = []
    for _ in range(3):
        world = _World(config, catalog, stocked, intensity)
        moves = world.run()
        variable = len(moves) - world.fixed
        room = target - world.fixed
        if variable <= 0 or room <= 0:
            intensity = intensity * 0.05 if room <= 0 else intensity * 2
            continue
        ratio = room / variable
        if abs(ratio - 1) < 0.03:
            break
        intensity *= ratio
    else:
        moves = _World(config, catalog, stocked, intensity).run()
    return moves


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam < 30:
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


class _World:
    """One run of the simulated world at a given demand intensity."""

    def __init__(
        self, config: TrafficConfig, catalog: Catalog, stocked: list[ProductSpec], intensity: float
    ) -> None:
        self.config = config
        self.rng = random.Random(f"movements:{config.seed}")
        self.start = config.start.astimezone(UTC)
        self.end = max(1, config.days) * DAY
        self.stocked = stocked
        self.kits = [p for p in catalog.products if p.kit_components]
        self.by_sku = {p.sku: p for p in catalog.products}
        self.warehouses = [loc.gln for loc in catalog.locations if loc.kind == "warehouse"]
        self.stores = [loc.gln for loc in catalog.locations if loc.kind == "store"]
        if not self.warehouses:  # every world needs a place to receive purchase orders
            self.warehouses, self.stores = self.stores[:1], self.stores[1:]
        self.intensity = intensity
        self.hard = config.hard_cases if config.profile == "hard" else None
        self.hard_rng = random.Random(f"hard:{config.seed}")
        self.packs = {
            sku: int(sizes[PACK_UNIT]) for sku, sizes in pack_sizes(config, catalog).items()
        }
        self.lots = {p.sku: f"L{config.seed % 1000:03d}-{i:05d}" for i, p in enumerate(stocked)}
        # One expiry per lot, as a lot has one: the simulation's start plus the shelf life.
        self.lot_expiry = {
            p.sku: (self.start + timedelta(days=int(p.attributes.get("shelf_life_days", 365))))
            .date()
            .isoformat()
            for p in stocked
            if p.lot_tracked
        }
        # Per-SKU slow trend (ramping up or phasing out) on top of the overall one.
        self.sku_trend = {p.sku: self.rng.uniform(-0.4, 0.4) for p in catalog.products}

        self.on_hand: dict[tuple[str, str], int] = {}
        self.reserved: dict[tuple[str, str], int] = {}
        self.incoming: dict[tuple[str, str], int] = {}  # open transfers or purchase orders
        self.target: dict[tuple[str, str], int] = {}
        self.reorder: dict[tuple[str, str], int] = {}
        self.cc_rate: dict[tuple[str, str], float] = {}

        self.heap: list[tuple[int, int, tuple[Any, ...]]] = []
        self.tie = 0
        self.out: list[_Move] = []
        self.last = -1
        self.fixed = 0
        self.po = 0
        self.transfer = 0
        self.order = 0

    # -- helpers

    def round_up(self, sku: str, milli: float) -> int:
        """Whole units for EA, 50 g steps for KGM."""
        step = MILLI if self.by_sku[sku].unit == "EA" else 50
        return max(step, math.ceil(milli / step) * step)

    def push(self, t: int, action: tuple[Any, ...]) -> None:
        if t < self.end:
            self.tie += 1
            heapq.heappush(self.heap, (t, self.tie, action))

    def emit(
        self,
        t: int,
        kind: str,
        sku: str,
        location: str,
        quantity: int,
        *,
        destination: str | None = None,
        reason: str | None = None,
        refs: dict[str, str] | None = None,
        lot: str | None = "",
        expires: str | None = None,
    ) -> None:
        """Record a movement; ``lot`` "" means the SKU's own lot (None when not tracked),
        ``refs`` the wire's references (reservation_id, transfer_ref, order_ref,
        expected_on) and, under ``unit``, a wire unit other than the stock unit."""
        t = max(t, self.last + 1)  # strictly increasing: occurred order is unambiguous
        self.last = t
        product = self.by_sku[sku]
        if lot == "":
            lot = self.lots[sku] if product.lot_tracked else None
            if lot is not None and kind in ("receipt", "transfer_in", "return"):
                expires = self.lot_expiry[sku]
        if self.hard is not None and kind in ("receipt", "return", "shipment", "scrap"):
            unit = self.wire_unit(sku, quantity)
            if unit is not None:
                refs = {**(refs or {}), "unit": unit}
        self.out.append(
            (
                t,
                kind,
                sku,
                location,
                destination,
                quantity,
                product.unit,
                lot,
                expires,
                reason,
                refs,
            )
        )

    def wire_unit(self, sku: str, milli: int) -> str | None:
        """In the hard profile, a share of quantities goes on the wire in a pack or grams."""
        assert self.hard is not None
        size = self.packs.get(sku)
        if self.by_sku[sku].unit == "KGM":
            return "GRM" if self.hard_rng.random() < self.hard.gram_share else None
        if size is None or milli % (size * MILLI) != 0:
            return None
        return PACK_UNIT if self.hard_rng.random() < self.hard.pack_share else None

    def available(self, sku: str, location: str) -> int:
        key = (sku, location)
        return self.on_hand.get(key, 0) - self.reserved.get(key, 0)

    def sale_milli(self, sku: str) -> int:
        if self.by_sku[sku].unit == "KGM":
            return self.rng.randint(4, 50) * 50  # 0.2 kg to 2.5 kg
        r = self.rng.random()
        return MILLI * (1 if r < 0.8 else 2 if r < 0.95 else 3)

    def mean_sale_units(self, sku: str) -> float:
        return 1.35 if self.by_sku[sku].unit == "KGM" else 1.25

    def factor(self, sku: str, day: int, weekday_table: tuple[float, ...]) -> float:
        weekday = (self.start + timedelta(days=day)).weekday()
        progress = day / max(1, self.config.days)
        trend = 1 + (TREND + self.sku_trend[sku]) * progress
        return weekday_table[weekday] * max(0.1, trend)

    # -- the run

    def run(self) -> list[_Move]:
        rng = self.rng
        n_stores = max(1, len(self.stores))
        positions = len(self.stocked) * (len(self.warehouses) + len(self.stores))
        cc_per_position_day = min(
            1 / 5,
            CYCLE_COUNT_SHARE * self.config.movements / max(1, positions * self.config.days),
        )
        ranked = sorted(self.stocked, key=lambda p: -p.daily_demand)
        a_class = {p.sku for p in ranked[: max(1, len(ranked) // 5)]}
        c_class = {p.sku for p in ranked[len(ranked) // 2 :]}
        for p in self.stocked:
            daily = p.daily_demand * self.intensity * MILLI
            abc = 2.0 if p.sku in a_class else 0.5 if p.sku in c_class else 1.0
            for store in self.stores:
                key = (p.sku, store)
                self.reorder[key] = self.round_up(p.sku, daily * 3)
                self.target[key] = self.round_up(p.sku, daily * 6) + self.reorder[key]
                self.cc_rate[key] = cc_per_position_day * abc
            web = daily * WEB_SHARE * n_stores
            per_wh = (daily * len(self.stores) + web) / len(self.warehouses)
            for wh in self.warehouses:
                key = (p.sku, wh)
                self.reorder[key] = self.round_up(p.sku, per_wh * 11)
                self.target[key] = self.round_up(p.sku, per_wh * 24)
                self.cc_rate[key] = cc_per_position_day * abc
        # Opening stock: one receipt per position in the first hours of day 0.
        for p in self.stocked:
            for loc in self.warehouses + self.stores:
                t = rng.randrange(4 * 3600) * SECOND
                self.push(t, ("receipt", p.sku, loc, self.target[(p.sku, loc)], "opening balance"))
                self.fixed += 1
        if self.hard is not None:
            self.expiring_lots()
        for day in range(max(1, self.config.days)):
            self.push(day * DAY, ("day", day))

        while self.heap:
            t, _, action = heapq.heappop(self.heap)
            getattr(self, f"_on_{action[0]}")(t, *action[1:])
        return self.out

    def expiring_lots(self) -> None:
        """Hard profile: a share of the lot-tracked SKUs gets a second lot at each location
        on day 0 that expires on the expiry day or the day after (outside the simulated
        stock: only lot-less outbound, FEFO, may take from it)."""
        assert self.hard is not None
        last = self.start.date() + timedelta(days=max(1, self.config.days) - 1)
        day = self.hard.expiry_day or last
        for i, p in enumerate(self.stocked):
            if not p.lot_tracked or self.hard_rng.random() >= self.hard.expiring_lot_share:
                continue
            expires = (day + timedelta(days=self.hard_rng.randint(0, 1))).isoformat()
            lot = f"X{self.config.seed % 1000:03d}-{i:05d}"
            for loc in self.warehouses + self.stores:
                t = self.hard_rng.randrange(4 * 3600) * SECOND
                q = self.round_up(p.sku, MILLI * self.hard_rng.randint(1, 5))
                self.push(t, ("lot_receipt", p.sku, loc, q, lot, expires))
                self.fixed += 1

    def _on_lot_receipt(self, t: int, sku: str, loc: str, q: int, lot: str, expires: str) -> None:
        self.emit(t, "receipt", sku, loc, q, reason="short-dated lot", lot=lot, expires=expires)

    def _on_day(self, t: int, day: int) -> None:
        rng = self.rng
        # Cycle counts before opening, more often for A items.
        for key, rate in self.cc_rate.items():
            if rng.random() < rate:
                self.push(t + 5 * HOUR + rng.randrange(3600) * SECOND, ("count", *key))
        # Store sales over opening hours, web orders around the clock.
        for p in self.stocked + self.kits:
            units = p.daily_demand * self.intensity
            lam = units * self.factor(p.sku, day, STORE_WEEKDAY) / self.mean_sale_units(p.sku)
            for store in self.stores:
                for _ in range(_poisson(rng, lam)):
                    self.push(
                        t + 8 * HOUR + rng.randrange(12 * 3600) * SECOND, ("sale", p.sku, store)
                    )
            web = units * WEB_SHARE * max(1, len(self.stores)) / len(self.warehouses)
            lam_web = web * self.factor(p.sku, day, WEB_WEEKDAY) / self.mean_sale_units(p.sku)
            for wh in self.warehouses:
                for _ in range(_poisson(rng, lam_web)):
                    self.push(t + rng.randrange(24 * 3600) * SECOND, ("web", p.sku, wh))
        self.push(t + 22 * HOUR, ("replenish", day))

    def _components(self, sku: str) -> list[tuple[str, int]]:
        product = self.by_sku[sku]
        if product.kit_components:
            return [(c, q * MILLI) for c, q in product.kit_components]
        return [(sku, self.sale_milli(sku))]

    def _on_sale(self, t: int, sku: str, store: str) -> None:
        rng = self.rng
        parts = self._components(sku)
        if any(self.on_hand.get((c, store), 0) < q for c, q in parts):
            if self.hard is not None:  # stockout: a lost sale, reported as such
                for c, q in parts:
                    self.emit(t, "lost_sale", c, store, q, reason="stockout")
            return
        reason = f"kit {sku}" if len(parts) > 1 or parts[0][0] != sku else None
        for c, q in parts:
            self.on_hand[(c, store)] -= q
            lot: str | None = ""
            if (
                self.hard is not None
                and self.by_sku[c].lot_tracked
                and self.hard_rng.random() < self.hard.lotless_outbound_share
            ):
                lot = None  # the store does not scan the lot: the ledger picks FEFO
            self.emit(t, "shipment", c, store, q, reason=reason, lot=lot)
            if self.by_sku[c].unit == "EA" and rng.random() < STORE_RETURN_SHARE:
                back = t + rng.randint(1, 14) * DAY + rng.randint(-3, 3) * HOUR
                self.push(back, ("return", c, store, q, "customer return"))
            roll = rng.random()
            if roll < 0.015:
                self.push(t + rng.randrange(7200) * SECOND, ("scrap", c, store))
            elif roll < 0.02:
                self.push(t + rng.randrange(7200) * SECOND, ("adjust", c, store))

    def _on_web(self, t: int, sku: str, wh: str) -> None:
        rng = self.rng
        parts = self._components(sku)
        if any(self.on_hand.get((c, wh), 0) - self.reserved.get((c, wh), 0) < q for c, q in parts):
            return
        self.order += 1
        order = f"WEB-{self.order:06d}"
        cancel = rng.random() < CANCEL_SHARE
        later = (
            t + rng.randint(1, 8) * HOUR
            if cancel
            else (t // DAY + 1) * DAY + 10 * HOUR + rng.randrange(6 * 3600) * SECOND
        )
        for c, q in parts:
            self.reserved[(c, wh)] = self.reserved.get((c, wh), 0) + q
            refs = self.order_refs(order, c)
            self.emit(t, "reservation", c, wh, q, reason=order, refs=refs)
            self.push(later, ("cancel" if cancel else "fulfil", c, wh, q, order))

    def _on_fulfil(self, t: int, sku: str, wh: str, q: int, order: str) -> None:
        key = (sku, wh)
        self.reserved[key] -= q
        self.emit(
            t, "reservation_release", sku, wh, q, reason=order, refs=self.order_refs(order, sku)
        )
        shipped = min(q, self.on_hand.get(key, 0))
        if shipped > 0:
            self.on_hand[key] -= shipped
            self.emit(t, "shipment", sku, wh, shipped, reason=order)
            if self.by_sku[sku].unit == "EA" and self.rng.random() < WEB_RETURN_SHARE:
                back = t + self.rng.randint(3, 14) * DAY
                self.push(back, ("return", sku, wh, shipped, f"return {order}"))

    def _on_cancel(self, t: int, sku: str, wh: str, q: int, order: str) -> None:
        self.reserved[(sku, wh)] -= q
        self.emit(
            t,
            "reservation_release",
            sku,
            wh,
            q,
            reason=f"cancelled {order}",
            refs=self.order_refs(order, sku),
        )

    def order_refs(self, order: str, sku: str) -> dict[str, str] | None:
        """One reservation per order line (a kit's order reserves each component)."""
        return {"reservation_id": f"{order}/{sku}"} if self.hard is not None else None

    def _on_return(self, t: int, sku: str, loc: str, q: int, reason: str) -> None:
        self.on_hand[(sku, loc)] = self.on_hand.get((sku, loc), 0) + q
        self.emit(t, "return", sku, loc, q, reason=reason)

    def _on_scrap(self, t: int, sku: str, loc: str) -> None:
        q = MILLI if self.by_sku[sku].unit == "EA" else 500
        if self.on_hand.get((sku, loc), 0) >= q:
            self.on_hand[(sku, loc)] -= q
            reason = "expired" if self.by_sku[sku].lot_tracked else "damaged"
            self.emit(t, "scrap", sku, loc, q, reason=reason)

    def _on_adjust(self, t: int, sku: str, loc: str) -> None:
        q = MILLI if self.by_sku[sku].unit == "EA" else 100
        if self.rng.random() < 0.5 and self.on_hand.get((sku, loc), 0) >= q:
            q = -q
        self.on_hand[(sku, loc)] = self.on_hand.get((sku, loc), 0) + q
        self.emit(t, "adjustment", sku, loc, q, reason="found" if q > 0 else "lost")

    def _on_count(self, t: int, sku: str, loc: str) -> None:
        rng = self.rng
        expected = self.on_hand.get((sku, loc), 0)
        counted = expected
        if rng.random() >= CYCLE_COUNT_EXACT:
            step = MILLI if self.by_sku[sku].unit == "EA" else 50
            counted = max(0, expected + rng.choice((-2, -1, -1, 1)) * step)
        self.on_hand[(sku, loc)] = counted
        self.fixed += 1
        self.emit(t, "cycle_count", sku, loc, counted, reason="cycle count")

    def _on_receipt(self, t: int, sku: str, loc: str, q: int, reason: str) -> None:
        key = (sku, loc)
        self.on_hand[key] = self.on_hand.get(key, 0) + q
        refs = None
        if reason.startswith("PO-"):
            self.incoming[key] -= q
            if self.hard is not None:
                refs = {"order_ref": reason}
        self.emit(t, "receipt", sku, loc, q, reason=reason, refs=refs)

    def _on_transfer_in(self, t: int, sku: str, loc: str, q: int, reason: str) -> None:
        key = (sku, loc)
        self.on_hand[key] = self.on_hand.get(key, 0) + q
        self.incoming[key] -= q
        refs = {"transfer_ref": reason} if self.hard is not None else None
        self.emit(t, "transfer_in", sku, loc, q, reason=reason, refs=refs)

    def _on_replenish(self, t: int, day: int) -> None:
        rng = self.rng
        unit_step = {p.sku: MILLI if p.unit == "EA" else 50 for p in self.stocked}
        # Stores: a transfer from the warehouse with the most available stock.
        for p in self.stocked:
            for store in self.stores:
                key = (p.sku, store)
                position = self.on_hand.get(key, 0) + self.incoming.get(key, 0)
                if position > self.reorder[key]:
                    continue
                wh = max(self.warehouses, key=partial(self.available, p.sku))
                available = self.available(p.sku, wh)
                step = unit_step[p.sku]
                q = min(self.target[key] - position, available) // step * step
                if q <= 0:
                    continue
                self.transfer += 1
                ref = f"TR-{self.transfer:06d}"
                self.on_hand[(p.sku, wh)] -= q
                self.incoming[key] = self.incoming.get(key, 0) + q
                self.emit(
                    t + rng.randrange(3600) * SECOND,
                    "transfer_out",
                    p.sku,
                    wh,
                    q,
                    destination=store,
                    reason=ref,
                    refs={"transfer_ref": ref} if self.hard is not None else None,
                )
                arrive = (day + rng.choice((1, 1, 2))) * DAY + 7 * HOUR
                self.push(
                    arrive + rng.randrange(2 * 3600) * SECOND, ("transfer_in", p.sku, store, q, ref)
                )
        # Warehouses: a purchase order with a lead time when the position is low.
        for p in self.stocked:
            for wh in self.warehouses:
                key = (p.sku, wh)
                position = (
                    self.on_hand.get(key, 0) - self.reserved.get(key, 0) + self.incoming.get(key, 0)
                )
                if position > self.reorder[key]:
                    continue
                pack = 6 * MILLI if p.unit == "EA" else 5 * MILLI
                if self.hard is not None and p.sku in self.packs:
                    pack = self.packs[p.sku] * MILLI  # ordered in whole cases
                q = max(pack, math.ceil((self.target[key] - position) / pack) * pack)
                self.po += 1
                self.incoming[key] = self.incoming.get(key, 0) + q
                lead = rng.randint(3, 7)
                arrive = (day + lead) * DAY + 7 * HOUR + rng.randrange(3 * 3600) * SECOND
                po = f"PO-{self.po:06d}"
                if self.hard is not None:
                    due = (self.start + timedelta(days=day + lead)).date().isoformat()
                    self.emit(
                        t,
                        "expected_receipt",
                        p.sku,
                        wh,
                        q,
                        reason=po,
                        refs={"order_ref": po, "expected_on": due},
                    )
                self.push(arrive, ("receipt", p.sku, wh, q, po))


# --------------------------------------------------------------------------- delivery


def _position_keys(move: _Move) -> tuple[tuple[str, str, str], ...]:
    lot = move[7] or ""
    here = (move[2], move[3], lot)
    if move[4] is not None:
        return (here, (move[2], move[4], lot))
    return (here,)


def _late_order(config: TrafficConfig, rng: random.Random, moves: list[_Move]) -> list[int]:
    """Delivery order of the valid movements (indices into ``moves``); late ones marked < 0.

    A late record moves past at least one later record of the same SKU, never
    past a cycle count of any position it touches.
    """
    n = len(moves)
    wanted = round(config.late_share * n)
    if wanted <= 0 or n < 3:
        return list(range(n))
    times = [m[0] for m in moves]
    next_same_sku = [n] * n
    seen: dict[str, int] = {}
    for i in range(n - 1, -1, -1):
        next_same_sku[i] = seen.get(moves[i][2], n)
        seen[moves[i][2]] = i
    counts: dict[tuple[str, str, str], list[int]] = {}
    for i, m in enumerate(moves):
        if m[1] == "cycle_count":
            counts.setdefault(_position_keys(m)[0], []).append(i)

    slot: dict[int, int] = {}  # late index -> delivered right after this index
    anchors: set[int] = set()  # records a late one must follow: they are never late themselves
    candidates = list(range(n))
    rng.shuffle(candidates)
    for i in candidates:
        if len(slot) >= wanted:
            break
        move = moves[i]
        anchor = next_same_sku[i]  # the later record of the same SKU it must arrive after
        if move[1] == "cycle_count" or anchor >= n or anchor in slot or i in anchors:
            continue
        barrier = n
        for key in _position_keys(move):
            indices = counts.get(key)
            if indices:
                k = bisect.bisect_right(indices, i)
                if k < len(indices):
                    barrier = min(barrier, indices[k])
        if rng.random() < 0.2:  # a store that was offline uploads the next day
            delay = rng.randrange(12 * HOUR, 36 * HOUR)
        else:
            delay = int(rng.expovariate(1 / (2 * HOUR))) + 5 * 60 * SECOND
        j = bisect.bisect_right(times, times[i] + delay) - 1
        j = min(max(j, anchor), barrier - 1, n - 1)
        if j < anchor:
            continue  # a cycle count of its position comes first: it cannot be late here
        slot[i] = j
        anchors.add(anchor)
    keyed = sorted(((slot[i], 1, i) if i in slot else (i, 0, i)) for i in range(n))
    return [~i if i in slot else i for _, _, i in keyed]


def _hard_order(config: TrafficConfig, moves: list[_Move], order: list[int]) -> list[int]:
    """The hard profile's delivery order on top of ``order`` (late ones marked < 0 again):
    some releases before their reservation, transfer-ins before their transfer-out, cycle
    counts after later (late) or before earlier (early) movements of their position. A
    record is late when it arrives after a later record of its SKU."""
    hard = config.hard_cases
    rng = random.Random(f"hard-delivery:{config.seed}")
    sequence = [~i if i < 0 else i for i in order]
    first_with: dict[tuple[str, str], int] = {}
    for i, m in enumerate(moves):
        refs = m[10] or {}
        for name in ("reservation_id", "transfer_ref"):
            if name in refs and m[1] in ("reservation", "transfer_out"):
                first_with[(name, refs[name])] = i
    early: list[tuple[int, int]] = []  # (record to move, record it must precede)
    for i, m in enumerate(moves):
        refs = m[10] or {}
        if m[1] == "reservation_release" and "reservation_id" in refs:
            partner, share = (
                first_with.get(("reservation_id", refs["reservation_id"])),
                (hard.early_release_share),
            )
        elif m[1] == "transfer_in" and "transfer_ref" in refs:
            partner, share = (
                first_with.get(("transfer_ref", refs["transfer_ref"])),
                (hard.early_transfer_in_share),
            )
        else:
            continue
        if partner is not None and rng.random() < share:
            early.append((i, partner))
    for i, partner in early:
        sequence.remove(i)
        sequence.insert(sequence.index(partner), i)
    counts = [i for i, m in enumerate(moves) if m[1] == "cycle_count"]
    for i in counts:
        roll = rng.random()
        if roll >= hard.late_count_share + hard.early_count_share:
            continue
        keys = set(_position_keys(moves[i]))
        at = sequence.index(i)
        late = roll < hard.late_count_share
        span = sequence[at + 1 :] if late else sequence[:at][::-1]
        same = [j for j in span[:400] if keys & set(_position_keys(moves[j]))]
        same = same[: rng.randint(1, 3)]
        if not same or any(moves[j][1] == "cycle_count" for j in same):
            continue
        sequence.remove(i)
        target = sequence.index(same[-1])
        sequence.insert(target + 1 if late else target, i)
    latest: dict[str, int] = {}
    out: list[int] = []
    for i in sequence:
        move = moves[i]
        out.append(~i if move[0] < latest.get(move[2], -1) else i)
        latest[move[2]] = max(latest.get(move[2], -1), move[0])
    return out


class _Encoder:
    """Turns simulated movements into records with the one event codec of skuhub."""

    def __init__(
        self, config: TrafficConfig, packs: dict[str, dict[str, Decimal]] | None = None
    ) -> None:
        self.packs = packs or {}
        self.start = config.start.astimezone(UTC)
        self.source = f"urn:{config.source_system}"
        self.source_system = config.source_system
        self._quantities: dict[int, Decimal] = {}

    def quantity(self, milli: int) -> Decimal:
        value = self._quantities.get(milli)
        if value is None:
            value = Decimal(milli) / Decimal(MILLI)
            self._quantities[milli] = value
        return value

    def encode(self, move: _Move, sequence: int, event_id: str) -> Delivery:
        t, kind, sku, loc, dest, q, unit, lot, expires, reason, extra = move
        when = self.start + timedelta(microseconds=t)
        refs: dict[str, str] = extra or {}
        quantity = self.quantity(q)
        wire_unit = refs.get("unit", unit)
        if wire_unit == "GRM":  # a thousandth of a kilogram is a gram
            quantity = Decimal(q)
        elif wire_unit != unit:
            quantity = quantity / self.packs[sku][wire_unit]
        expected_on = refs.get("expected_on")
        payload = StockMoved(
            sku=sku,
            kind=MovementKind(kind),
            location=loc,
            destination=dest,
            quantity=quantity,
            unit=wire_unit,
            lot=lot,
            expires_on=date.fromisoformat(expires) if expires else None,
            source_system=self.source_system,
            source_sequence=sequence,
            occurred_at=when,
            reason=reason,
            reservation_id=refs.get("reservation_id"),
            transfer_ref=refs.get("transfer_ref"),
            order_ref=refs.get("order_ref"),
            expected_on=date.fromisoformat(expected_on) if expected_on else None,
        )
        record = encode(
            Envelope(payload=payload, id=event_id, source=self.source, time=when, origin_time=when)
        )
        return Delivery(record.key, record.value, tuple(record.headers), "valid", event_id)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _deliver(config: TrafficConfig, catalog: Catalog, moves: list[_Move]) -> list[Delivery]:
    rng = random.Random(f"delivery:{config.seed}")
    order = _late_order(config, rng, moves)
    if config.profile == "hard":
        order = _hard_order(config, moves, order)
    n = len(order)

    # Items in delivery order: ("v", index, late) | ("d", position of original) | ("m", defect)
    keyed: list[tuple[int, int, int, tuple[Any, ...]]] = [
        (p, 0, 0, ("v", ~i if i < 0 else i, i < 0)) for p, i in enumerate(order)
    ]
    n_dup = min(n, round(config.duplicate_share * n))
    for k, p in enumerate(sorted(rng.sample(range(n), n_dup))):
        gap = min(1 + int(rng.expovariate(1 / 200)), 5_000)
        keyed.append((p + gap, 1, k, ("d", p)))
    share = min(max(config.malformed_share, 0.0), 0.9)
    n_bad = round(share * n / (1 - share))
    for k in range(n_bad):
        defect = MALFORMED_DEFECTS[k % len(MALFORMED_DEFECTS)]
        keyed.append((rng.randrange(n + 1), 2, k, ("m", defect)))
    keyed.sort(key=lambda item: item[:3])

    encoder = _Encoder(config, pack_sizes(config, catalog))
    by_position: dict[int, Delivery] = {}
    out: list[Delivery] = []
    sequence = config.sequence_start
    for position, _, _, item in keyed:
        if item[0] == "v":
            delivery = encoder.encode(moves[item[1]], sequence, _uuid(rng))
            if item[2]:
                delivery = replace(delivery, late=True)
            by_position[position] = delivery
            sequence += 1
        elif item[0] == "d":
            delivery = replace(by_position[item[1]], kind="duplicate", late=False)
        else:
            delivery = _malformed(item[1], rng, encoder, moves, sequence)
            sequence += 1
        out.append(delivery)
    return out


def _malformed(
    defect: str, rng: random.Random, encoder: _Encoder, moves: list[_Move], sequence: int
) -> Delivery:
    """A record skuhub must reject: it goes to the dead-letter topic, never to the ledger."""
    base = moves[rng.randrange(len(moves))] if moves else None
    event_id = _uuid(rng)
    if defect == "garbage" or base is None:
        value = b"\x00\xff" + rng.randbytes(rng.randint(8, 120))
        key = base[2].encode() if base is not None else b"?"
        return Delivery(key, value, (), "malformed", None, defect="garbage")
    valid = encoder.encode(base, sequence, event_id)
    payload = json.loads(valid.value)
    headers = valid.headers
    if defect == "bad_gln":
        gln = payload["location"]
        payload["location"] = gln[:12] + str((int(gln[12]) + 1) % 10)
    elif defect == "negative_receipt":
        payload.update(kind="receipt", destination=None, quantity=f"-{rng.randint(1, 20)}")
    else:
        headers = tuple(
            (name, UNKNOWN_EVENT_TYPE.encode() if name == "ce_type" else value)
            for name, value in headers
        )
    value = json.dumps(payload).encode()
    return Delivery(valid.key, value, headers, "malformed", None, defect=defect)
