"""A consumed batch's ``process`` spans, shipped as rows (``span_wire.spans_alike``), reach
OTLP as the spans they stand for.

The oracle is the library's encoder applied to SDK spans built here from the messaging
semantic conventions' attribute names and the records' own values; only the random ids
and the clock readings are taken from what was shipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.span import TraceState

from skuhub_runtime import messaging_spans, span_wire, telemetry
from skuhub_runtime.otlp_encoding import SpanEncoder
from skuhub_runtime.span_shipping import ShippingSpanProcessor
from tests.exported_spans import CollectingShipper, library_request, our_request
from tests.harness import wait_until

SENDER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNSAMPLED_SENDER = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00"
TOPIC = "skuhub.stock-moved.v1"


@pytest.fixture
def shipper(monkeypatch: pytest.MonkeyPatch) -> Iterator[CollectingShipper]:
    """A process whose spans go only to the export process (as production's OTLP)."""
    shipper = CollectingShipper(Resource.create({"service.name": "skuhub-stock"}))
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), resource=shipper.resource)
    recorder = telemetry.Recorder.of(provider, (shipper,))
    monkeypatch.setattr(telemetry, "_RECORDER", recorder)
    yield shipper
    shipper.shutdown()
    provider.shutdown()


def _record(partition: int, offset: int, key: bytes | None) -> SimpleNamespace:
    return SimpleNamespace(topic=TOPIC, partition=partition, offset=offset, key=key)


def test_rows_encode_as_the_process_spans_they_stand_for(shipper: CollectingShipper) -> None:
    spans = messaging_spans.ProcessSpans("stock")
    consumed = [
        (_record(0, 7, b"SKU-1"), "id-1", SENDER, "vendor=value"),
        (_record(0, 8, None), "id-2", None, None),
        (_record(0, 9, b"SKU-3"), "id-3", SENDER, None),
        (_record(1, 4, b"SKU-4"), "id-4", UNSAMPLED_SENDER, None),
    ]
    carried = [
        spans.start(record, message_id=message_id, traceparent=parent, tracestate=state)
        for record, message_id, parent, state in consumed
    ]
    spans.end()

    # Three sampled spans of partition 0 in one item (frames split items, the last test);
    # none for the record whose sender was not sampled (ParentBased), which still carries
    # the trace on.
    assert shipper.counts == [3]
    items = shipper.items
    rows = [row for item in items for row in item[span_wire.ALIKE_ROWS_AT]]
    end = items[0][3]
    oracle = []
    for (record, message_id, parent, state), row in zip(consumed[:3], rows, strict=True):
        trace_id = (row[0] << 64) | row[1]
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": TOPIC,
            "messaging.destination.partition.id": "0",
            "messaging.consumer.group.name": "stock",
            "messaging.kafka.offset": record.offset,
            "messaging.message.id": message_id,
        }
        if record.key:
            attributes["messaging.kafka.message.key"] = record.key.decode()
        sender = (
            SpanContext(int(parent[3:35], 16), int(parent[36:52], 16), is_remote=True)
            if parent
            else None
        )
        if sender is not None:
            assert trace_id == sender.trace_id
        oracle.append(
            ReadableSpan(
                name=f"process {TOPIC}",
                context=SpanContext(
                    trace_id,
                    row[2],
                    False,
                    TraceFlags(TraceFlags.SAMPLED),
                    TraceState.from_header([state]) if state else None,
                ),
                parent=sender,
                resource=shipper.resource,
                attributes=attributes,
                kind=SpanKind.CONSUMER,
                start_time=row[5],
                end_time=end,
                instrumentation_scope=telemetry.recorder().scope,  # type: ignore[union-attr]
            )
        )
    assert our_request(items, SpanEncoder(shipper.resource)) == library_request(oracle)
    # Each record's events are children of its span, in its trace.
    for (traceparent, tracestate), row, (_, _, _, state) in zip(
        carried[:3], rows, consumed[:3], strict=True
    ):
        assert traceparent[:53] == f"00-{row[0]:016x}{row[1]:016x}-{row[2]:016x}-"
        assert int(traceparent[53:], 16) & 0x01  # sampled (0x02 also: a random new trace id)
        assert tracestate == state
    unsampled, _ = carried[3]
    assert unsampled.startswith(UNSAMPLED_SENDER[:36])
    assert unsampled.endswith("-00")
    assert span_wire.spans_in(items) == 3


def test_nothing_is_shipped_twice_and_nothing_is_built_while_not_exporting(
    shipper: CollectingShipper, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = messaging_spans.ProcessSpans("stock")
    spans.start(_record(0, 1, b"SKU-1"), message_id="id-1", traceparent=SENDER, tracestate=None)
    spans.end()
    spans.end()
    assert len(shipper.items) == 1

    monkeypatch.setattr(telemetry, "_RECORDER", None)
    quiet = messaging_spans.ProcessSpans("stock")
    traceparent, _ = quiet.start(
        _record(0, 2, None), message_id="id-2", traceparent=SENDER, tracestate=None
    )
    quiet.end()

    assert len(shipper.items) == 1
    # A new span id in the sender's trace, the sender's sampling kept.
    assert traceparent[:36] == SENDER[:36]
    assert traceparent[36:52] != SENDER[36:52]
    assert traceparent.endswith("-01")


class _Frames(ShippingSpanProcessor):
    """The frames the export process would read, kept in a list."""

    def __init__(self) -> None:
        super().__init__(
            Resource.create({}), max_queue_size=2_048, max_batch_size=512, schedule_delay_ms=600_000
        )
        self.frames: list[list[list[Any]]] = []

    def _ship(self, spans: list[list[Any]]) -> None:
        self.frames.append(spans)


def test_frames_hold_a_full_batch_of_spans_splitting_rows_where_needed() -> None:
    processor = _Frames()
    scope = telemetry.Recorder.of(TracerProvider(), ()).scope
    try:
        offset = 0
        for size in (167, 167, 166, 300, 200):  # 1,000 spans in five items
            rows = [(0, 1, 2, None, None, 0, offset + i, "id", None) for i in range(size)]
            item = span_wire.spans_alike(
                "process t", SpanKind.CONSUMER, scope, {}, ["offset", "id", "key"], 9, rows
            )
            processor.ship(item, size)
            offset += size
        wait_until(lambda: len(processor.frames) == 1, what="a full frame")
        assert processor.force_flush(10_000)

        assert [span_wire.spans_in(frame) for frame in processor.frames] == [512, 488]
        shipped = [
            row[6]
            for frame in processor.frames
            for item in frame
            for row in item[span_wire.ALIKE_ROWS_AT]
        ]
        assert shipped == list(range(1_000))  # every span once, in order
    finally:
        processor.shutdown()
