"""The generated stream of upstream stock movements (libs/skuhub_traffic/movements.py)."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from skuhub_contracts.codec import DecodeError, decode, encode
from skuhub_contracts.events import StockMoved
from skuhub_traffic import Catalog, Delivery, TrafficConfig, build_catalog, generate_deliveries
from skuhub_traffic.model import HardCases
from skuhub_traffic.movements import MALFORMED_DEFECTS, pack_sizes, simulate, stock_facts

CONFIG = TrafficConfig(seed=11, movements=4_000)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(CONFIG)


@pytest.fixture(scope="module")
def deliveries(catalog: Catalog) -> list[Delivery]:
    return generate_deliveries(CONFIG, catalog)


def body(delivery: Delivery) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(delivery.value)
    return data


def valid(deliveries: list[Delivery]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, body(d)) for i, d in enumerate(deliveries) if d.kind == "valid"]


def when(data: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(data["occurred_at"])


def positions_of(data: dict[str, Any]) -> set[tuple[str, str, str]]:
    lot = data["lot"] or ""
    keys = {(data["sku"], data["location"], lot)}
    if data["destination"]:
        keys.add((data["sku"], data["destination"], lot))
    return keys


def wire(deliveries: list[Delivery]) -> list[tuple[Any, ...]]:
    return [(d.key, d.value, d.headers, d.kind, d.event_id, d.late) for d in deliveries]


def test_same_config_gives_byte_identical_deliveries(deliveries: list[Delivery]) -> None:
    again = generate_deliveries(CONFIG)
    assert wire(again) == wire(deliveries)


def test_another_seed_gives_other_traffic(deliveries: list[Delivery]) -> None:
    other = generate_deliveries(TrafficConfig(seed=12, movements=4_000))
    assert [d.value for d in other[:50]] != [d.value for d in deliveries[:50]]
    assert {d.event_id for d in other}.isdisjoint({d.event_id for d in deliveries} - {None})


@pytest.mark.parametrize("movements", [1_500, 4_000, 12_000])
def test_about_the_requested_number_of_movements(movements: int) -> None:
    out = generate_deliveries(TrafficConfig(seed=3, movements=movements))
    count = sum(1 for d in out if d.kind == "valid")
    assert abs(count - movements) <= 0.15 * movements


def test_every_valid_record_decodes_and_is_exactly_what_the_codec_writes(
    deliveries: list[Delivery],
) -> None:
    for d in deliveries:
        if d.kind != "valid":
            continue
        envelope = decode(d.value, d.headers, key=d.key, accept=[StockMoved])
        assert envelope.id == d.event_id
        assert envelope.source == f"urn:{CONFIG.source_system}"
        assert d.key == envelope.payload.sku.encode()
        record = encode(envelope)
        assert (record.key, record.value, tuple(record.headers)) == (d.key, d.value, d.headers)


def test_every_kind_of_movement_occurs(deliveries: list[Delivery]) -> None:
    kinds = Counter(data["kind"] for _, data in valid(deliveries))
    assert set(kinds) == {
        "receipt",
        "shipment",
        "transfer_out",
        "transfer_in",
        "adjustment",
        "return",
        "scrap",
        "reservation",
        "reservation_release",
        "cycle_count",
    }
    assert kinds["shipment"] == max(kinds.values())


def test_source_sequence_strictly_increases_in_delivery_order(deliveries: list[Delivery]) -> None:
    sequences = [
        json.loads(d.value)["source_sequence"]
        for d in deliveries
        if d.kind == "valid" or (d.kind == "malformed" and d.defect != "garbage")
    ]
    assert sequences == sorted(set(sequences))
    assert sequences[0] == CONFIG.sequence_start


def test_duplicates_are_exact_copies_of_an_earlier_record(deliveries: list[Delivery]) -> None:
    seen: dict[str | None, Delivery] = {}
    duplicates = 0
    for d in deliveries:
        if d.kind == "duplicate":
            duplicates += 1
            original = seen[d.event_id]
            assert (original.key, original.value, original.headers) == (d.key, d.value, d.headers)
        elif d.kind == "valid":
            assert d.event_id not in seen
            seen[d.event_id] = d
    assert duplicates == pytest.approx(CONFIG.duplicate_share * len(seen), rel=0.1)


def test_late_records_come_after_a_later_record_of_the_same_sku(
    deliveries: list[Delivery],
) -> None:
    latest: dict[str, datetime] = {}
    late = 0
    for d in deliveries:
        if d.kind != "valid":
            continue
        data = body(d)
        at = when(data)
        before = latest.get(data["sku"])
        if d.late:
            late += 1
            assert before is not None
            assert at < before
        else:
            assert before is None or at > before  # only late records go back in time
        latest[data["sku"]] = max(at, before) if before else at
    n = sum(1 for d in deliveries if d.kind == "valid")
    assert late == pytest.approx(CONFIG.late_share * n, rel=0.2)


# Few SKUs and many late records: dense cycle counts that late records would cross.
STRESS = TrafficConfig(seed=11, movements=4_000, product_models=8, kits=2, late_share=0.3)


@pytest.mark.parametrize("config", [CONFIG, STRESS], ids=["default", "stress"])
def test_no_record_crosses_a_cycle_count_of_its_position(config: TrafficConfig) -> None:
    deliveries = generate_deliveries(config)
    records = valid(deliveries)
    counts: dict[tuple[str, str, str], list[tuple[int, datetime]]] = defaultdict(list)
    for index, data in records:
        if data["kind"] == "cycle_count":
            counts[next(iter(positions_of(data)))].append((index, when(data)))
    assert sum(len(v) for v in counts.values()) > 20
    crossings = 0
    for index, data in records:
        at = when(data)
        for key in positions_of(data):
            for count_index, count_at in counts.get(key, ()):
                if count_index != index and (index < count_index) != (at < count_at):
                    crossings += 1
    assert crossings == 0


def test_cycle_counts_count_the_running_stock_with_small_variances(
    deliveries: list[Delivery],
) -> None:
    on_hand: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    exact = off = 0
    for _, data in sorted(valid(deliveries), key=lambda item: when(item[1])):
        key = (data["sku"], data["location"])
        q = Decimal(data["quantity"])
        kind = data["kind"]
        if kind == "cycle_count":
            difference = abs(q - on_hand[key])
            assert difference <= 2
            exact += difference == 0
            off += difference != 0
            on_hand[key] = q
        elif kind in ("receipt", "return", "adjustment", "transfer_in"):
            on_hand[key] += q
        elif kind in ("shipment", "scrap", "transfer_out"):
            on_hand[key] -= q
            assert on_hand[key] >= 0, "the simulated world never sells stock it does not have"
    assert exact > 2 * off > 0


def test_malformed_records_fail_to_decode_at_the_configured_share() -> None:
    config = TrafficConfig(seed=5, movements=3_000, malformed_share=0.05)
    out = generate_deliveries(config)
    malformed = [d for d in out if d.kind == "malformed"]
    assert len(malformed) / len(out) == pytest.approx(0.05, abs=0.01)
    assert {d.defect for d in malformed} == set(MALFORMED_DEFECTS)
    for d in malformed:
        assert d.event_id is None
        with pytest.raises(DecodeError):
            decode(d.value, d.headers, key=d.key)


def test_no_malformed_records_when_the_share_is_zero() -> None:
    out = generate_deliveries(TrafficConfig(movements=1_000, malformed_share=0, duplicate_share=0))
    assert {d.kind for d in out} == {"valid"}


def test_demand_is_skewed_toward_a_few_skus(deliveries: list[Delivery], catalog: Catalog) -> None:
    shipped: Counter[str] = Counter()
    for _, data in valid(deliveries):
        if data["kind"] == "shipment":
            shipped[data["sku"]] += int(Decimal(data["quantity"]))
    top = shipped.most_common(max(1, len(catalog.products) // 10))
    assert sum(q for _, q in top) > 0.5 * sum(shipped.values())
    assert len(shipped) > len(catalog.products) // 2  # and a long tail that sells sometimes


def test_store_sales_peak_at_the_weekend(deliveries: list[Delivery], catalog: Catalog) -> None:
    stores = {loc.gln for loc in catalog.locations if loc.kind == "store"}
    by_weekday: Counter[int] = Counter()
    for _, data in valid(deliveries):
        if data["kind"] == "shipment" and data["location"] in stores:
            by_weekday[when(data).weekday()] += 1
    weekday = sum(by_weekday[d] for d in range(4)) / 4  # Monday to Thursday
    weekend = (by_weekday[5] + by_weekday[6]) / 2
    assert weekend > 1.3 * weekday


def test_purchase_orders_arrive_at_warehouses_with_their_number(
    deliveries: list[Delivery], catalog: Catalog
) -> None:
    warehouses = {loc.gln for loc in catalog.locations if loc.kind == "warehouse"}
    orders = [
        data
        for _, data in valid(deliveries)
        if data["kind"] == "receipt" and (data["reason"] or "").startswith("PO-")
    ]
    assert orders
    assert all(data["location"] in warehouses for data in orders)
    numbers = [data["reason"] for data in orders]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == len("PO-000123") for n in numbers)


def test_transfers_go_out_then_arrive_at_the_destination(deliveries: list[Delivery]) -> None:
    outs: dict[str, dict[str, Any]] = {}
    ins: dict[str, dict[str, Any]] = {}
    for _, data in valid(deliveries):
        if data["kind"] == "transfer_out":
            outs[data["reason"]] = data
        elif data["kind"] == "transfer_in":
            ins[data["reason"]] = data
    assert outs
    assert set(ins) <= set(outs)
    assert len(ins) >= 0.8 * len(outs)  # the rest are still in transit at the end
    for ref, arrived in ins.items():
        sent = outs[ref]
        assert arrived["location"] == sent["destination"]
        assert arrived["quantity"] == sent["quantity"]
        assert arrived["sku"] == sent["sku"]
        assert (when(arrived) - when(sent)).total_seconds() > 6 * 3600


def test_reservations_are_released_by_shipment_or_cancellation(deliveries: list[Delivery]) -> None:
    reserved: Counter[str] = Counter()
    released: Counter[str] = Counter()
    for _, data in valid(deliveries):
        order = (data["reason"] or "").removeprefix("cancelled ")
        if data["kind"] == "reservation":
            reserved[order] += 1
        elif data["kind"] == "reservation_release":
            released[order] += 1
    assert reserved
    assert set(released) <= set(reserved)
    assert len(released) >= 0.9 * len(reserved)


def test_lot_tracked_receipts_carry_a_lot_and_an_expiry(
    deliveries: list[Delivery], catalog: Catalog
) -> None:
    tracked = {p.sku for p in catalog.products if p.lot_tracked}
    loose = {p.sku for p in catalog.products if p.unit == "KGM"}
    seen_lot = seen_fraction = False
    for _, data in valid(deliveries):
        assert (data["lot"] is not None) == (data["sku"] in tracked)
        if data["sku"] in tracked and data["kind"] == "receipt":
            assert data["expires_on"] is not None
            seen_lot = True
        if data["sku"] in loose and "." in data["quantity"]:
            seen_fraction = True
    assert seen_lot
    assert seen_fraction


def test_simulated_world_is_in_strictly_increasing_time(catalog: Catalog) -> None:
    moves = simulate(CONFIG, catalog)
    times = [m[0] for m in moves]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert times[-1] < CONFIG.days * 24 * 3600 * 1_000_000


# ---------------------------------------------------------------------------------------------
# The hard profile (docs/stock.md's hard cases)

HARD = TrafficConfig(seed=11, movements=4_000, profile="hard")
NO_HARD_CASES = HardCases(
    late_count_share=0,
    early_count_share=0,
    expiring_lot_share=0,
    lotless_outbound_share=0,
    pack_share=0,
    gram_share=0,
    early_release_share=0,
    early_transfer_in_share=0,
)


@pytest.fixture(scope="module")
def hard() -> list[Delivery]:
    return generate_deliveries(HARD)


def test_the_classic_profile_has_none_of_the_new_kinds_or_fields(
    deliveries: list[Delivery],
) -> None:
    for _, data in valid(deliveries):
        assert data["kind"] not in ("expected_receipt", "lost_sale", "quality_hold")
        assert data["unit"] in ("EA", "KGM")
        assert data["reservation_id"] is data["transfer_ref"] is data["order_ref"] is None
    assert pack_sizes(CONFIG, build_catalog(CONFIG)) == {}


def test_the_hard_profile_is_deterministic(hard: list[Delivery]) -> None:
    assert wire(generate_deliveries(HARD)) == wire(hard)


def test_stock_facts_describe_unit_packs_lots_and_shelf_life() -> None:
    catalog = build_catalog(HARD)
    facts = stock_facts(HARD, catalog)
    packs = pack_sizes(HARD, catalog)
    assert packs
    assert all(set(p) == {"CS"} for p in packs.values())
    assert {p["CS"] for p in packs.values()} <= {Decimal(6), Decimal(12), Decimal(24)}
    for product in catalog.products:
        f = facts[product.sku]
        assert (f.unit, f.lot_tracked) == (product.unit, product.lot_tracked)
        assert dict(f.packs) == packs.get(product.sku, {})
        if product.lot_tracked:
            assert f.shelf_life_days == product.attributes["shelf_life_days"]


def test_hard_cycle_counts_arrive_late_and_early(hard: list[Delivery]) -> None:
    records = valid(hard)
    late = early = 0
    for position, (_, data) in enumerate(records):
        if data["kind"] != "cycle_count":
            continue
        keys, at = positions_of(data), when(data)
        before = [d for _, d in records[:position] if positions_of(d) & keys]
        after = [d for _, d in records[position + 1 :] if positions_of(d) & keys]
        late += any(when(d) > at for d in before)
        early += any(when(d) < at for d in after)
    counts = sum(1 for _, d in records if d["kind"] == "cycle_count")
    assert 0 < late < 0.35 * counts
    assert 0 < early < 0.2 * counts


def test_short_dated_lots_expire_on_the_last_day_or_the_day_after(hard: list[Delivery]) -> None:
    last = (HARD.start + timedelta(days=HARD.days - 1)).date()
    dates = {
        data["expires_on"]
        for _, data in valid(hard)
        if data["kind"] == "receipt" and (data["lot"] or "").startswith("X")
    }
    assert dates
    assert dates <= {last.isoformat(), (last + timedelta(days=1)).isoformat()}
    chosen = replace(HARD, hard_cases=replace(HARD.hard_cases, expiry_day=date(2026, 12, 2)))
    chosen_dates = {
        data["expires_on"]
        for _, data in valid(generate_deliveries(chosen))
        if data["kind"] == "receipt" and (data["lot"] or "").startswith("X")
    }
    assert chosen_dates <= {"2026-12-02", "2026-12-03"}


def test_some_store_sales_of_lot_tracked_skus_name_no_lot(hard: list[Delivery]) -> None:
    tracked = {p.sku for p in build_catalog(HARD).products if p.lot_tracked}
    sales = [d for _, d in valid(hard) if d["kind"] == "shipment" and d["sku"] in tracked]
    lotless = sum(1 for d in sales if d["lot"] is None)
    assert 0 < lotless < 0.25 * len(sales)


def test_quantities_in_cases_and_grams_are_the_stock_quantity_converted(
    hard: list[Delivery],
) -> None:
    catalog = build_catalog(HARD)
    packs = pack_sizes(HARD, catalog)
    units = {p.sku: p.unit for p in catalog.products}
    seen: Counter[str] = Counter()
    for _, data in valid(hard):
        if data["unit"] == "CS":
            seen["CS"] += 1
            assert data["sku"] in packs
            assert Decimal(data["quantity"]) == Decimal(data["quantity"]).to_integral_value()
        elif data["unit"] == "GRM":
            seen["GRM"] += 1
            assert units[data["sku"]] == "KGM"
            assert Decimal(data["quantity"]) % 50 == 0  # the world weighs in 50 g steps
        else:
            assert data["unit"] == units[data["sku"]]
    assert seen["CS"] > 0
    assert seen["GRM"] > 0


def test_some_releases_and_transfer_ins_arrive_before_their_partner(
    hard: list[Delivery],
) -> None:
    first: dict[tuple[str, str], str] = {}
    partners: Counter[str] = Counter()
    early: Counter[str] = Counter()
    for _, data in valid(hard):
        for field, kinds in (
            ("reservation_id", ("reservation", "reservation_release")),
            ("transfer_ref", ("transfer_out", "transfer_in")),
        ):
            ref = data[field]
            if data["kind"] not in kinds:
                continue
            assert ref is not None, f"every {data['kind']} carries its {field} here"
            if data["kind"] == kinds[1]:
                partners[field] += 1
                early[field] += first.get((field, ref)) is None
            else:
                first.setdefault((field, ref), data["kind"])
    for field in ("reservation_id", "transfer_ref"):
        assert 0 < early[field] < 0.25 * partners[field]
    # one reservation per order line: a kit's order reserves each component under its own id
    reservations = [d for _, d in valid(hard) if d["kind"] == "reservation"]
    assert len({d["reservation_id"] for d in reservations}) == len(reservations)


def test_purchase_orders_are_announced_and_received_with_their_reference(
    hard: list[Delivery],
) -> None:
    announced: dict[tuple[str, str, str], Decimal] = {}
    received = 0
    for _, data in valid(hard):
        if data["kind"] == "expected_receipt":
            assert data["expected_on"] is not None
            announced[(data["sku"], data["location"], data["order_ref"])] = Decimal(
                data["quantity"]
            )
        elif data["kind"] == "receipt" and data["order_ref"] is not None:
            key = (data["sku"], data["location"], data["order_ref"])
            assert key in announced
            received += 1
    assert received > 0
    kinds = Counter(data["kind"] for _, data in valid(hard))
    assert kinds["lost_sale"] > 0


def test_zero_shares_leave_only_the_references_and_the_new_kinds() -> None:
    config = replace(HARD, hard_cases=NO_HARD_CASES)
    records = valid(generate_deliveries(config))
    assert all(data["unit"] in ("EA", "KGM") for _, data in records)
    assert not any((data["lot"] or "").startswith("X") for _, data in records)
    latest: dict[str, datetime] = {}
    late = 0
    for _, data in records:
        at = when(data)
        late += at < latest.get(data["sku"], at)
        latest[data["sku"]] = max(at, latest.get(data["sku"], at))
    classic_late = sum(d.late for d in generate_deliveries(replace(CONFIG)))
    assert late <= 2 * classic_late
