"""Replenishment domain and use cases on the in-memory repository.

Every expected figure is computed by hand in the test (written out in comments), never
with the code under test. z for a 95 % service level is the table value 1.645.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from skuhub_stock.domain.replenishment import (
    DailyDemand,
    DemandEstimate,
    DemandNoted,
    ForecastMethod,
    PolicyError,
    PositionFigures,
    Proposal,
    ProposalNotOpenError,
    ProposalStatus,
    ReplenishmentPolicy,
    combine,
    daily_series,
    demand_from,
    estimate_demand,
    is_intermittent,
    levels,
    propose,
    round_up,
    z_value,
)
from skuhub_stock.service_layer import replenishment as use_cases
from skuhub_stock.service_layer.replenishment import ReplenishmentDefaults
from tests.fakes.replenishment import FakeReplenishmentRepository

Z_95 = 1.645
GLN = "4012345000009"
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()

# Five days of demand: 3, 3, 5, 7, 7.
# mean = 25 / 5 = 5; deviations -2, -2, 0, 2, 2; squares 4 + 4 + 0 + 4 + 4 = 16;
# sample variance 16 / (5 - 1) = 4; sigma_d = 2.
STEADY = [3.0, 3.0, 5.0, 7.0, 7.0]
# L = 5, R = 4: sqrt(L + R) = 3.
# SS = 1.645 x 2 x 3 = 9.87; reorder point = 5 x 9 + 9.87 = 54.87.
POLICY = ReplenishmentPolicy(lead_time_days=5, review_period_days=4, service_level=0.95)
SS = 9.87
ROP = 54.87


def figures(
    on_hand: str = "20", reserved: str = "38", in_transit: str = "5", incoming: str = "10"
) -> PositionFigures:
    return PositionFigures(
        sku="MUG-1",
        location=GLN,
        unit="EA",
        on_hand=Decimal(on_hand),
        reserved=Decimal(reserved),
        in_transit=Decimal(in_transit),
        incoming=Decimal(incoming),
    )


def ids() -> str:
    return "p-1"


# ------------------------------------------------------------------------------------ formulas


def test_z_of_a_95_percent_service_level_is_the_table_value() -> None:
    assert z_value(0.95) == pytest.approx(Z_95, abs=5e-4)
    assert z_value(0.5) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9999])
def test_z_is_the_quantile_scipy_computes(level: float) -> None:
    """The oracle is scipy's inverse standard normal CDF (Cephes), another implementation."""
    from scipy.special import ndtri

    assert z_value(level) == pytest.approx(float(ndtri(level)), rel=1e-12, abs=1e-12)


def test_steady_demand_is_estimated_by_its_mean_and_sample_standard_deviation() -> None:
    estimate = estimate_demand(STEADY)

    assert estimate.method is ForecastMethod.MEAN
    assert estimate.mean_daily == pytest.approx(5.0)
    assert estimate.std_daily == pytest.approx(2.0)
    assert estimate.days == 5


def test_safety_stock_and_reorder_point_follow_the_formulas() -> None:
    found = levels(POLICY, estimate_demand(STEADY))

    # z is 1.6449 exactly, not 1.645: SS differs from 9.87 by 2 x 3 x 0.00015 = 0.0009.
    assert float(found.safety_stock) == pytest.approx(SS, abs=1e-3)
    assert float(found.reorder_point) == pytest.approx(ROP, abs=1e-3)
    assert found.order_up_to == found.reorder_point, "periodic review: S is the reorder point"


def test_inventory_position_counts_what_is_coming_and_leaves_out_what_is_promised() -> None:
    # 20 on hand + 5 in transit + 10 incoming - 38 reserved = -3
    assert figures().inventory_position == Decimal(-3)
    assert figures().available_to_promise == Decimal(0), "on hand 20 - reserved 38 -> 0"


def test_a_position_at_or_below_its_reorder_point_is_proposed_up_to_the_order_up_to_level() -> None:
    proposal = propose(figures(), POLICY, estimate_demand(STEADY), latest=None, now=NOW, new_id=ids)

    assert proposal is not None
    # S - IP = 54.87 - (-3) = 57.87, rounded up to whole units: 58
    assert proposal.quantity == Decimal(58)
    assert proposal.inventory_position == Decimal(-3)
    assert float(proposal.reorder_point) == pytest.approx(ROP, abs=1e-3)
    assert float(proposal.safety_stock) == pytest.approx(SS, abs=1e-3)
    assert (proposal.id, proposal.status, proposal.created_at) == ("p-1", ProposalStatus.OPEN, NOW)


def test_the_quantity_is_rounded_up_to_the_order_multiple() -> None:
    packs_of_12 = ReplenishmentPolicy(
        lead_time_days=5, review_period_days=4, order_multiple=Decimal(12)
    )
    proposal = propose(
        figures(), packs_of_12, estimate_demand(STEADY), latest=None, now=NOW, new_id=ids
    )

    assert proposal is not None
    # 57.87 / 12 = 4.82 packs -> 5 packs = 60
    assert proposal.quantity == Decimal(60)
    assert round_up(Decimal(24), Decimal(12)) == Decimal(24), "a whole number of packs stays"
    assert round_up(Decimal("0.2"), Decimal("0.25")) == Decimal("0.25")


def test_a_position_above_its_reorder_point_gets_no_proposal() -> None:
    # 60 + 5 + 10 - 38 = 37 <= 54.87 still; 80 + 5 + 10 - 38 = 57 > 54.87
    steady = estimate_demand(STEADY)
    assert propose(figures(on_hand="60"), POLICY, steady, latest=None, now=NOW, new_id=ids)
    assert propose(figures(on_hand="80"), POLICY, steady, latest=None, now=NOW, new_id=ids) is None


def test_min_max_reorders_at_min_up_to_max() -> None:
    min_max = ReplenishmentPolicy(
        min_quantity=Decimal(20), max_quantity=Decimal(120), order_multiple=Decimal(12)
    )
    # IP = 43 + 5 + 10 - 38 = 20: at min -> 120 - 20 = 100 -> 9 packs of 12 = 108
    at_min = propose(
        figures(on_hand="43"), min_max, estimate_demand(STEADY), latest=None, now=NOW, new_id=ids
    )
    assert at_min is not None
    assert at_min.quantity == Decimal(108)
    assert (at_min.reorder_point, at_min.order_up_to) == (Decimal(20), Decimal(120))
    # IP = 21 > min: nothing
    steady = estimate_demand(STEADY)
    assert propose(figures(on_hand="44"), min_max, steady, latest=None, now=NOW, new_id=ids) is None


def test_no_demand_and_nothing_owed_proposes_nothing() -> None:
    estimate = estimate_demand([])
    assert estimate == DemandEstimate(0.0, 0.0, 0, ForecastMethod.NONE)
    nothing = figures(reserved="0", on_hand="0", in_transit="0", incoming="0")
    assert propose(nothing, POLICY, estimate, latest=None, now=NOW, new_id=ids) is None


# --------------------------------------------------------------------------- intermittent demand

# 28 days: 4 units every fourth day (days 4, 8, ..., 28), nothing otherwise: 21 of 28 days
# (75 %) without demand. Sizes 4, intervals 4: Croston = 4 / 4 = 1; SBA = 0.95 x 1 = 0.95.
# mean of the days = 28 / 28 = 1; squares: 7 x (4 - 1)^2 + 21 x (0 - 1)^2 = 63 + 21 = 84;
# sigma_d = sqrt(84 / 27) = sqrt(3.111111) = 1.763834.
EVERY_FOURTH_DAY = [0.0, 0.0, 0.0, 4.0] * 7


def test_intermittent_demand_is_forecast_with_croston_sba() -> None:
    estimate = estimate_demand(EVERY_FOURTH_DAY)

    assert estimate.method is ForecastMethod.CROSTON_SBA
    assert estimate.mean_daily == pytest.approx(0.95)
    assert estimate.std_daily == pytest.approx(1.763834, abs=1e-6)


def test_croston_smooths_sizes_and_intervals_with_alpha_one_tenth() -> None:
    # Sizes 4, 8, 4, 8, 4, 8, 4 every fourth day. Simple exponential smoothing, alpha 0.1,
    # starting from the first size: 4 -> 4.4 -> 4.36 -> 4.724 -> 4.6516 -> 4.98644 -> 4.887796.
    # Intervals all 4 -> 4. SBA = 0.95 x 4.887796 / 4 = 1.16085155.
    series = [0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 8.0] * 3 + [0.0, 0.0, 0.0, 4.0]

    assert estimate_demand(series).mean_daily == pytest.approx(1.16085155, abs=1e-8)


def test_short_or_dense_series_are_not_intermittent() -> None:
    assert not is_intermittent([0.0, 0.0, 4.0] * 9), "27 days: not enough history"
    # 28 days, 5 without demand: 18 % < 30 %
    dense = [0.0] * 5 + [2.0] * 23
    assert not is_intermittent(dense)
    assert estimate_demand(dense).method is ForecastMethod.MEAN
    assert not is_intermittent([0.0] * 40), "no demand at all: nothing to smooth"


# ------------------------------------------------------------------------------------- demand


def test_a_day_without_a_record_had_no_demand() -> None:
    history = [
        DailyDemand(date(2025, 3, 1), shipped=Decimal(2), lost_sales=Decimal(1)),
        DailyDemand(date(2025, 3, 3), shipped=Decimal(4)),
    ]
    assert daily_series(history, date(2025, 3, 1), date(2025, 3, 4)) == [3.0, 0.0, 4.0, 0.0]


def test_shipments_and_lost_sales_are_demand_other_movements_are_not() -> None:
    day = date(2025, 3, 1)
    assert demand_from("shipment", "MUG-1", GLN, day, Decimal(3)) == DemandNoted(
        "MUG-1", GLN, day, shipped=Decimal(3)
    )
    assert demand_from("lost_sale", "MUG-1", GLN, day, Decimal(2)) == DemandNoted(
        "MUG-1", GLN, day, lost_sales=Decimal(2)
    )
    assert demand_from("receipt", "MUG-1", GLN, day, Decimal(5)) is None


def test_demand_of_one_day_is_added_up() -> None:
    day = date(2025, 3, 1)
    combined = combine(
        [
            DemandNoted("MUG-1", GLN, day, shipped=Decimal(3)),
            DemandNoted("MUG-1", GLN, day, lost_sales=Decimal(2)),
            DemandNoted("MUG-1", GLN, day, shipped=Decimal(1)),
        ]
    )
    assert combined == [DemandNoted("MUG-1", GLN, day, Decimal(4), Decimal(2))]


# ------------------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lead_time_days": -1}, "lead_time_days"),
        ({"review_period_days": 3651}, "review_period_days"),
        ({"service_level": 1.0}, "service_level"),
        ({"service_level": 0.4}, "service_level"),
        ({"order_multiple": Decimal(0)}, "order_multiple"),
        ({"min_quantity": Decimal(5)}, "max_quantity"),
        ({"max_quantity": Decimal(5)}, "min_quantity"),
        ({"min_quantity": Decimal(5), "max_quantity": Decimal(5)}, "max_quantity"),
        ({"min_quantity": Decimal(-1), "max_quantity": Decimal(5)}, "min_quantity"),
    ],
)
def test_a_policy_names_the_field_that_breaks_a_rule(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(PolicyError) as refused:
        ReplenishmentPolicy(**changes)  # type: ignore[arg-type]
    assert refused.value.field == field


# ------------------------------------------------------------------------------------ decisions


def open_proposal(created_at: datetime = NOW) -> Proposal:
    proposal = propose(
        figures(), POLICY, estimate_demand(STEADY), latest=None, now=created_at, new_id=ids
    )
    assert proposal is not None
    return proposal


def test_an_open_proposal_is_accepted_or_dismissed_once() -> None:
    later = NOW + timedelta(hours=1)
    accepted = open_proposal().accept(later, by="ana", note="PO 1")

    assert (accepted.status, accepted.decided_at, accepted.decided_by, accepted.note) == (
        ProposalStatus.ACCEPTED,
        later,
        "ana",
        "PO 1",
    )
    with pytest.raises(ProposalNotOpenError):
        accepted.dismiss(later)


def test_an_open_proposal_holds_back_a_new_one_a_decided_one_for_its_review_period() -> None:
    def again(latest: Proposal, at: datetime) -> Proposal | None:
        steady = estimate_demand(STEADY)
        return propose(figures(), POLICY, steady, latest=latest, now=at, new_id=ids)

    assert again(open_proposal(), NOW + timedelta(days=30)) is None
    dismissed = open_proposal().dismiss(NOW)
    # R = 4 days
    assert again(dismissed, NOW + timedelta(days=3, hours=23)) is None
    assert again(dismissed, NOW + timedelta(days=4)) is not None


# ----------------------------------------------------------------------------------- use cases


STEADY_DAYS = [(3, 0), (2, 1), (5, 0), (4, 3), (7, 0)]
"""(shipped, lost sales) of the steady days: 3, 3, 5, 7, 7 in all."""


async def note_steady_demand(repo: FakeReplenishmentRepository) -> None:
    """Days -5 .. -1 before today: 3, 3, 5, 7, 7 (shipped and lost sales mixed)."""
    for back, (shipped, lost) in zip(range(5, 0, -1), STEADY_DAYS, strict=True):
        await use_cases.note_demand(
            repo, "MUG-1", GLN, TODAY - timedelta(days=back), Decimal(shipped), Decimal(lost)
        )


async def test_review_proposes_once_from_the_days_before_today() -> None:
    repo = FakeReplenishmentRepository()
    await note_steady_demand(repo)
    # Today's demand is not over: it does not count.
    await use_cases.note_demand(repo, "MUG-1", GLN, TODAY, shipped=Decimal(1000))
    defaults = ReplenishmentDefaults(policy=POLICY, history_days=91)

    proposals = await use_cases.review(repo, [figures()], NOW, defaults=defaults, new_id=ids)

    # History starts at the first recorded day, so the window is the five days: ROP 54.87.
    [proposal] = proposals
    assert proposal.quantity == Decimal(58)
    assert float(proposal.reorder_point) == pytest.approx(ROP, abs=1e-3)
    assert await use_cases.review(repo, [figures()], NOW, defaults=defaults) == []


async def test_review_uses_the_policy_set_for_the_position() -> None:
    repo = FakeReplenishmentRepository()
    await note_steady_demand(repo)
    await use_cases.set_policy(
        repo,
        "MUG-1",
        GLN,
        ReplenishmentPolicy(min_quantity=Decimal(20), max_quantity=Decimal(120)),
    )

    [proposal] = await use_cases.review(repo, [figures()], NOW)

    assert proposal.quantity == Decimal(123), "max 120 - IP (-3)"


async def test_deciding_a_proposal_that_is_not_open_is_refused() -> None:
    repo = FakeReplenishmentRepository()
    await note_steady_demand(repo)
    [proposal] = await use_cases.review(repo, [figures()], NOW, new_id=ids)

    dismissed = await use_cases.dismiss(repo, proposal.id, NOW, note="overstocked")

    assert dismissed.status is ProposalStatus.DISMISSED
    with pytest.raises(ProposalNotOpenError):
        await use_cases.accept(repo, proposal.id, NOW)


async def test_a_position_is_reviewed_once_per_call() -> None:
    with pytest.raises(ValueError, match="once per call"):
        await use_cases.review(FakeReplenishmentRepository(), [figures(), figures()], NOW)
