"""Channels and allocation (domain/channels.py; docs/sync-gateway.md, "Allocation").

Every expected number is worked out by hand from the rules in the docs: share takes
floor(share x pool) per location; exclusive takes its locations' whole pool; priority takes
what the shares left, lowest rank first, up to its cap; shared-pool takes the whole pool
outside the allocation; the safety buffer comes off the channel's total.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from skuhub_sync_gateway.domain.channels import (
    Allocation,
    AllocationRule,
    Channel,
    allocate,
    available_for,
    check_channels,
    localized,
)

A = "4012345000009"
B = "0614141000012"
D = Decimal


def channel(code: str, rule: AllocationRule, *locations: str, **allocation: object) -> Channel:
    return Channel(
        code=code,
        name=code,
        locations=frozenset(locations),
        allocation=Allocation(rule=rule, **allocation),  # type: ignore[arg-type]
    )


def test_two_channels_sharing_a_location_never_promise_more_than_its_atp() -> None:
    web = channel("web", AllocationRule.SHARE, A, share=D("0.5"))
    market = channel("market", AllocationRule.SHARE, A, share=D("0.5"))
    assert check_channels([web, market]) == []
    # 7 units: floor(3.5) = 3 each; one unit stays unpromised rather than sold twice.
    assert allocate([web, market], {A: D(7)}) == {"web": D(3), "market": D(3)}


def test_shares_above_one_at_a_location_are_refused_with_the_place_and_the_channels() -> None:
    web = channel("web", AllocationRule.SHARE, share=D(1))
    market = channel("market", AllocationRule.SHARE, A, share=D("0.3"))
    [problem] = check_channels([web, market])
    assert problem.startswith(f"at {A} the shares of web, market add up to 1.3")


def test_a_channel_of_every_location_overlaps_one_of_unnamed_locations_too() -> None:
    web = channel("web", AllocationRule.SHARE, share=D("0.6"))
    pos = channel("pos", AllocationRule.SHARE, share=D("0.6"))
    assert check_channels([web, pos]) == [
        "at locations no channel names the shares of web, pos add up to 1.2, more than all "
        "of the stock; lower them or make a channel shared-pool"
    ]


def test_an_exclusive_channel_owns_its_locations() -> None:
    store = channel("store", AllocationRule.EXCLUSIVE, B)
    web = channel("web", AllocationRule.SHARE, A, share=D(1))
    assert check_channels([store, web]) == []
    assert allocate([store, web], {A: D(4), B: D(9)}) == {"store": D(9), "web": D(4)}
    everywhere = channel("everywhere", AllocationRule.SHARE, share=D("0.1"))
    assert check_channels([store, everywhere]) == [
        f"at {B} channel store is exclusive but everywhere sell there too"
    ]
    assert check_channels([channel("x", AllocationRule.EXCLUSIVE)]) == [
        "channel x: an exclusive channel names its locations"
    ]


def test_priority_channels_take_what_the_shares_leave_in_rank_order_up_to_their_caps() -> None:
    b2b = channel("b2b", AllocationRule.SHARE, A, share=D("0.25"))
    web = channel("web", AllocationRule.PRIORITY, A, priority=0, cap=D(5))
    outlet = channel("outlet", AllocationRule.PRIORITY, A, priority=1)
    # 20 units: b2b floor(5) = 5; 15 left; web takes its cap 5; outlet the other 10.
    assert allocate([b2b, web, outlet], {A: D(20)}) == {
        "b2b": D(5),
        "web": D(5),
        "outlet": D(10),
    }
    # 3 units: b2b floor(0.75) = 0; web takes 3; nothing is left for the outlet.
    assert allocate([b2b, web, outlet], {A: D(3)}) == {"b2b": D(0), "web": D(3), "outlet": D(0)}


def test_a_shared_pool_channel_promises_the_whole_pool_beside_the_allocated_ones() -> None:
    web = channel("web", AllocationRule.SHARE, A, share=D(1))
    pos = channel("pos", AllocationRule.SHARED_POOL, A)
    assert check_channels([web, pos]) == []
    assert allocate([web, pos], {A: D(6)}) == {"web": D(6), "pos": D(6)}


def test_a_negative_location_atp_promises_nothing_and_takes_nothing_from_elsewhere() -> None:
    web = channel("web", AllocationRule.SHARE, share=D(1))
    assert allocate([web], {A: D(-4), B: D(2)}) == {"web": D(2)}


@pytest.mark.parametrize(
    ("allocated", "buffer", "available"), [(D(10), D(2), D(8)), (D(1), D(2), D(0))]
)
def test_the_safety_buffer_comes_off_the_total_and_never_below_zero(
    allocated: Decimal, buffer: Decimal, available: Decimal
) -> None:
    web = Channel(code="web", name="web", safety_buffer=buffer)
    assert available_for(web, allocated) == available


def test_content_comes_from_the_declared_chain_and_never_from_another_language() -> None:
    titles = {"en_US": "Mug", "fr_FR": "Tasse"}
    assert localized(titles, ("fr_CA", "fr_FR")) == ("Tasse", "fr_FR")
    assert localized(titles, ("de_DE",)) is None
    assert localized({"de_DE": ""}, ("de_DE", "en_US")) is None


def test_a_configuration_that_would_promise_a_unit_twice_stops_the_start() -> None:
    from pydantic import ValidationError

    from skuhub_sync_gateway.settings import SyncGatewaySettings

    with pytest.raises(ValidationError, match="the shares of web, pos add up to 2"):
        SyncGatewaySettings(channels=[{"id": "web", "name": "W"}, {"id": "pos", "name": "P"}])
    with pytest.raises(ValidationError, match="names a channel code twice"):
        SyncGatewaySettings(
            channels=[
                {"id": "web", "allocation": {"share": "0.5"}},
                {"id": "web", "allocation": {"share": "0.5"}},
            ]
        )
