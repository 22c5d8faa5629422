"""The CloudEvents codec: binary mode out, binary and structured mode in, clear rejections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat

from skuhub_contracts.codec import DecodeError, Envelope, decode, encode
from skuhub_contracts.events import (
    ALL_EVENTS,
    ChannelOfferChanged,
    EventPayload,
    InventoryPolicyChanged,
    LifecycleStage,
    LifecycleStageChanged,
    MovementKind,
    ProductChanged,
    ProductStatus,
    ReplenishmentProposed,
    StockLevelChanged,
    StockMoved,
    VariabilityClass,
    VelocityClass,
)

GLN = "4012345000009"
OTHER_GLN = "0614141000036"
T0 = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACESTATE = "vendor=abc"

PAYLOADS: dict[type[EventPayload], EventPayload] = {
    StockMoved: StockMoved(
        sku="TSHIRT-RED-M",
        kind=MovementKind.TRANSFER_OUT,
        location=GLN,
        destination=OTHER_GLN,
        quantity=Decimal("2.5"),
        unit="EA",
        lot="L-7",
        source_system="wms",
        source_sequence=41,
        occurred_at=T0,
    ),
    StockLevelChanged: StockLevelChanged(
        sku="TSHIRT-RED-M",
        location=GLN,
        unit="EA",
        on_hand=Decimal(10),
        reserved=Decimal(3),
        quality_hold=Decimal(1),
        expired=Decimal(0),
        in_transit=Decimal(2),
        incoming=Decimal(24),
        available_to_promise=Decimal(6),
        location_available_to_promise=Decimal(6),
        received=Decimal(12),
        shipped=Decimal(2),
        returned=Decimal(0),
        scrapped=Decimal(0),
        lost_sales=Decimal(5),
        position_version=4,
        caused_by="evt-1",
        changed_at=T0,
    ),
    ProductChanged: ProductChanged(
        sku="TSHIRT-RED-M",
        product_version=2,
        gtin="4006381333931",
        status=ProductStatus.ENABLED,
        title={"en_US": "Red T-shirt", "de_DE": "Rotes T-Shirt"},
        attributes={"colour": "red", "size": "M"},
        changed_at=T0,
    ),
    LifecycleStageChanged: LifecycleStageChanged(
        sku="TSHIRT-RED-M",
        stage=LifecycleStage.ACTIVE,
        previous_stage=LifecycleStage.PRE_LAUNCH,
        stage_version=3,
        reason="launch date reached",
        actor="ops@example.com",
        product_model="TSHIRT-RED",
        successor=None,
        changed_at=T0,
    ),
    ChannelOfferChanged: ChannelOfferChanged(
        sku="TSHIRT-RED-M",
        channel="webshop",
        offer_version=5,
        locale="en_US",
        title="Red T-shirt",
        available=Decimal(7),
        unit="EA",
        stage=LifecycleStage.ACTIVE,
        sellable=True,
        low_stock=False,
        changed_at=T0,
    ),
    ReplenishmentProposed: ReplenishmentProposed(
        sku="TSHIRT-RED-M",
        location=GLN,
        unit="EA",
        available_to_promise=Decimal(2),
        reorder_point=Decimal(5),
        safety_stock=Decimal(3),
        proposed_quantity=Decimal(20),
        proposed_at=T0,
    ),
    InventoryPolicyChanged: InventoryPolicyChanged(
        sku="TSHIRT-RED-M",
        policy_version=2,
        stage=LifecycleStage.PHASE_OUT,
        velocity_class=VelocityClass.C,
        variability_class=VariabilityClass.Z,
        replenish=False,
        service_level=0.9,
        review_period_days=7,
        buffer_multiplier=0.5,
        reason="phase-out: run down, no new orders",
        changed_at=T0,
    ),
}

MOVEMENT_BODY: dict[str, Any] = {
    "sku": "TSHIRT-RED-M",
    "kind": "receipt",
    "location": GLN,
    "quantity": 5,
    "source_system": "wms",
    "source_sequence": 1,
    "occurred_at": "2025-03-01T08:00:00Z",
}


def binary_headers(
    event_type: str = "skuhub.stock-moved.v1", **extra: str
) -> list[tuple[str, bytes]]:
    headers = {
        "ce_id": "wms-1",
        "ce_source": "/wms/berlin",
        "ce_type": event_type,
        "ce_specversion": "1.0",
        "ce_time": "2025-03-01T08:00:01Z",
        "content-type": "application/json",
        **extra,
    }
    return [(name, value.encode()) for name, value in headers.items()]


def body(**overrides: Any) -> bytes:
    return json.dumps({**MOVEMENT_BODY, **overrides}).encode()


def reason_for(value: bytes | None, headers: list[tuple[str, bytes]], **kwargs: Any) -> str:
    with pytest.raises(DecodeError) as info:
        decode(value, headers, **kwargs)
    assert str(info.value) == info.value.reason
    return info.value.reason


# --- binary mode round trip -------------------------------------------------------------------


def test_every_event_type_has_a_sample() -> None:
    assert set(PAYLOADS) == set(ALL_EVENTS)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.__name__)
def test_binary_round_trip_preserves_payload_and_envelope(event: type[EventPayload]) -> None:
    envelope = Envelope(
        payload=PAYLOADS[event],
        id="evt-123",
        source="/skuhub/test",
        time=T0 + timedelta(seconds=2),
        origin_time=T0,
        traceparent=TRACEPARENT,
        tracestate=TRACESTATE,
    )
    record = encode(envelope)
    decoded = decode(record.value, record.headers, key=record.key, accept=[event])
    assert decoded.payload == envelope.payload
    assert type(decoded.payload) is event
    assert decoded.id == "evt-123"
    assert decoded.source == "/skuhub/test"
    assert decoded.type == event.event_type
    assert decoded.time == envelope.time
    assert decoded.origin_time == T0
    assert decoded.traceparent == TRACEPARENT
    assert decoded.tracestate == TRACESTATE


def test_binary_mode_writes_cloudevents_headers_and_the_sku_as_key() -> None:
    envelope = Envelope(
        payload=PAYLOADS[StockMoved],
        id="evt-9",
        source="/skuhub/test",
        time=T0,
        origin_time=T0 - timedelta(minutes=1),
        traceparent=TRACEPARENT,
    )
    record = encode(envelope)
    headers = dict(record.headers)
    assert len(headers) == len(record.headers), "no header may appear twice"
    assert record.key == b"TSHIRT-RED-M"
    assert headers["ce_id"] == b"evt-9"
    assert headers["ce_source"] == b"/skuhub/test"
    assert headers["ce_type"] == b"skuhub.stock-moved.v1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_subject"] == b"TSHIRT-RED-M"
    assert headers["content-type"] == b"application/json"
    assert datetime.fromisoformat(headers["ce_time"].decode()) == T0
    assert datetime.fromisoformat(headers["ce_origintime"].decode()) == T0 - timedelta(minutes=1)
    assert headers["traceparent"] == TRACEPARENT.encode()
    assert "tracestate" not in headers
    value = json.loads(record.value)
    assert value["sku"] == "TSHIRT-RED-M"
    assert value["quantity"] == "2.5"
    assert "specversion" not in value, "binary mode: attributes live in headers, not the body"


def test_headers_as_text_are_accepted() -> None:
    headers = [(name, value.decode()) for name, value in binary_headers()]
    decoded = decode(body(), headers)
    assert decoded.id == "wms-1"


# --- structured mode on ingest ----------------------------------------------------------------


def test_structured_mode_is_accepted_on_ingest() -> None:
    document = {
        "specversion": "1.0",
        "id": "pos-77",
        "source": "/pos/store-12",
        "type": "skuhub.stock-moved.v1",
        "time": "2025-03-01T08:00:01Z",
        "datacontenttype": "application/json",
        "origintime": "2025-03-01T07:59:59+00:00",
        "data": {**MOVEMENT_BODY, "kind": "shipment", "quantity": "1"},
    }
    decoded = decode(
        json.dumps(document).encode(),
        [
            ("content-type", b"application/cloudevents+json"),
            ("traceparent", TRACEPARENT.encode()),
        ],
        accept=[StockMoved],
    )
    assert isinstance(decoded.payload, StockMoved)
    assert decoded.payload.kind is MovementKind.SHIPMENT
    assert decoded.payload.quantity == Decimal(1)
    assert decoded.id == "pos-77"
    assert decoded.source == "/pos/store-12"
    assert decoded.time == datetime(2025, 3, 1, 8, 0, 1, tzinfo=UTC)
    assert decoded.origin_time == datetime(2025, 3, 1, 7, 59, 59, tzinfo=UTC)
    assert decoded.traceparent == TRACEPARENT


def test_structured_mode_with_an_invalid_payload_names_the_field() -> None:
    document = {
        "specversion": "1.0",
        "id": "pos-78",
        "source": "/pos/store-12",
        "type": "skuhub.stock-moved.v1",
        "data": {**MOVEMENT_BODY, "source_sequence": -1},
    }
    reason = reason_for(
        json.dumps(document).encode(), [("content-type", b"application/cloudevents+json")]
    )
    assert reason.startswith("invalid skuhub.stock-moved.v1 payload: source_sequence:")


# --- rejections -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"\xff\xfe\x00\x01garbage", b"not json at all"])
def test_garbage_without_cloudevents_headers_is_not_a_cloudevent(value: bytes) -> None:
    assert reason_for(value, []).startswith("not a CloudEvent:")


def test_garbage_body_with_binary_headers_is_not_json() -> None:
    assert reason_for(b"\xff\xfe{{", binary_headers()).startswith("body is not JSON")


def test_garbage_in_structured_mode_is_not_a_cloudevent() -> None:
    reason = reason_for(b"{oops", [("content-type", b"application/cloudevents+json")])
    assert reason.startswith("not a CloudEvent:")


def test_missing_required_attribute_is_named() -> None:
    headers = [h for h in binary_headers() if h[0] != "ce_source"]
    reason = reason_for(body(), headers)
    assert reason.startswith("not a CloudEvent:")
    assert "source" in reason


@pytest.mark.parametrize("value", [b"", None])
def test_empty_value_is_rejected(value: bytes | None) -> None:
    assert reason_for(value, binary_headers()) == (
        "empty record value; expected a CloudEvent with a JSON body"
    )


def test_unknown_event_type_is_rejected() -> None:
    reason = reason_for(body(), binary_headers("skuhub.stock-teleported.v1"))
    assert reason.startswith("unexpected event type 'skuhub.stock-teleported.v1'")


def test_future_major_version_is_unknown_to_v1_consumers() -> None:
    reason = reason_for(body(), binary_headers("skuhub.stock-moved.v2"))
    assert "'skuhub.stock-moved.v2'" in reason


def test_type_not_accepted_by_this_topic_is_rejected() -> None:
    reason = reason_for(body(), binary_headers(), accept=[ProductChanged, LifecycleStageChanged])
    assert reason == (
        "unexpected event type 'skuhub.stock-moved.v1'; this topic takes "
        "skuhub.product-changed.v1, skuhub.lifecycle-stage-changed.v1"
    )


def test_body_must_be_a_json_object() -> None:
    assert reason_for(b"[1, 2, 3]", binary_headers()) == "body must be a JSON object"


@pytest.mark.parametrize(
    ("overrides", "field", "detail"),
    [
        ({"location": "4012345000008"}, "location", "4012345000008 is not a valid GLN"),
        ({"location": "40123450"}, "location", "GLN must be 13 digits"),
        ({"quantity": -4}, "quantity", "must be positive for receipt"),
        ({"kind": "transfer_out"}, "destination", "is required for transfer_out"),
        ({"kind": "teleport"}, "kind", "Input should be"),
        ({"occurred_at": "yesterday"}, "occurred_at", "must be an RFC 3339 date-time"),
        ({"unit": "each"}, "unit", "String should match pattern"),
    ],
)
def test_invalid_payload_reason_names_the_field(
    overrides: dict[str, Any], field: str, detail: str
) -> None:
    reason = reason_for(body(**overrides), binary_headers())
    assert reason.startswith(f"invalid skuhub.stock-moved.v1 payload: {field}: ")
    assert detail in reason


def test_missing_fields_are_all_listed() -> None:
    data = {k: v for k, v in MOVEMENT_BODY.items() if k not in ("source_system", "occurred_at")}
    reason = reason_for(json.dumps(data).encode(), binary_headers())
    assert "source_system: is required" in reason
    assert "occurred_at: is required" in reason


def test_malformed_origin_time_is_rejected() -> None:
    reason = reason_for(body(), binary_headers(ce_origintime="last tuesday"))
    assert reason.startswith("not a CloudEvent: ce_origintime: must be an RFC 3339 date-time")


# --- origin time ------------------------------------------------------------------------------


def test_origin_time_falls_back_to_the_record_timestamp() -> None:
    timestamp_ms = 1_740_815_999_250  # 2025-03-01T07:59:59.250Z
    decoded = decode(body(), binary_headers(), timestamp_ms=timestamp_ms)
    assert decoded.origin_time == datetime(2025, 3, 1, 7, 59, 59, 250000, tzinfo=UTC)


def test_origin_time_header_wins_over_the_record_timestamp() -> None:
    headers = binary_headers(ce_origintime="2025-02-28T12:00:00+00:00")
    decoded = decode(body(), headers, timestamp_ms=1_740_815_999_250)
    assert decoded.origin_time == datetime(2025, 2, 28, 12, tzinfo=UTC)


def test_an_origin_time_without_offset_is_refused() -> None:
    reason = reason_for(body(), binary_headers(ce_origintime="2025-02-28T12:00:00"))
    assert reason.startswith("not a CloudEvent: ce_origintime: must be an RFC 3339 date-time")


def test_without_origin_or_timestamp_the_event_time_is_the_origin() -> None:
    decoded = decode(body(), binary_headers())
    assert decoded.origin_time == datetime(2025, 3, 1, 8, 0, 1, tzinfo=UTC)
    assert decoded.time == decoded.origin_time


def test_origin_time_survives_a_hop() -> None:
    first = decode(body(), binary_headers(), timestamp_ms=1_740_815_999_250)
    hop = encode(Envelope(payload=first.payload, origin_time=first.origin_time))
    again = decode(hop.value, hop.headers, timestamp_ms=1_900_000_000_000)
    assert again.origin_time == first.origin_time


def test_a_record_keyed_by_another_sku_is_rejected() -> None:
    reason = reason_for(body(), binary_headers(), key=b"OTHER-SKU")
    assert "record key 'OTHER-SKU' is not the event's key 'TSHIRT-RED-M'" in reason


@pytest.mark.parametrize("key", [None, b"", b"TSHIRT-RED-M"])
def test_a_record_keyed_by_its_sku_or_not_keyed_is_accepted(key: bytes | None) -> None:
    assert decode(body(), binary_headers(), key=key).payload.sku == "TSHIRT-RED-M"


# --- CloudEvents attributes: exactly what the AsyncAPI document states --------------------------


def without(name: str) -> list[tuple[str, bytes]]:
    return [h for h in binary_headers() if h[0] != name]


def test_a_record_without_ce_id_is_refused_not_given_an_invented_id() -> None:
    assert reason_for(body(), without("ce_id")) == "not a CloudEvent: ce_id: is required"


@pytest.mark.parametrize("event_id", [b"", b"evt\x00", b"x" * 201])
def test_an_event_id_is_one_line_of_1_to_200_characters(event_id: bytes) -> None:
    reason = reason_for(body(), [*without("ce_id"), ("ce_id", event_id)])
    assert reason.startswith("not a CloudEvent: ce_id: ")


def test_a_cloudevents_header_given_twice_is_ambiguous() -> None:
    reason = reason_for(body(), [*binary_headers(), ("ce_id", b"another")])
    assert reason == "ce_id: given more than once; send each CloudEvents header once"


def test_a_cloudevents_header_that_is_not_utf8_is_named() -> None:
    reason = reason_for(body(), [*without("ce_source"), ("ce_source", b"\xff\xfe")])
    assert reason == "ce_source: must be UTF-8 text"


def test_a_subject_other_than_the_sku_is_refused() -> None:
    reason = reason_for(body(), binary_headers(ce_subject="MUG-1"))
    assert reason == (
        "ce_subject 'MUG-1' is not the payload's sku 'TSHIRT-RED-M'; they must be equal"
    )


def test_a_media_type_other_than_json_is_refused() -> None:
    headers = [*without("content-type"), ("content-type", b"text/plain")]
    assert reason_for(body(), headers) == "content-type: 'text/plain' is not application/json"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(constant: bytes) -> None:
    value = body().replace(b'"quantity": 5', b'"quantity": ' + constant)
    assert reason_for(value, binary_headers()) == (
        f"body is not JSON: {constant.decode()} is not a JSON number"
    )


def test_an_unparsable_traceparent_starts_a_new_trace_instead_of_refusing_the_event() -> None:
    headers = [*binary_headers(), ("traceparent", b"00-\x00zz-1"), ("tracestate", b"a=b")]
    decoded = decode(body(), headers)
    assert (decoded.traceparent, decoded.tracestate) == (None, None)


@pytest.mark.parametrize("timestamp_ms", [2**62, -5, 10**14])
def test_a_record_timestamp_skuhub_cannot_represent_does_not_become_the_origin(
    timestamp_ms: int,
) -> None:
    decoded = decode(body(), binary_headers(), timestamp_ms=timestamp_ms)
    assert decoded.origin_time == datetime(2025, 3, 1, 8, 0, 1, tzinfo=UTC)  # ce_time


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_the_cloudevents_sdk_reads_what_skuhub_writes(event: type[EventPayload]) -> None:
    envelope = Envelope(PAYLOADS[event], time=T0, origin_time=T0 - timedelta(seconds=2))
    record = encode(envelope)

    read = ce_kafka.from_binary(
        ce_kafka.KafkaMessage(dict(record.headers), record.key, record.value), JSONFormat()
    )

    assert (read.get_id(), read.get_source(), read.get_type()) == (
        envelope.id,
        envelope.source,
        event.event_type,
    )
    assert read.get_time() == T0
    assert read.get_subject() == PAYLOADS[event].sku
    assert read.get_extension("origintime") == "2025-03-01T07:59:58.123456Z"
    assert read.get_data() == PAYLOADS[event].model_dump(mode="json")
