"""Lifecycle stages, gates, metrics, classes, policies and rules (no I/O).

Expected values are written by hand from docs/lifecycle.md, never computed by the code
under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from skuhub_lifecycle.domain.flows import DayFlows, PositionReport, SkuStock, apply_reports
from skuhub_lifecycle.domain.gates import NO_STOCK, NetworkStock, SuccessorLink, unmet_conditions
from skuhub_lifecycle.domain.metrics import (
    Span,
    Variability,
    Velocity,
    selling_spans,
    stockout_rate,
    variability_class,
    velocity_classes,
    window_metrics,
)
from skuhub_lifecycle.domain.policy import policy_terms
from skuhub_lifecycle.domain.rules import RuleInputs, RuleMode, RuleSettings, evaluate
from skuhub_lifecycle.domain.stages import (
    BadTransitionRequestError,
    ChannelReadiness,
    ForbiddenTransitionError,
    GateNotMetError,
    Move,
    ProductFacts,
    SkuStage,
    Stage,
    StageChange,
    check_transition,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SKU = "TSHIRT-RED-M"
READY = (ChannelReadiness("web", "en_US", True),)


def facts(version: int = 1, **fields: Any) -> ProductFacts:
    return ProductFacts(sku=SKU, product_version=version, **fields)


def in_stage(stage: Stage, product: ProductFacts | None = None, **fields: Any) -> SkuStage:
    return SkuStage(SKU, stage, 1, "test", "test", T0, product or facts(), **fields)


def move(target: Stage, **fields: Any) -> Move:
    return Move(target, "because", "maria", **fields)


# --- stages and the transition table ---------------------------------------------------------


def test_a_new_product_enters_at_concept_even_when_enabled() -> None:
    state = SkuStage.enter(facts(approved=True, readiness=READY), now=T0)

    assert (state.stage, state.version, state.history[0].previous) == (Stage.CONCEPT, 1, None)


def test_a_later_snapshot_never_activates_a_sku() -> None:
    state = in_stage(Stage.PRE_LAUNCH)

    change = state.follow(facts(2, approved=True, readiness=READY), now=T0)

    assert (change, state.stage, state.product.approved) == (None, Stage.PRE_LAUNCH, True)


def test_deletion_in_the_catalog_discontinues_with_the_catalogs_replacement() -> None:
    state = in_stage(Stage.ACTIVE)

    change = state.follow(facts(2, deleted=True, replacement="TSHIRT-RED-M-2"), now=T0)

    assert change is not None
    assert (change.stage, change.successor, change.actor) == (
        Stage.DISCONTINUED,
        "TSHIRT-RED-M-2",
        "lifecycle",
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Stage.CONCEPT, Stage.DISCONTINUED),
        (Stage.CONCEPT, Stage.ACTIVE),
        (Stage.ACTIVE, Stage.CONCEPT),
        (Stage.MATURE, Stage.ACTIVE),
        (Stage.DISCONTINUED, Stage.ACTIVE),
        (Stage.RETIRED, Stage.CONCEPT),
    ],
)
def test_a_jump_outside_the_table_is_refused(current: Stage, target: Stage) -> None:
    with pytest.raises(ForbiddenTransitionError):
        check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Stage.CONCEPT, Stage.DEVELOPMENT),
        (Stage.DEVELOPMENT, Stage.PRE_LAUNCH),
        (Stage.DEVELOPMENT, Stage.CONCEPT),
        (Stage.PRE_LAUNCH, Stage.ACTIVE),
        (Stage.ACTIVE, Stage.MATURE),
        (Stage.MATURE, Stage.PHASE_OUT),
        (Stage.PHASE_OUT, Stage.ACTIVE),
        (Stage.PHASE_OUT, Stage.DISCONTINUED),
        (Stage.DISCONTINUED, Stage.RETIRED),
    ],
)
def test_the_moves_in_the_documented_table_are_allowed(current: Stage, target: Stage) -> None:
    check_transition(current, target)


def test_a_refused_gate_changes_nothing_and_lists_every_condition() -> None:
    state = in_stage(
        Stage.PRE_LAUNCH,
        facts(readiness=(ChannelReadiness("web", "de_DE", False, ("title", "brand")),)),
    )

    unmet = unmet_conditions(state, move(Stage.ACTIVE), NO_STOCK, {})
    with pytest.raises(GateNotMetError) as refused:
        state.move(move(Stage.ACTIVE), unmet, now=T0)

    assert refused.value.unmet == [
        "the product is not approved in the catalog (submit and approve it)",
        "not complete for web/de_DE: missing title, brand",
        "no stock available to promise at any location, and pre-order is not enabled",
    ]
    assert (state.stage, state.version, state.history) == (Stage.PRE_LAUNCH, 1, [])


def test_active_needs_stock_or_pre_order() -> None:
    ready = facts(approved=True, readiness=READY)
    stocked = NetworkStock(Decimal(3), Decimal(0), Decimal(3))

    assert (
        unmet_conditions(in_stage(Stage.PRE_LAUNCH, ready), move(Stage.ACTIVE), stocked, {}) == []
    )
    assert (
        unmet_conditions(
            in_stage(Stage.PRE_LAUNCH, ready, pre_order=True), move(Stage.ACTIVE), NO_STOCK, {}
        )
        == []
    )
    assert (
        len(unmet_conditions(in_stage(Stage.PRE_LAUNCH, ready), move(Stage.ACTIVE), NO_STOCK, {}))
        == 1
    )


def test_a_product_whose_family_requires_nothing_is_complete_once_approved() -> None:
    unmet = unmet_conditions(
        in_stage(Stage.DEVELOPMENT, facts(approved=True)), move(Stage.PRE_LAUNCH), NO_STOCK, {}
    )

    assert unmet == []


def test_discontinued_needs_a_successor_or_an_explicit_none() -> None:
    state = in_stage(Stage.PHASE_OUT)

    assert unmet_conditions(state, move(Stage.DISCONTINUED), NO_STOCK, {}) == [
        "name a successor, or say no_successor to discontinue without one"
    ]
    assert unmet_conditions(state, move(Stage.DISCONTINUED, no_successor=True), NO_STOCK, {}) == []


def test_a_successor_must_exist_and_must_not_lead_back() -> None:
    state = in_stage(Stage.PHASE_OUT)
    links = {
        "B": SuccessorLink(Stage.DISCONTINUED, "C"),
        "C": SuccessorLink(Stage.DISCONTINUED, SKU),
    }

    assert unmet_conditions(state, move(Stage.DISCONTINUED, successor="X"), NO_STOCK, {}) == [
        "successor X is unknown to the lifecycle (not in the catalog)"
    ]
    assert unmet_conditions(state, move(Stage.DISCONTINUED, successor=SKU), NO_STOCK, {}) == [
        f"{SKU} cannot succeed itself"
    ]
    assert unmet_conditions(state, move(Stage.DISCONTINUED, successor="B"), NO_STOCK, links) == [
        f"successor B would form a cycle: {SKU} -> B -> C -> {SKU}"
    ]


def test_a_good_successor_is_carried_by_the_change() -> None:
    state = in_stage(Stage.PHASE_OUT)
    links = {"B": SuccessorLink(Stage.ACTIVE, None)}
    chosen = move(Stage.DISCONTINUED, successor="B")

    change = state.move(chosen, unmet_conditions(state, chosen, NO_STOCK, links), now=T0)

    assert (change.stage, change.successor, change.previous, change.actor) == (
        Stage.DISCONTINUED,
        "B",
        Stage.PHASE_OUT,
        "maria",
    )


def test_retired_needs_nothing_on_hand_and_nothing_reserved() -> None:
    state = in_stage(Stage.DISCONTINUED)
    stock = NetworkStock(Decimal(2), Decimal(1), Decimal(1))

    assert unmet_conditions(state, move(Stage.RETIRED), stock, {}) == [
        "2 on hand across the network; it must be 0",
        "1 reserved for open orders; it must be 0",
    ]
    assert unmet_conditions(state, move(Stage.RETIRED), NO_STOCK, {}) == []


@pytest.mark.parametrize(
    "bad",
    [
        Move(Stage.ACTIVE, "r", "a", pre_order=True),
        Move(Stage.ACTIVE, "r", "a", successor="B"),
        Move(Stage.DISCONTINUED, "r", "a", successor="B", no_successor=True),
    ],
)
def test_options_that_do_not_fit_the_target_are_refused(bad: Move) -> None:
    with pytest.raises(BadTransitionRequestError):
        bad.check_fits()


# --- flows and metrics: a small fixed history, by hand ----------------------------------------

LOC = "4006381000016"


def report(version: int, at: datetime, **fields: Any) -> PositionReport:
    values: dict[str, Any] = {
        "on_hand": 0,
        "reserved": 0,
        "location_available_to_promise": 0,
        "received": 0,
        "shipped": 0,
        "returned": 0,
        "scrapped": 0,
        "lost_sales": 0,
    } | fields
    return PositionReport(
        SKU, LOC, None, version, changed_at=at, **{k: Decimal(v) for k, v in values.items()}
    )


HISTORY = [
    report(1, T0, on_hand=10, location_available_to_promise=10, received=10),
    report(
        2,
        T0 + timedelta(days=1, hours=12),
        on_hand=6,
        location_available_to_promise=6,
        received=10,
        shipped=4,
    ),
    report(3, T0 + timedelta(days=2), on_hand=0, received=10, shipped=10),
    report(4, T0 + timedelta(days=3), on_hand=0, received=10, shipped=10, lost_sales=2),
    report(
        5,
        T0 + timedelta(days=4),
        on_hand=20,
        location_available_to_promise=20,
        received=30,
        shipped=10,
        lost_sales=2,
    ),
]
NOW = T0 + timedelta(days=6)
STOCKOUTS = [Span(T0 + timedelta(days=2), T0 + timedelta(days=4))]
"""The stockout of HISTORY, by hand: zero ATP from Mar 3 00:00 to Mar 5 00:00."""


def folded(reports: list[PositionReport]) -> tuple[SkuStock, list[DayFlows]]:
    stocks: dict[str, SkuStock] = {}
    applied = apply_reports(stocks, reports)
    return stocks[SKU], sorted(applied.days.values(), key=lambda d: d.day)


def test_metrics_of_a_small_history_match_the_hand_computed_figures() -> None:
    stock, days = folded(HISTORY)

    m = window_metrics(
        stock, days, None, window_days=7, now=NOW, selling=[Span(T0)], stockouts=STOCKOUTS
    )

    assert (m.units_sold, m.units_received, m.lost_sales, m.on_hand) == tuple(
        map(Decimal, (10, 30, 2, 20))
    )
    # closes Mar 1..7: 10, 6, 0, 0, 20, 20 (carried), 20 (now): 76 / 7
    assert m.average_on_hand == Decimal(76) / 7
    assert m.inventory_turnover == Decimal(10) / (Decimal(76) / 7)
    assert m.sell_through == Decimal(10) / 30
    assert m.weeks_of_supply == 2  # 20 on hand / 10 a week
    assert m.fill_rate == Decimal(10) / 12
    assert m.stockout_rate == pytest.approx(2 / 6)  # zero ATP Mar 3-5 of six days selling
    assert m.days_since_last_sale == 4  # last sale Mar 3 00:00, now Mar 7 00:00


def test_stockouts_are_spans_on_the_event_clock() -> None:
    stocks: dict[str, SkuStock] = {}

    applied = apply_reports(stocks, HISTORY)

    # ATP fell to zero with the report of Mar 3 00:00 and came back with that of Mar 5 00:00
    assert applied.stockouts == {(SKU, T0 + timedelta(days=2)): T0 + timedelta(days=4)}
    assert stocks[SKU].zero_since is None


@pytest.mark.parametrize(
    ("selling", "expected"),
    [
        ([Span(T0)], 2 / 6),  # selling all six days, two of them at zero
        ([Span(T0 + timedelta(days=3))], 1 / 3),  # from Mar 4: Mar 4-5 of Mar 4-7 at zero
        ([Span(T0, T0 + timedelta(days=2))], 0.0),  # stopped selling as the stockout began
        ([], None),  # never in a selling stage: no selling time to share
    ],
)
def test_the_stockout_rate_counts_only_selling_time(
    selling: list[Span], expected: float | None
) -> None:
    window_start = T0  # the 7-day window ending Mar 7 opens Mar 1 00:00

    assert stockout_rate(selling, STOCKOUTS, window_start, NOW) == (
        pytest.approx(expected) if expected is not None else None
    )


def test_selling_spans_come_from_the_stage_history() -> None:
    def change(stage: Stage, days: int) -> StageChange:
        return StageChange(SKU, stage, None, 1, "r", "a", T0 + timedelta(days=days))

    history = [
        change(Stage.CONCEPT, 0),
        change(Stage.ACTIVE, 1),
        change(Stage.PHASE_OUT, 3),
        change(Stage.DISCONTINUED, 4),
    ]

    assert selling_spans(history) == [Span(T0 + timedelta(days=1), T0 + timedelta(days=4))]


def test_a_replayed_or_repeated_report_changes_nothing() -> None:
    stocks: dict[str, SkuStock] = {}
    apply_reports(stocks, HISTORY)
    again = apply_reports(stocks, HISTORY)

    assert (again.positions, list(again.days), again.already_seen) == ([], [], [0, 1, 2, 3, 4])


def test_coalesced_reports_add_up_to_the_same_flows() -> None:
    stock, days = folded([HISTORY[0], HISTORY[2], HISTORY[4]])

    m = window_metrics(stock, days, None, window_days=7, now=NOW)

    assert (m.units_sold, m.units_received, m.lost_sales) == tuple(map(Decimal, (10, 30, 2)))


def test_the_opening_day_before_the_window_opens_it() -> None:
    stock, days = folded(HISTORY)
    opening = DayFlows(SKU, date(2026, 2, 20), on_hand_close=Decimal(5))

    m = window_metrics(stock, days, opening, window_days=28, now=NOW)

    assert m.opening_on_hand == 5
    assert m.sell_through == Decimal(10) / 35


# --- classes, policy and rules --------------------------------------------------------------


def test_abc_ranks_by_units_sold() -> None:
    sold = {"A1": 50, "A2": 30, "B1": 12, "C1": 5, "C2": 3, "Z": 0}

    classes = velocity_classes({sku: Decimal(n) for sku, n in sold.items()})

    # shares before each: 0, .50, .80, .92, .97 -> A, A, B, B, C; nothing sold -> C
    assert classes == {
        "A1": Velocity.A,
        "A2": Velocity.A,
        "B1": Velocity.B,
        "C1": Velocity.B,
        "C2": Velocity.C,
        "Z": Velocity.C,
    }


@pytest.mark.parametrize(
    ("weeks", "expected"),
    [
        ([10, 10, 10, 10], Variability.X),  # cv 0
        ([0, 20, 0, 20], Variability.Y),  # mean 10, sd 10: cv 1.0
        ([0, 0, 0, 40], Variability.Z),  # mean 10, sd 17.3
        ([], Variability.Z),
    ],
)
def test_xyz_by_the_variation_of_weekly_demand(weeks: list[int], expected: Variability) -> None:
    assert variability_class([Decimal(w) for w in weeks]) is expected


@pytest.mark.parametrize(
    ("stage", "replenish"),
    [
        (Stage.PRE_LAUNCH, False),
        (Stage.ACTIVE, True),
        (Stage.MATURE, True),
        (Stage.PHASE_OUT, False),
        (Stage.DISCONTINUED, False),
    ],
)
def test_the_policy_follows_the_stage(stage: Stage, replenish: bool) -> None:
    assert policy_terms(stage, Velocity.A, Variability.X).replenish is replenish


def test_the_policy_follows_the_classes() -> None:
    mature_az = policy_terms(Stage.MATURE, Velocity.A, Variability.Z)
    active_cx = policy_terms(Stage.ACTIVE, Velocity.C, Variability.X)

    assert (mature_az.service_level, mature_az.review_period_days, mature_az.buffer_multiplier) == (
        0.98,
        7,
        1.5,
    )
    assert (active_cx.service_level, active_cx.review_period_days, active_cx.buffer_multiplier) == (
        0.90,
        14,
        0.5,
    )


def test_a_slow_seller_is_suggested_for_phase_out_after_n_weeks() -> None:
    settings = RuleSettings(slow_seller=RuleMode.APPLY, slow_seller_weeks=3)
    slow = [Decimal("0.05")] * 3
    state = in_stage(Stage.MATURE)

    found = evaluate(state, RuleInputs(slow, None, Decimal(5)), settings, now=T0)
    not_yet = evaluate(
        state, RuleInputs([Decimal("0.5"), *slow[:2]], None, Decimal(5)), settings, now=T0
    )

    assert [(s.rule, s.target, s.apply) for s in found] == [("slow-seller", Stage.PHASE_OUT, True)]
    assert not_yet == []


def test_excess_stock_in_phase_out_is_a_liquidation_candidate() -> None:
    state = in_stage(Stage.PHASE_OUT)

    found = evaluate(state, RuleInputs([], Decimal(30), Decimal(300)), RuleSettings(), now=T0)

    assert [(s.rule, s.target) for s in found] == [("liquidation-candidate", None)]
