"""Event payload rules: GS1 identifiers, quantity per movement kind, versioned names."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from skuhub_contracts.events import (
    ALL_EVENTS,
    EVENTS_BY_TYPE,
    LifecycleStage,
    LifecycleStageChanged,
    MovementKind,
    ProductChanged,
    ProductStatus,
    StockMoved,
)
from skuhub_contracts.identifiers import Gln, Gtin
from skuhub_contracts.topics import (
    ALL_TOPICS,
    DEAD_LETTER_TOPICS,
    EVENT_TOPICS,
    SERVICES,
    STOCK_MOVED,
    dead_letter,
)

GLN_A = "4012345000009"
GLN_B = "0614141000036"


class GtinHolder(BaseModel):
    gtin: Gtin


class GlnHolder(BaseModel):
    gln: Gln


def movement(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sku": "TSHIRT-RED-M",
        "kind": "receipt",
        "location": GLN_A,
        "quantity": "5",
        "source_system": "wms",
        "source_sequence": 1,
        "occurred_at": "2025-03-01T08:00:00Z",
    }
    data.update(overrides)
    return data


# --- GS1 identifiers -------------------------------------------------------------------------


@pytest.mark.parametrize("gtin", ["96385074", "036000291452", "4006381333931", "10012345678902"])
def test_valid_gtins_of_every_length_are_accepted(gtin: str) -> None:
    assert GtinHolder(gtin=gtin).gtin == gtin


@pytest.mark.parametrize("gtin", ["4006381 333931", "400-6381-333931", " 4006381333931"])
def test_a_gtin_is_digits_only_as_the_schema_says(gtin: str) -> None:
    with pytest.raises(ValidationError, match="GTIN must be 8 or 12 or 13 or 14 digits"):
        GtinHolder(gtin=gtin)


@pytest.mark.parametrize("gtin", ["4006381333932", "96385075", "036000291453"])
def test_gtin_with_a_wrong_check_digit_is_rejected(gtin: str) -> None:
    with pytest.raises(ValidationError) as info:
        GtinHolder(gtin=gtin)
    message = str(info.value)
    assert "GTIN" in message
    assert "check digit" in message


@pytest.mark.parametrize("gtin", ["1234567", "400638133", "40063813339", "400638133393100"])
def test_gtin_of_a_wrong_length_is_rejected(gtin: str) -> None:
    with pytest.raises(ValidationError, match="GTIN must be 8 or 12 or 13 or 14 digits"):
        GtinHolder(gtin=gtin)


def test_gtin_with_letters_is_rejected() -> None:
    with pytest.raises(ValidationError, match="GTIN"):
        GtinHolder(gtin="400638133393A")


@pytest.mark.parametrize("gln", [GLN_A, GLN_B, "5901234123457"])
def test_valid_glns_are_accepted(gln: str) -> None:
    assert GlnHolder(gln=gln).gln == gln


def test_gln_with_a_wrong_check_digit_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        GlnHolder(gln="4012345000008")
    assert "4012345000008 is not a valid GLN: wrong check digit" in str(info.value)


@pytest.mark.parametrize("gln", ["401234500000", "40123450000090", "96385074"])
def test_gln_of_a_wrong_length_is_rejected(gln: str) -> None:
    with pytest.raises(ValidationError, match="GLN must be 13 digits"):
        GlnHolder(gln=gln)


def test_stock_moved_rejects_an_invalid_location_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        StockMoved.model_validate(movement(location="4012345000001"))
    assert [e["loc"] for e in info.value.errors()] == [("location",)]


# --- quantity per movement kind ---------------------------------------------------------------

POSITIVE_ONLY = [
    k for k in MovementKind if k not in (MovementKind.ADJUSTMENT, MovementKind.CYCLE_COUNT)
]


def kind_fields(kind: MovementKind) -> dict[str, Any]:
    extra: dict[str, Any] = {"kind": kind.value}
    if kind is MovementKind.TRANSFER_OUT:
        extra["destination"] = GLN_B
    if kind is MovementKind.EXPECTED_RECEIPT:
        extra |= {"order_ref": "PO-1/10", "expected_on": "2025-03-08"}
    return extra


@pytest.mark.parametrize("kind", list(MovementKind))
def test_every_kind_accepts_a_positive_quantity(kind: MovementKind) -> None:
    event = StockMoved.model_validate(movement(quantity="2.5", **kind_fields(kind)))
    assert event.kind is kind
    assert event.quantity == Decimal("2.5")


@pytest.mark.parametrize("kind", POSITIVE_ONLY)
@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_quantity_must_be_positive_for_plain_kinds(kind: MovementKind, quantity: str) -> None:
    with pytest.raises(ValidationError) as info:
        StockMoved.model_validate(movement(quantity=quantity, **kind_fields(kind)))
    [error] = info.value.errors()
    assert error["loc"] == ("quantity",)
    assert error["msg"] == f"must be positive for {kind.value}"


def test_adjustment_is_signed_but_not_zero() -> None:
    down = StockMoved.model_validate(movement(kind="adjustment", quantity="-3"))
    assert down.quantity == Decimal(-3)
    with pytest.raises(ValidationError, match="must not be zero for an adjustment"):
        StockMoved.model_validate(movement(kind="adjustment", quantity="0"))


def test_cycle_count_may_be_zero_but_not_negative() -> None:
    empty = StockMoved.model_validate(movement(kind="cycle_count", quantity="0"))
    assert empty.quantity == 0
    with pytest.raises(ValidationError, match="must be zero or more for a cycle_count"):
        StockMoved.model_validate(movement(kind="cycle_count", quantity="-1"))


def errors_of(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as info:
        StockMoved.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_transfer_out_needs_a_destination_other_than_its_location() -> None:
    assert errors_of(movement(kind="transfer_out")) == [
        (("destination",), "is required for transfer_out (the receiving GLN)")
    ]
    assert errors_of(movement(kind="transfer_out", destination=GLN_A)) == [
        (("destination",), "must differ from location")
    ]


@pytest.mark.parametrize("kind", [k for k in MovementKind if k is not MovementKind.TRANSFER_OUT])
def test_destination_is_only_for_transfer_out(kind: MovementKind) -> None:
    quantity = "0" if kind is MovementKind.CYCLE_COUNT else "1"
    fields = kind_fields(kind)
    assert errors_of(movement(quantity=quantity, destination=GLN_B, **fields)) == [
        (("destination",), f"is only for transfer_out; leave it out for {kind.value}")
    ]
    accepted = StockMoved.model_validate(movement(quantity=quantity, destination=None, **fields))
    assert accepted.destination is None


def test_an_expected_receipt_needs_its_order_line_and_date() -> None:
    assert errors_of(movement(kind="expected_receipt")) == [
        (("order_ref",), "is required for expected_receipt"),
        (("expected_on",), "is required for expected_receipt"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "kinds"),
    [
        ("reservation_id", "R-1", "reservation and reservation_release"),
        ("transfer_ref", "T-1", "transfer_in and transfer_out"),
        ("order_ref", "PO-1/10", "expected_receipt and receipt"),
        ("expected_on", "2025-03-08", "expected_receipt"),
    ],
)
def test_a_reference_belongs_to_the_kinds_it_names(field: str, value: str, kinds: str) -> None:
    assert errors_of(movement(kind="shipment", **{field: value})) == [
        ((field,), f"is only for {kinds}; leave it out for shipment")
    ]


def test_quantity_has_at_most_six_decimal_places() -> None:
    assert StockMoved.model_validate(movement(quantity="0.000001")).quantity == Decimal("0.000001")
    with pytest.raises(ValidationError) as info:
        StockMoved.model_validate(movement(quantity="0.0000001"))
    assert info.value.errors()[0]["loc"] == ("quantity",)


def test_payloads_ignore_unknown_fields_and_are_immutable() -> None:
    event = StockMoved.model_validate(movement(colour="red"))
    assert "colour" not in event.model_dump()
    with pytest.raises(ValidationError):
        event.quantity = Decimal(1)  # type: ignore[misc]


def test_times_must_carry_a_timezone() -> None:
    with pytest.raises(ValidationError) as info:
        StockMoved.model_validate(movement(occurred_at="2025-03-01T08:00:00"))
    assert info.value.errors()[0]["loc"] == ("occurred_at",)


def test_the_record_key_is_the_sku() -> None:
    product = ProductChanged(
        sku="MUG-01",
        product_version=1,
        status=ProductStatus.ENABLED,
        title={"en_US": "Mug"},
        changed_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert product.key == "MUG-01"
    stage = LifecycleStageChanged(
        sku="MUG-01",
        stage=LifecycleStage.ACTIVE,
        stage_version=1,
        reason="launched",
        changed_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert stage.key == "MUG-01"


# --- versioned names --------------------------------------------------------------------------

EVENT_TYPE = re.compile(r"^skuhub\.[a-z][a-z-]*\.v(\d+)$")
TOPIC_NAME = re.compile(r"^[a-z][a-z-]*\.[a-z][a-z-]*\.v(\d+)$")


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.__name__)
def test_event_types_carry_the_major_version(event: type[Any]) -> None:
    match = EVENT_TYPE.match(event.event_type)
    assert match is not None, event.event_type
    assert match.group(1) == "1"


def test_event_types_are_unique_and_indexed() -> None:
    assert len(EVENTS_BY_TYPE) == len(ALL_EVENTS)
    assert all(EVENTS_BY_TYPE[e.event_type] is e for e in ALL_EVENTS)


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_topic_names_carry_v1(topic: Any) -> None:
    match = TOPIC_NAME.match(topic.name)
    assert match is not None, topic.name
    assert topic.name.endswith(".v1")


def test_each_event_has_exactly_one_topic_of_the_same_major_version() -> None:
    carried = [t.event for t in EVENT_TOPICS]
    assert sorted(e.__name__ for e in carried if e) == sorted(e.__name__ for e in ALL_EVENTS)
    for topic in EVENT_TOPICS:
        assert topic.event is not None
        assert topic.name.rsplit(".", 1)[1] == topic.event.event_type.rsplit(".", 1)[1]
    assert len({t.name for t in ALL_TOPICS}) == len(ALL_TOPICS)


def test_topic_prefix_is_prepended() -> None:
    assert STOCK_MOVED.qualified() == "stock.stock-moved.v1"
    assert STOCK_MOVED.qualified("t42.") == "t42.stock.stock-moved.v1"


def test_dead_letter_topics_exist_for_every_service() -> None:
    assert [t.owner for t in DEAD_LETTER_TOPICS] == list(SERVICES)
    assert all(t.event is None for t in DEAD_LETTER_TOPICS)
    assert dead_letter("sync_gateway").name == "sync-gateway.dead-letter.v1"
    assert dead_letter("stock").name == "stock.dead-letter.v1"


@pytest.mark.parametrize("service", ["upstream", "warehouse", "", "Stock", "sync-gateway"])
def test_dead_letter_rejects_unknown_services(service: str) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        dead_letter(service)


# --- bounds the published schema states (each once failed in PostgreSQL or was refused) --------


def refused(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as info:
        StockMoved.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_source_sequence_ends_at_the_largest_bigint() -> None:
    largest = 2**63 - 1
    assert StockMoved.model_validate(movement(source_sequence=largest)).source_sequence == largest
    assert refused(movement(source_sequence=2**63)) == [
        (("source_sequence",), f"Input should be less than or equal to {largest}")
    ]


@pytest.mark.parametrize("value", ["7", True, 7.5])
def test_source_sequence_is_a_json_integer_not_text_or_a_fraction(value: object) -> None:
    [(loc, _)] = refused(movement(source_sequence=value))
    assert loc == ("source_sequence",)


def test_an_integer_written_with_a_zero_fraction_is_an_integer_as_json_schema_says() -> None:
    assert StockMoved.model_validate(movement(source_sequence=7.0)).source_sequence == 7


@pytest.mark.parametrize("field", ["source_system", "lot", "reason"])
@pytest.mark.parametrize("character", ["\x00", "\n", "\x1f", "\x7f"])
def test_text_fields_refuse_control_characters(field: str, character: str) -> None:
    assert refused(movement(**{field: f"wms{character}1"})) == [
        ((field,), "must not contain control characters (U+0000 to U+001F, U+007F)")
    ]


def test_text_refuses_a_lone_surrogate_which_no_database_can_store() -> None:
    [(loc, message)] = refused(movement(lot="L\ud800"))
    assert loc == ("lot",)
    assert "unicode" in message.lower()


def test_attribute_text_refuses_a_lone_surrogate_too() -> None:
    with pytest.raises(ValidationError) as info:
        ProductChanged.model_validate(
            {
                "sku": "MUG-1",
                "product_version": 1,
                "status": "draft",
                "title": {},
                "attributes": {"colour": "red\ud800"},
                "changed_at": "2025-03-01T08:00:00Z",
            }
        )
    [error] = info.value.errors()
    assert error["loc"] == ("attributes", "colour")
    assert "surrogate" in error["msg"]


@pytest.mark.parametrize(
    "written",
    ["0001-01-01T00:00:00+01:00", "1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z"],
)
def test_times_lie_in_the_years_the_contract_states(written: str) -> None:
    assert refused(movement(occurred_at=written)) == [
        (("occurred_at",), "must lie in the years 1900 to 2999")
    ]


def test_a_leap_second_is_the_last_microsecond_of_its_minute() -> None:
    event = StockMoved.model_validate(movement(occurred_at="2016-12-31T23:59:60Z"))
    assert event.occurred_at == datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    offset = StockMoved.model_validate(movement(occurred_at="2017-01-01T00:59:60.5+01:00"))
    assert offset.occurred_at.astimezone(UTC) == event.occurred_at


@pytest.mark.parametrize(
    "written", [1740816000, "2025-03-01", "2025-03-01T08:00Z", "2025-03-01 08:00:00Z"]
)
def test_a_time_is_an_rfc3339_date_time_string_with_seconds(written: object) -> None:
    [(loc, _)] = refused(movement(occurred_at=written))
    assert loc == ("occurred_at",)


@pytest.mark.parametrize("quantity", ["1e3", ".5", "5.", " 5", "1234567890123", "NaN", True])
def test_a_quantity_is_written_as_the_schema_pattern_says(quantity: object) -> None:
    [(loc, _)] = refused(movement(quantity=quantity))
    assert loc == ("quantity",)


def test_every_rule_of_a_movement_names_its_field() -> None:
    problems = refused(
        movement(kind="shipment", quantity="-1", destination=GLN_B, location="4012345000008")
    )
    assert all(loc and isinstance(loc[0], str) for loc, _ in problems), problems
    assert {loc[0] for loc, _ in problems} == {"location", "quantity", "destination"}
    assert not any(message.startswith("Value error") for _, message in problems)


# --- product-changed: the stock facts ---------------------------------------------------------


def product(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sku": "GIFT-SET",
        "product_version": 1,
        "status": "enabled",
        "title": {"en_US": "Gift set"},
        "changed_at": "2025-03-01T08:00:00Z",
    }
    data.update(overrides)
    return data


def product_refused(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as info:
        ProductChanged.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_a_product_without_stock_facts_is_kept_in_each_with_none_of_them() -> None:
    event = ProductChanged.model_validate(product())

    assert (event.unit, event.packs, event.kit_components) == ("EA", {}, [])
    assert (event.lot_tracked, event.shelf_life_days) == (False, None)


def test_stock_facts_read_as_sent() -> None:
    event = ProductChanged.model_validate(
        product(
            unit="KGM",
            packs={"CS": "12", "PF": 480},
            lot_tracked=True,
            shelf_life_days=36_500,
            kit_components=[{"sku": "MUG-1", "quantity": "2"}, {"sku": "TEA-1", "quantity": 0.5}],
        )
    )

    assert event.packs == {"CS": Decimal(12), "PF": Decimal(480)}
    assert (event.lot_tracked, event.shelf_life_days) == (True, 36_500)
    assert [(c.sku, c.quantity) for c in event.kit_components] == [
        ("MUG-1", Decimal(2)),
        ("TEA-1", Decimal("0.5")),
    ]


@pytest.mark.parametrize("unit", ["EA", "KGM"])
def test_a_pack_unit_must_differ_from_the_stock_unit(unit: str) -> None:
    assert product_refused(product(unit=unit, packs={"CS": "12", unit: "1"})) == [
        (
            ("packs",),
            f"{unit} is the stock unit (unit) and cannot also be a pack unit: remove {unit} "
            "from packs (a pack holds a number of stock units), or change unit",
        )
    ]


def test_a_pack_holds_more_than_zero_stock_units() -> None:
    assert product_refused(product(packs={"CS": "0"})) == [
        (("packs", "CS"), "Input should be greater than 0")
    ]


def test_a_kit_does_not_list_itself() -> None:
    components = [{"sku": "MUG-1", "quantity": 1}, {"sku": "GIFT-SET", "quantity": 1}]

    assert product_refused(product(kit_components=components)) == [
        (
            ("kit_components",),
            "a kit cannot be a component of itself: remove GIFT-SET (item 1)",
        )
    ]


def test_a_kit_lists_each_component_sku_once() -> None:
    components = [
        {"sku": "MUG-1", "quantity": 1},
        {"sku": "TEA-1", "quantity": 1},
        {"sku": "MUG-1", "quantity": 2},
    ]

    assert product_refused(product(kit_components=components)) == [
        (
            ("kit_components",),
            "MUG-1 is listed twice (items 0 and 2): list each component SKU once, with the "
            "total quantity",
        )
    ]


def test_a_kit_holds_at_most_100_components_each_of_a_positive_quantity() -> None:
    hundred = [{"sku": f"PART-{n}", "quantity": 1} for n in range(100)]

    assert len(ProductChanged.model_validate(product(kit_components=hundred)).kit_components) == 100
    [(loc, _)] = product_refused(product(kit_components=[*hundred, {"sku": "X", "quantity": 1}]))
    assert loc == ("kit_components",)
    assert product_refused(product(kit_components=[{"sku": "MUG-1", "quantity": "-1"}])) == [
        (("kit_components", 0, "quantity"), "Input should be greater than 0")
    ]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (0, "Input should be greater than or equal to 1"),
        (36_501, "Input should be less than or equal to 36500"),
        ("30", "must be an integer (a JSON number, not a string)"),
        (1.5, "must be an integer (no fraction)"),
    ],
)
def test_a_shelf_life_is_1_to_36500_whole_days(days: object, message: str) -> None:
    assert product_refused(product(shelf_life_days=days)) == [(("shelf_life_days",), message)]


def test_lot_tracked_is_true_or_false_only() -> None:
    [(loc, _)] = product_refused(product(lot_tracked=1))
    assert loc == ("lot_tracked",)
