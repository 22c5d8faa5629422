"""Data accuracy, classified by hand (docs/kpis.md): positions and offers against the stock
service at the same position version, the in-flight grace, and the accuracy ratio."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from skuhub_runtime.reconcile import (
    Figures,
    Observation,
    Standing,
    Tally,
    Verdict,
    check_positions,
    reconcile_positions,
    settle,
)
from skuhub_runtime.reconciler import STOCK_ERRORS, Reconciler, pass_requests
from skuhub_runtime.stock_positions import StockPositions, StockUnavailableError, parse
from skuhub_sync_gateway.domain.channels import Allocation, AllocationRule, Channel
from skuhub_sync_gateway.service_layer.accuracy import (
    REBUILDING,
    OfferSnapshot,
    StoredAvailability,
    expected_available,
    judge_offers,
)
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests.harness import wait_until_async

A = "4012345000009"
B = "4012345000016"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=5)
D = Decimal


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fig(location: str, version: int, lot: str = "", **quantities: int) -> Figures:
    return Figures(location, lot, version, {k: D(v) for k, v in quantities.items()})


# ---- positions


def test_the_same_version_with_the_same_figures_matches() -> None:
    [check] = check_positions(
        [fig(A, 3, available_to_promise=5, on_hand=8)],
        [fig(A, 3, available_to_promise=5, on_hand=8, reserved=3)],
    )

    assert check.observed.verdict is Verdict.MATCH


def test_5_and_5_000_are_the_same_figure() -> None:
    local = Figures(A, "", 3, {"on_hand": D("5.000")})

    [check] = check_positions([local], [fig(A, 3, on_hand=5)])

    assert check.observed.verdict is Verdict.MATCH


def test_the_same_version_with_another_figure_is_a_mismatch_naming_it() -> None:
    [check] = check_positions(
        [fig(A, 3, lot="L1", available_to_promise=99, on_hand=8)],
        [fig(A, 3, lot="L1", available_to_promise=5, on_hand=8)],
    )

    assert check.observed.verdict is Verdict.MISMATCH
    assert check.observed.reason == (
        f"{A} lot L1 at version 3: available_to_promise 99 here, 5 at stock"
    )


def test_stock_ahead_is_in_flight_awaiting_its_version() -> None:
    newer, unseen = check_positions(
        [fig(A, 3, on_hand=8)], [fig(A, 4, on_hand=7), fig(B, 1, on_hand=2)]
    )

    assert (newer.key, newer.observed.verdict, dict(newer.observed.awaited)) == (
        (A, ""),
        Verdict.IN_FLIGHT,
        {(A, ""): 4},
    )
    assert (unseen.key, unseen.observed.verdict, dict(unseen.observed.awaited)) == (
        (B, ""),
        Verdict.IN_FLIGHT,
        {(B, ""): 1},
    )


def test_a_projection_ahead_of_stock_is_a_mismatch() -> None:
    ahead, phantom = check_positions([fig(A, 9, on_hand=8), fig(B, 1, on_hand=1)], [fig(A, 4)])

    assert ahead.observed.verdict is Verdict.MISMATCH
    assert ahead.observed.reason == f"projection ahead of stock at {A}: version 9 here, 4 at stock"
    assert phantom.observed.verdict is Verdict.MISMATCH
    assert phantom.observed.reason == (
        f"projection ahead of stock at {B}: version 1 here, none at stock"
    )


# ---- the grace of in-flight checks


IN_FLIGHT_AT_4 = Observation(Verdict.IN_FLIGHT, "stock is ahead", {(A, ""): 4})


def test_in_flight_stays_in_flight_within_the_grace_aged_from_the_first_sighting() -> None:
    first = settle(IN_FLIGHT_AT_4, None, {(A, ""): 3}, at(0), GRACE)
    again = settle(IN_FLIGHT_AT_4, first, {(A, ""): 3}, at(5), GRACE)

    assert (first.verdict, first.since, dict(first.awaited)) == (
        Verdict.IN_FLIGHT,
        at(0),
        {(A, ""): 4},
    )
    assert (again.verdict, again.since) == (Verdict.IN_FLIGHT, at(0))


def test_still_behind_after_the_grace_is_a_mismatch_aged_from_the_first_sighting() -> None:
    first = settle(IN_FLIGHT_AT_4, None, {(A, ""): 3}, at(0), GRACE)
    # Stock moved on to 6 meanwhile; the projection has not even reached 4.
    later = Observation(Verdict.IN_FLIGHT, "stock is ahead", {(A, ""): 6})

    late = settle(later, first, {(A, ""): 3}, at(5.5), GRACE)

    assert (late.verdict, late.since, dict(late.awaited)) == (
        Verdict.MISMATCH,
        at(0),
        {(A, ""): 4},
    )
    assert "not applied within 5 s" in late.reason


def test_a_projection_that_caught_up_starts_a_new_episode_when_stock_moves_again() -> None:
    first = settle(IN_FLIGHT_AT_4, None, {(A, ""): 3}, at(0), GRACE)
    moved_again = Observation(Verdict.IN_FLIGHT, "stock is ahead", {(A, ""): 6})

    # The projection reached 4 (what stock had at the first sighting), stock is at 6 now.
    again = settle(moved_again, first, {(A, ""): 5}, at(9), GRACE)

    assert (again.verdict, again.since, dict(again.awaited)) == (
        Verdict.IN_FLIGHT,
        at(9),
        {(A, ""): 6},
    )


def test_a_mismatch_keeps_its_first_sighting_and_a_match_ends_it() -> None:
    wrong = Observation(Verdict.MISMATCH, "available_to_promise 99 here, 5 at stock")

    first = settle(wrong, None, {(A, ""): 3}, at(0), GRACE)
    still = settle(wrong, first, {(A, ""): 3}, at(60), GRACE)
    fixed = settle(Observation(Verdict.MATCH), still, {(A, ""): 3}, at(61), GRACE)
    kept = settle(Observation(Verdict.MATCH), fixed, {(A, ""): 3}, at(70), GRACE)

    assert (first.verdict, first.since) == (Verdict.MISMATCH, at(0))
    assert (still.verdict, still.since) == (Verdict.MISMATCH, at(0))
    assert (fixed.verdict, fixed.since, fixed.reason) == (Verdict.MATCH, at(61), "")
    assert kept.since == at(61)


def test_in_flight_that_turns_out_wrong_at_the_same_version_keeps_its_age() -> None:
    first = settle(IN_FLIGHT_AT_4, None, {(A, ""): 3}, at(0), GRACE)
    wrong = Observation(Verdict.MISMATCH, "on_hand 7 here, 8 at stock")

    found = settle(wrong, first, {(A, ""): 4}, at(2), GRACE)

    assert (found.verdict, found.since) == (Verdict.MISMATCH, at(0))


def test_positions_of_a_batch_are_settled_against_their_stored_verdicts() -> None:
    previous = {("MUG-1", A, ""): Standing(Verdict.IN_FLIGHT, at(0), "", {(A, ""): 4})}

    verdicts = reconcile_positions(
        ["MUG-1", "CUP-2"],
        {"MUG-1": [fig(A, 3, on_hand=1)], "CUP-2": [fig(B, 2, on_hand=5)]},
        {"MUG-1": [fig(A, 4, on_hand=2)], "CUP-2": [fig(B, 2, on_hand=5)]},
        previous,
        at(6),
        GRACE,
    )

    assert [(v.key, v.standing.verdict, v.standing.since) for v in verdicts] == [
        (("MUG-1", A, ""), Verdict.MISMATCH, at(0)),
        (("CUP-2", B, ""), Verdict.MATCH, at(6)),
    ]


@pytest.mark.parametrize(
    ("tally", "accuracy"),
    [
        (Tally(matches=3, mismatches=1, in_flight=7), D("0.75")),
        (Tally(matches=2, mismatches=0), D(1)),
        (Tally(matches=1, mismatches=2), D("0.333333")),
        (Tally(in_flight=4), None),
    ],
)
def test_accuracy_is_matches_over_compared_in_flight_apart(
    tally: Tally, accuracy: Decimal | None
) -> None:
    assert tally.accuracy == accuracy


def test_oldest_mismatch_age_counts_from_its_first_sighting() -> None:
    tally = Tally(mismatches=2, oldest_mismatch_since=at(0))

    assert tally.oldest_mismatch_age_s(at(42)) == 42.0
    assert Tally(matches=1).oldest_mismatch_age_s(at(42)) is None


# ---- the stock API's answer


def test_the_stock_answer_is_read_as_exact_figures_by_location_and_lot() -> None:
    answer = parse(
        {
            "sku": "MUG-1",
            "kit": False,
            "positions": [
                {
                    "location": A,
                    "lot": None,
                    "version": 3,
                    "on_hand": "8",
                    "reserved": "3",
                    "available_to_promise": "5.0",
                    "unit": "EA",
                },
                {
                    "location": A,
                    "lot": "L1",
                    "version": 1,
                    "on_hand": "-2",
                    "reserved": "0",
                    "available_to_promise": "0",
                    "unit": "EA",
                },
            ],
            "locations": [{"location": A, "available_to_promise": "3"}],
        }
    )

    assert answer.positions == (
        Figures(A, "", 3, {"on_hand": D(8), "reserved": D(3), "available_to_promise": D(5)}),
        Figures(A, "L1", 1, {"on_hand": D(-2), "reserved": D(0), "available_to_promise": D(0)}),
    )
    assert answer.location_atp == {A: D(3)}


# ---- offers


WEB = Channel(
    "web", "Web shop", allocation=Allocation(AllocationRule.SHARE, D("0.6")), safety_buffer=D(1)
)
MARKET = Channel(
    "market",
    "Marketplace",
    locations=frozenset({A}),
    allocation=Allocation(AllocationRule.SHARE, D("0.4")),
)
STOCK = StockPositions(
    "MUG-1",
    positions=(fig(A, 3), fig(B, 2)),
    location_atp={A: D(10), B: D(5)},
)


def test_each_channel_should_promise_its_allocation_of_stocks_location_atp_less_its_buffer() -> (
    None
):
    # web: floor(0.6 x 10) = 6 at A, floor(0.6 x 5) = 3 at B, 9 less the buffer 1 = 8;
    # market sells from A only: floor(0.4 x 10) = 4.
    assert expected_available([WEB, MARKET], {A: D(10), B: D(5)}) == {"web": D(8), "market": D(4)}


def snapshot(
    offers: dict[str, StoredAvailability],
    local: list[Figures] | None = None,
    *,
    rebuilding: bool = False,
    known: bool = True,
) -> OfferSnapshot:
    return OfferSnapshot(
        skus=["MUG-1"],
        channels=[WEB, MARKET],
        rebuilding=rebuilding,
        positions={"MUG-1": local if local is not None else [fig(A, 3), fig(B, 2)]},
        offers={"MUG-1": offers} if offers else {},
        known={"MUG-1"} if known else set(),
    )


def verdicts(snap: OfferSnapshot, now: datetime = T0) -> dict[str, tuple[Verdict, str]]:
    found = judge_offers(snap, {"MUG-1": STOCK}, {}, now, GRACE)
    return {v.channel: (v.standing.verdict, v.standing.reason) for v in found}


def test_an_offer_promising_its_allocation_at_the_same_versions_matches() -> None:
    found = judge_offers(
        snapshot({"web": StoredAvailability(4, D(8)), "market": StoredAvailability(2, D(4))}),
        {"MUG-1": STOCK},
        {},
        T0,
        GRACE,
    )

    assert [(v.channel, v.standing.verdict, v.expected_available) for v in found] == [
        ("web", Verdict.MATCH, D(8)),
        ("market", Verdict.MATCH, D(4)),
    ]


def test_an_offer_promising_another_number_at_the_same_versions_is_a_mismatch() -> None:
    found = verdicts(
        snapshot({"web": StoredAvailability(4, D(8)), "market": StoredAvailability(2, D(5))})
    )

    assert found["web"] == (Verdict.MATCH, "")
    assert found["market"] == (
        Verdict.MISMATCH,
        "offer version 2 promises 5; stock's location ATP at the same position versions "
        "allocates 4",
    )


def test_offers_are_in_flight_while_stock_is_ahead_and_show_no_expected_figure() -> None:
    found = judge_offers(
        snapshot(
            {"web": StoredAvailability(4, D(3)), "market": StoredAvailability(2, D(5))},
            [fig(A, 2), fig(B, 2)],
        ),
        {"MUG-1": STOCK},
        {},
        T0,
        GRACE,
    )

    assert {(v.channel, v.standing.verdict, v.expected_available) for v in found} == {
        ("web", Verdict.IN_FLIGHT, None),
        ("market", Verdict.IN_FLIGHT, None),
    }
    assert all(dict(v.standing.awaited) == {(A, ""): 3} for v in found)


def test_offers_are_in_flight_while_they_are_built_again_after_a_channel_change() -> None:
    found = verdicts(snapshot({"web": StoredAvailability(4, D(1))}, rebuilding=True))

    assert found["web"] == (Verdict.IN_FLIGHT, REBUILDING)


def test_a_known_product_without_an_offer_on_a_channel_is_a_mismatch() -> None:
    found = verdicts(snapshot({"web": StoredAvailability(4, D(8))}))

    assert found["market"] == (Verdict.MISMATCH, "no stored offer of a product the gateway knows")


def test_a_sku_with_neither_offers_nor_a_known_product_has_no_offer_verdicts() -> None:
    assert verdicts(snapshot({}, known=False)) == {}


# ---- the worker's loop


class Unanswered(Reconciler[Any, Any]):
    """A reconciler whose stock never answers, for ``failures`` steps, then stops."""

    def __init__(self, failures: int) -> None:
        settings = SyncGatewaySettings(reconcile_interval_s=0.001)
        super().__init__(
            cast(Any, SimpleNamespace(service="kpi-test")),
            cast(Any, None),
            cast(Any, None),
            settings,
        )
        self.left = failures

    async def step(self, now: datetime | None = None) -> bool:
        if self.left == 0:
            raise asyncio.CancelledError
        self.left -= 1
        raise StockUnavailableError("the stock service at http://stock did not answer")


async def test_stock_not_answering_is_counted_every_time_and_warned_about_once_a_while(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = STOCK_ERRORS.labels("kpi-test")._value.get()

    with caplog.at_level(logging.WARNING), pytest.raises(asyncio.CancelledError):
        await Unanswered(failures=5).run()

    assert STOCK_ERRORS.labels("kpi-test")._value.get() - before == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "reconciler: the stock service at http://stock did not answer for 0s; trying again every 0s"
    ]


class Counting(Reconciler[Any, Any]):
    """A reconciler between passes (each step ends one) with an interval of an hour."""

    def __init__(self, runtime: Any) -> None:
        settings = SyncGatewaySettings(reconcile_interval_s=3600)
        super().__init__(runtime, cast(Any, None), cast(Any, None), settings)
        self.steps = 0

    async def step(self, now: datetime | None = None) -> bool:
        self.steps += 1
        return False


async def test_a_requested_pass_starts_at_once_instead_of_after_the_interval() -> None:
    runtime = cast(Any, SimpleNamespace(service="kpi-test"))
    reconciler = Counting(runtime)
    running = asyncio.create_task(reconciler.run())
    try:

        async def steps(n: int) -> bool:
            return reconciler.steps == n

        await wait_until_async(lambda: steps(1), within_s=5, what="the first pass")
        pass_requests(runtime).set()
        await wait_until_async(
            lambda: steps(2), within_s=5, what="a pass long before the hour is out"
        )
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


class RequestedMidPass(Reconciler[Any, Any]):
    """Passes of three steps, an hour apart; a pass is asked for during the first one."""

    def __init__(self, runtime: Any) -> None:
        settings = SyncGatewaySettings(reconcile_interval_s=3600, reconcile_step_pause_s=0.001)
        super().__init__(runtime, cast(Any, None), cast(Any, None), settings)
        self.steps = 0

    async def step(self, now: datetime | None = None) -> bool:
        self.steps += 1
        if self.steps == 2:
            pass_requests(self._runtime).set()
        return self.steps % 3 != 0


async def test_a_pass_asked_for_during_a_pass_starts_when_that_one_ends() -> None:
    runtime = cast(Any, SimpleNamespace(service="kpi-test"))
    reconciler = RequestedMidPass(runtime)
    running = asyncio.create_task(reconciler.run())
    try:

        async def steps(n: int) -> bool:
            return reconciler.steps >= n

        # Step 4 is the first of a pass that started after the request, not an hour later.
        await wait_until_async(lambda: steps(4), within_s=5, what="a pass after the request")
        await wait_until_async(lambda: steps(6), within_s=5, what="that pass's last step")
        assert reconciler.steps == 6, "the request was answered by more than one pass"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
