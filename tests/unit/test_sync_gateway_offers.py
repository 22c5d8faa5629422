"""Offer rules of the sync gateway (domain/offers.py; docs/sync-gateway.md).

Every expectation here is written out by hand from the rules: retired and discontinued
never sell; pre-launch sells only when the lifecycle opened it for pre-order, and then
without stock and with ``pre_order`` true; the offer of a discontinued or retired SKU
names its successor.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from skuhub_sync_gateway.domain.channels import Channel
from skuhub_sync_gateway.domain.offers import (
    Completeness,
    Offer,
    PositionFacts,
    ProductFacts,
    StageFacts,
    build_offer,
    location_atp,
)

SKU = "MUG-1"
NEXT = "MUG-2"
GLN = "4012345000009"
WEB = Channel(code="web", name="Web shop", locales=("de_DE",))
MUG = ProductFacts(
    sku=SKU,
    version=4,
    status="enabled",
    deleted=False,
    unit="EA",
    gtin="4006381333931",
    title={"en_US": "Mug", "de_DE": "Becher"},
    published_version=4,
)
NEW_MUG = ProductFacts(
    sku=NEXT,
    version=1,
    status="enabled",
    deleted=False,
    unit="EA",
    gtin=None,
    title={"en_US": "Mug 2", "de_DE": "Becher 2"},
    published_version=1,
)


def stock(available: str) -> list[PositionFacts]:
    return [PositionFacts(GLN, "", 1, "EA", Decimal(available))]


def offer(
    stage: StageFacts | None,
    positions: list[PositionFacts],
    *,
    product: ProductFacts | None = MUG,
    successor: ProductFacts | None = None,
) -> Offer:
    allocated = sum((max(p.available_to_promise, Decimal(0)) for p in positions), Decimal(0))
    return build_offer(WEB, SKU, product, allocated, stage, successor)


def test_a_retired_sku_does_not_sell_even_with_stock() -> None:
    found = offer(StageFacts("retired", 9), stock("10"))

    assert (found.sellable, found.pre_order, found.reasons) == (
        False,
        False,
        ("lifecycle stage retired does not sell",),
    )
    assert (found.stage, found.available) == ("retired", Decimal(10))


def test_a_discontinued_sku_does_not_sell_even_with_stock() -> None:
    found = offer(StageFacts("discontinued", 8), stock("10"))

    assert (found.sellable, found.reasons) == (
        False,
        ("lifecycle stage discontinued does not sell",),
    )


def test_pre_launch_with_pre_order_sells_at_zero_stock_as_a_pre_order() -> None:
    found = offer(StageFacts("pre-launch", 3, pre_order=True), stock("0"))

    assert (found.sellable, found.pre_order, found.available, found.low_stock) == (
        True,
        True,
        Decimal(0),
        False,
    )
    assert found.reasons == ()


def test_pre_launch_with_pre_order_sells_before_any_position_exists() -> None:
    found = offer(StageFacts("pre-launch", 3, pre_order=True), [])

    assert (found.sellable, found.pre_order, found.available, found.unit) == (
        True,
        True,
        Decimal(0),
        "EA",
    )


def test_pre_launch_with_pre_order_and_early_stock_is_still_a_pre_order() -> None:
    found = offer(StageFacts("pre-launch", 3, pre_order=True), stock("20"))

    assert (found.sellable, found.pre_order, found.available) == (True, True, Decimal(20))


def test_pre_launch_without_pre_order_does_not_sell_even_with_stock() -> None:
    found = offer(StageFacts("pre-launch", 3), stock("20"))

    assert (found.sellable, found.pre_order, found.reasons) == (
        False,
        False,
        ("lifecycle stage pre-launch does not sell without pre-order",),
    )


def test_pre_launch_without_pre_order_and_without_stock_gives_both_reasons() -> None:
    found = offer(StageFacts("pre-launch", 3), stock("0"))

    assert found.reasons == (
        "lifecycle stage pre-launch does not sell without pre-order",
        "no stock available to promise",
    )


def test_a_pre_order_of_a_disabled_product_takes_no_orders() -> None:
    disabled = ProductFacts(SKU, 5, "disabled", False, "EA", None, {"en_US": "Mug"}, 4)

    found = offer(StageFacts("pre-launch", 3, pre_order=True), [], product=disabled)

    assert (found.sellable, found.pre_order, found.reasons) == (
        False,
        False,
        ("product is disabled",),
    )


def test_pre_order_counts_in_pre_launch_only() -> None:
    """A selling stage still needs stock, whatever the flag says."""
    found = offer(StageFacts("active", 4, pre_order=True), stock("0"))

    assert (found.sellable, found.pre_order, found.reasons) == (
        False,
        False,
        ("no stock available to promise",),
    )


def test_a_discontinued_offer_names_its_successor_and_its_title() -> None:
    found = offer(StageFacts("discontinued", 8, successor=NEXT), stock("3"), successor=NEW_MUG)

    assert (found.sellable, found.successor, found.successor_title) == (False, NEXT, "Becher 2")


def test_a_retired_offer_names_its_successor_without_a_title_when_unknown() -> None:
    found = offer(StageFacts("retired", 9, successor=NEXT), [])

    assert (found.sellable, found.successor, found.successor_title) == (False, NEXT, None)


def test_a_deleted_successor_shows_no_title_but_stays_named() -> None:
    deleted = ProductFacts(NEXT, 2, "enabled", True, "EA", None, {"de_DE": "Becher 2"}, 1)

    found = offer(StageFacts("discontinued", 8, successor=NEXT), [], successor=deleted)

    assert (found.successor, found.successor_title) == (NEXT, None)


def test_a_discontinued_sku_without_successor_names_none() -> None:
    found = offer(StageFacts("discontinued", 8), stock("3"))

    assert (found.successor, found.successor_title) == (None, None)


def test_a_successor_is_named_from_discontinued_on_only() -> None:
    found = offer(StageFacts("phase-out", 7, successor=NEXT), stock("3"), successor=NEW_MUG)

    assert (found.sellable, found.successor, found.successor_title) == (True, None, None)


ACTIVE = StageFacts("active", 4)


def test_a_channel_without_its_locale_shows_no_title_of_another_language() -> None:
    french = Channel(code="fr", name="Boutique", locales=("fr_FR",))
    found = build_offer(french, SKU, MUG, Decimal(5), ACTIVE)

    assert (found.title, found.content_locale, found.sellable) == (None, None, False)
    assert found.reasons == ("no published title in fr_FR",)


def test_the_title_comes_from_the_first_locale_of_the_chain_that_has_one() -> None:
    swiss = Channel(code="ch", name="Shop CH", locales=("de_CH", "de_DE", "en_US"))
    found = build_offer(swiss, SKU, MUG, Decimal(5), ACTIVE)

    assert (found.locale, found.content_locale, found.title) == ("de_CH", "de_DE", "Becher")


def test_content_incomplete_for_the_channel_does_not_sell() -> None:
    gaps = Completeness("web", "de_DE", complete=False, missing=("brand", "claim"))
    elsewhere = Completeness("print", "de_DE", complete=False, missing=("photo",))
    incomplete = replace(MUG, completeness=(gaps, elsewhere))

    found = build_offer(WEB, SKU, incomplete, Decimal(5), ACTIVE)

    assert found.reasons == ("incomplete for web/de_DE: brand, claim missing",)


def test_a_channel_taking_back_orders_sells_a_selling_stage_at_zero() -> None:
    backorders = replace(WEB, back_orders=True)

    at_zero = build_offer(backorders, SKU, MUG, Decimal(0), ACTIVE)
    in_stock = build_offer(backorders, SKU, MUG, Decimal(2), ACTIVE)
    retired = build_offer(backorders, SKU, MUG, Decimal(0), StageFacts("retired", 9))

    assert (at_zero.sellable, at_zero.back_order, at_zero.low_stock) == (True, True, False)
    assert (in_stock.back_order, in_stock.low_stock) == (False, True)
    assert (retired.sellable, retired.back_order) == (False, False)


def test_the_safety_buffer_comes_off_what_the_offer_promises() -> None:
    buffered = replace(WEB, safety_buffer=Decimal(3))

    assert build_offer(buffered, SKU, MUG, Decimal(10), ACTIVE).available == Decimal(7)
    assert build_offer(buffered, SKU, MUG, Decimal(2), ACTIVE).reasons == (
        "no stock available to promise",
    )


def test_one_offer_has_one_fingerprint_whatever_the_form_of_its_numbers() -> None:
    a = build_offer(WEB, SKU, MUG, Decimal(5), ACTIVE)
    b = build_offer(WEB, SKU, MUG, Decimal("5.000"), ACTIVE)
    fewer = build_offer(WEB, SKU, MUG, Decimal(4), ACTIVE)
    republished = build_offer(WEB, SKU, replace(MUG, published_version=5), Decimal(5), ACTIVE)

    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != fewer.fingerprint()
    assert a.fingerprint() != republished.fingerprint(), "new content is a new offer"


def test_location_atp_takes_each_location_s_newest_report_of_its_lots() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    reports = [
        PositionFacts(GLN, "L1", 3, "EA", Decimal(5), Decimal(5), t0),
        # A later report of another lot: the location's figure fell to 2 (a lot-less deficit).
        PositionFacts(GLN, "", 7, "EA", Decimal(0), Decimal(2), t0 + timedelta(seconds=1)),
    ]
    assert location_atp(reports) == {GLN: Decimal(2)}
