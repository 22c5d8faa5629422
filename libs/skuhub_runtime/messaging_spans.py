"""Kafka spans per the OpenTelemetry messaging semantic conventions.

- ``send <topic>`` (PRODUCER, ``messaging.operation.type=send``, the current name of what
  older conventions called ``publish``): one per topic of each batch the producer sends,
  a child of its first record's context and linked to the others'. Each record carries
  the context it was created in (the span that processed its cause), and its consumer's
  span is a child of that.
- ``receive <topic>`` (CLIENT, ``receive``): one per consumed batch, linked to the context of
  every record in it (the records belong to as many traces).
- ``process <topic>`` (CONSUMER, ``process``): one per record, a child of the span that sent
  it; the events the record causes continue its trace (:class:`ProcessSpans`).
- ``create <event type>`` (PRODUCER, ``create``): an event that stands for several records
  (a position changed by three movements of one batch) is created under the span of one
  of them and linked to the others.

All of them are :mod:`skuhub_runtime.direct_spans` (the SDK's span cost a tracing process
a third of its throughput's loss to export), or rows of one item for a batch's ``process``
spans where they go only to the export process (:class:`ProcessSpans`). Only a process
that exports builds
attributes, links and the send, receive and create spans
(:func:`skuhub_runtime.telemetry.exporting`); otherwise the process span alone is made, a
span context that carries the trace on (docs/profiling.md).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import messaging_attributes as m
from opentelemetry.trace import SpanKind

from skuhub_runtime import direct_spans, span_wire, telemetry

SYSTEM = "kafka"
SEND = m.MessagingOperationTypeValues.SEND.value
RECEIVE = m.MessagingOperationTypeValues.RECEIVE.value
PROCESS = m.MessagingOperationTypeValues.PROCESS.value
CREATE = m.MessagingOperationTypeValues.CREATE.value
MAX_LINKS = 128
_NEW_TRACE = trace.set_span_in_context(trace.INVALID_SPAN)
"""The parent of a span that starts a trace of its own."""


def process_span(
    record: Any, *, message_id: str, traceparent: str | None, tracestate: str | None, group: str
) -> direct_spans.DirectSpan:
    """The span of one consumed record, a child of the span that sent it (a consumer
    makes these through :class:`ProcessSpans`)."""
    name, context = f"{PROCESS} {record.topic}", telemetry.extract(traceparent, tracestate)
    if not telemetry.exporting():
        return direct_spans.start(name, SpanKind.CONSUMER, context)
    attributes = _process_attributes(record.topic, record.partition, group)
    for key, value in zip(_OWN_KEYS, _own_values(record, message_id), strict=True):
        if value is not None:
            attributes[key] = value
    return direct_spans.start(name, SpanKind.CONSUMER, context, attributes)


class ProcessSpans:
    """The ``process`` spans of one consumed batch: one per record, started as it is read
    and ended together with the batch.

    Where spans go only to the export process (production's OTLP), a record's span is a
    row of a :func:`span_wire.spans_alike` item per topic and partition, shipped when the
    batch ends: about 5 µs of CPU a record instead of 7 to 11 for a direct span of its own
    (docs/benchmarks.md, "Fifth pass"). The sampler is asked for each as for any span,
    without the attributes (the SDK's samplers, the only ones
    :func:`telemetry.configure_tracing` installs, read none). With in-process processors
    (the console, tests) each is a :func:`process_span`; while nothing is exported, only
    the trace is carried on.
    """

    __slots__ = ("_group", "_recorder", "_rows", "_shipper", "_spans")

    def __init__(self, group: str) -> None:
        self._group = group
        recorder = self._recorder = telemetry.recorder()
        self._shipper = recorder.shipper if recorder and not recorder.processors else None
        self._rows: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
        self._spans: list[direct_spans.DirectSpan] = []

    def start(
        self, record: Any, *, message_id: str, traceparent: str | None, tracestate: str | None
    ) -> tuple[str, str | None]:
        """Start ``record``'s span; the ``(traceparent, tracestate)`` of the events it
        causes (children of that span)."""
        recorder = self._recorder
        if recorder is None:
            sender = direct_spans.parent_of(telemetry.extract(traceparent, tracestate))
            return direct_spans.carried(direct_spans.carrier_context(sender), remember=False)
        if self._shipper is None:
            span = process_span(
                record,
                message_id=message_id,
                traceparent=traceparent,
                tracestate=tracestate,
                group=self._group,
            )
            self._spans.append(span)
            return span.carried()
        parent = telemetry.extract(traceparent, tracestate)
        # A record that carries no trace starts one: no span in its (empty) context to look up.
        parent_context = direct_spans.parent_of(parent) if traceparent else None
        name = f"{PROCESS} {record.topic}"
        context, sampled = direct_spans.sampled_context(
            recorder, parent, parent_context, name, SpanKind.CONSUMER, None
        )
        if sampled is not None and context.trace_flags.sampled:
            row = span_wire.alike_row(
                context, parent_context, time.time_ns(), _own_values(record, message_id)
            )
            self._rows.setdefault((record.topic, record.partition), []).append(row)
        return direct_spans.carried(context, remember=sampled is not None)

    def end(self) -> None:
        """End every span started (once)."""
        end_ns = time.time_ns()
        for span in self._spans:
            span.end()
        shipper, recorder, rows_of = self._shipper, self._recorder, self._rows
        self._spans, self._rows = [], {}
        if shipper is None or recorder is None:
            return
        # One item per topic and partition; the shipper splits it where a frame is full.
        for (topic, partition), rows in rows_of.items():
            item = span_wire.spans_alike(
                f"{PROCESS} {topic}",
                SpanKind.CONSUMER,
                recorder.scope,
                _process_attributes(topic, partition, self._group),
                _OWN_KEYS,
                end_ns,
                rows,
            )
            shipper.ship(item, len(rows))


_OWN_KEYS = (m.MESSAGING_KAFKA_OFFSET, m.MESSAGING_MESSAGE_ID, m.MESSAGING_KAFKA_MESSAGE_KEY)
"""A process span's attributes of its own record, after the ones of its partition."""


def _process_attributes(topic: str, partition: int, group: str) -> dict[str, Any]:
    """The attributes every process span of a topic's partition has."""
    return {
        m.MESSAGING_SYSTEM: SYSTEM,
        m.MESSAGING_OPERATION_TYPE: PROCESS,
        m.MESSAGING_DESTINATION_NAME: topic,
        m.MESSAGING_DESTINATION_PARTITION_ID: str(partition),
        m.MESSAGING_CONSUMER_GROUP_NAME: group,
    }


def _own_values(record: Any, message_id: str) -> tuple[int, str, str | None]:
    """The values of a process span's :data:`_OWN_KEYS` (no key: None)."""
    key = record.key.decode("utf-8", "replace") if record.key else None
    return record.offset, message_id, key


def receive_span(
    records: Sequence[Any],
    contexts: Iterable[tuple[str | None, str | None]],
    group: str,
    started_ns: int,
) -> direct_spans.DirectSpan | None:
    """The span of a consumed batch, linked to the context each record carried (only when
    exporting)."""
    if not telemetry.exporting():
        return None
    topics = sorted({record.topic for record in records})
    # The SDK keeps 128 links per span (OTEL_LINK_COUNT_LIMIT): build no more than it keeps.
    return direct_spans.start(
        f"{RECEIVE} {topics[0] if len(topics) == 1 else 'multiple'}",
        SpanKind.CLIENT,
        _NEW_TRACE,
        links=[(p, s) for p, s in itertools.islice(contexts, MAX_LINKS) if p],
        start_ns=started_ns,
        attributes={
            m.MESSAGING_SYSTEM: SYSTEM,
            m.MESSAGING_OPERATION_TYPE: RECEIVE,
            m.MESSAGING_OPERATION_NAME: RECEIVE,
            m.MESSAGING_DESTINATION_NAME: ",".join(topics),
            m.MESSAGING_CONSUMER_GROUP_NAME: group,
            m.MESSAGING_BATCH_MESSAGE_COUNT: len(records),
        },
    )


def joined(
    event_type: str,
    traceparent: str | None,
    tracestate: str | None,
    others: Iterable[tuple[str | None, str | None]],
) -> tuple[str | None, str | None]:
    """``(traceparent, tracestate)`` of an event that stands for several records.

    Exporting: a ``create`` span, a child of the first record's context and linked to
    the others', so each of their traces leads to the event. Otherwise the first's
    context as it is.
    """
    if not telemetry.exporting():
        return traceparent, tracestate
    links: list[direct_spans.Carried] = []
    count = 1
    for other_parent, other_state in others:
        if other_parent:
            count += 1
            if len(links) < MAX_LINKS:  # the SDK's limit; the count says how many there were
                links.append((other_parent, other_state))
    if not links:
        return traceparent, tracestate
    span = direct_spans.start(
        f"{CREATE} {event_type}",
        SpanKind.PRODUCER,
        telemetry.extract(traceparent, tracestate),
        {
            m.MESSAGING_SYSTEM: SYSTEM,
            m.MESSAGING_OPERATION_TYPE: CREATE,
            m.MESSAGING_OPERATION_NAME: CREATE,
            m.MESSAGING_BATCH_MESSAGE_COUNT: count,
        },
        links,
    )
    span.end()
    return span.carried()


@dataclass(slots=True)
class SendSpan:
    """The ``send`` span of the records of one batch bound for one topic."""

    span: direct_spans.DirectSpan
    indexes: list[int]
    """Where its records are in the batch."""


def send_spans(records: Sequence[tuple[str, Any]]) -> list[SendSpan]:
    """Started ``send`` spans of a batch (topic, KafkaRecord): one per topic.

    Each is a child of its first record's context and linked to the others' (each record
    keeps its own ``traceparent``, the context it was created in, which its consumer
    continues). A span per record made 1.7 spans per record stock consumes instead of 1.08,
    and export's CPU with them (docs/benchmarks.md, "Traces exported").
    """
    by_topic: dict[str, list[int]] = {}
    for index, (topic, _) in enumerate(records):
        by_topic.setdefault(topic, []).append(index)
    started = []
    for topic, indexes in by_topic.items():
        carried = [_carried(records[i][1].headers) for i in indexes[: MAX_LINKS + 1]]
        first = carried[0][0]
        links = [(p, s) for p, s in carried[1:] if p and p != first]
        attributes: dict[str, Any] = {
            m.MESSAGING_SYSTEM: SYSTEM,
            m.MESSAGING_OPERATION_TYPE: SEND,
            m.MESSAGING_DESTINATION_NAME: topic,
        }
        if len(indexes) == 1:
            [record] = [records[indexes[0]][1]]
            attributes[m.MESSAGING_KAFKA_MESSAGE_KEY] = record.key.decode("utf-8", "replace")
        else:
            attributes[m.MESSAGING_BATCH_MESSAGE_COUNT] = len(indexes)
        parent = telemetry.extract(*carried[0])
        span = direct_spans.start(f"{SEND} {topic}", SpanKind.PRODUCER, parent, attributes, links)
        started.append(SendSpan(span, indexes))
    return started


def _carried(headers: Sequence[tuple[str, bytes]]) -> tuple[str | None, str | None]:
    """``(traceparent, tracestate)`` of a record's headers."""
    parent = state = None
    for name, value in headers:
        if name == "traceparent":
            parent = value.decode("ascii", "replace")
        elif name == "tracestate":
            state = value.decode("ascii", "replace")
    return parent, state


def sent(send: SendSpan, placed: Sequence[Any]) -> None:
    """End a send span once the broker acknowledged its records (``placed``: the batch's
    record metadata); a single record's partition and offset go on it."""
    if len(send.indexes) == 1:
        metadata = placed[send.indexes[0]]
        send.span.set_attributes(
            {
                m.MESSAGING_DESTINATION_PARTITION_ID: str(metadata.partition),
                m.MESSAGING_KAFKA_OFFSET: metadata.offset,
            }
        )
    send.span.end()


def failed(spans: Iterable[direct_spans.DirectSpan], exc: BaseException) -> None:
    for span in spans:
        span.failed(exc)
        span.end()
