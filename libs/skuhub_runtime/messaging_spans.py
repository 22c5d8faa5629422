"""Kafka spans per the OpenTelemetry messaging semantic conventions.

- ``send <topic>`` (PRODUCER, ``messaging.operation.type=send``, the current name of what
  older conventions called ``publish``): one per record the producer sends; the record's
  ``traceparent`` is rewritten to it, so the consumer's span is its child.
- ``receive <topic>`` (CLIENT, ``receive``): one per consumed batch, linked to the context of
  every record in it (the records belong to as many traces).
- ``process <topic>`` (CONSUMER, ``process``): one per record, a child of the span that sent
  it; the events the record causes continue its trace.
- ``create <event type>`` (PRODUCER, ``create``): an event that stands for several records
  (a position changed by three movements of one batch) is created under the span of one
  of them and linked to the others.

Only a process that exports builds attributes, links and the send and receive spans
(:func:`skuhub_runtime.telemetry.exporting`); otherwise the process span alone is made, as
a non-recording span that carries the trace on (docs/profiling.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import messaging_attributes as m
from opentelemetry.trace import Link, SpanKind

from skuhub_runtime import telemetry

SYSTEM = "kafka"
SEND = m.MessagingOperationTypeValues.SEND.value
RECEIVE = m.MessagingOperationTypeValues.RECEIVE.value
PROCESS = m.MessagingOperationTypeValues.PROCESS.value
CREATE = m.MessagingOperationTypeValues.CREATE.value
MAX_LINKS = 128


def record_attributes(
    operation: str,
    topic: str,
    *,
    key: bytes | None,
    partition: int | None = None,
    offset: int | None = None,
    message_id: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """The messaging attributes of one record."""
    attributes: dict[str, Any] = {
        m.MESSAGING_SYSTEM: SYSTEM,
        m.MESSAGING_OPERATION_TYPE: operation,
        m.MESSAGING_DESTINATION_NAME: topic,
    }
    if key:
        attributes[m.MESSAGING_KAFKA_MESSAGE_KEY] = key.decode("utf-8", "replace")
    if partition is not None:
        attributes[m.MESSAGING_DESTINATION_PARTITION_ID] = str(partition)
    if offset is not None:
        attributes[m.MESSAGING_KAFKA_OFFSET] = offset
    if message_id:
        attributes[m.MESSAGING_MESSAGE_ID] = message_id
    if group:
        attributes[m.MESSAGING_CONSUMER_GROUP_NAME] = group
    return attributes


def process_span(
    record: Any, *, message_id: str, traceparent: str | None, tracestate: str | None, group: str
) -> trace.Span:
    """The span of one consumed record, a child of the span that sent it."""
    span = telemetry.tracer().start_span(
        f"{PROCESS} {record.topic}",
        context=telemetry.extract(traceparent, tracestate),
        kind=SpanKind.CONSUMER,
    )
    if telemetry.exporting() and span.is_recording():
        span.set_attributes(
            record_attributes(
                PROCESS,
                record.topic,
                key=record.key,
                partition=record.partition,
                offset=record.offset,
                message_id=message_id,
                group=group,
            )
        )
    return span


def receive_span(
    records: Sequence[Any],
    contexts: Iterable[tuple[str | None, str | None]],
    group: str,
    started_ns: int,
) -> trace.Span:
    """The span of a consumed batch, linked to the context each record carried (only when
    exporting; a non-recording span otherwise)."""
    if not telemetry.exporting():
        return trace.INVALID_SPAN
    topics = sorted({record.topic for record in records})
    # The SDK keeps 128 links per span (OTEL_LINK_COUNT_LIMIT): build no more than it keeps.
    links = [
        Link(trace.get_current_span(telemetry.extract(parent, state)).get_span_context())
        for parent, state in itertools.islice(contexts, MAX_LINKS)
    ]
    return telemetry.tracer().start_span(
        f"{RECEIVE} {topics[0] if len(topics) == 1 else 'multiple'}",
        context=trace.set_span_in_context(trace.INVALID_SPAN),
        kind=SpanKind.CLIENT,
        start_time=started_ns,
        links=[link for link in links if link.context.is_valid],
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
    links = []
    for other_parent, other_state in others:
        context = trace.get_current_span(telemetry.extract(other_parent, other_state))
        span_context = context.get_span_context()
        if span_context.is_valid:
            links.append(Link(span_context))
    if not links:
        return traceparent, tracestate
    span = telemetry.tracer().start_span(
        f"{CREATE} {event_type}",
        context=telemetry.extract(traceparent, tracestate),
        kind=SpanKind.PRODUCER,
        links=links,
        attributes={
            m.MESSAGING_SYSTEM: SYSTEM,
            m.MESSAGING_OPERATION_TYPE: CREATE,
            m.MESSAGING_OPERATION_NAME: CREATE,
            m.MESSAGING_BATCH_MESSAGE_COUNT: len(links) + 1,
        },
    )
    span.end()
    return telemetry.inject(span)


def send_spans(records: Sequence[tuple[str, Any]]) -> list[trace.Span]:
    """One started ``send`` span per record (topic, KafkaRecord), each a child of the
    record's own ``traceparent`` (the span that caused it)."""
    spans = []
    for topic, record in records:
        headers = dict(record.headers)
        parent = headers.get("traceparent")
        state = headers.get("tracestate")
        spans.append(
            telemetry.tracer().start_span(
                f"{SEND} {topic}",
                context=telemetry.extract(
                    parent.decode() if parent else None, state.decode() if state else None
                ),
                kind=SpanKind.PRODUCER,
                attributes=record_attributes(
                    SEND,
                    topic,
                    key=record.key,
                    message_id=(headers.get("ce_id") or b"").decode() or None,
                ),
            )
        )
    return spans


def continued(headers: Sequence[tuple[str, bytes]], span: trace.Span) -> list[tuple[str, bytes]]:
    """``headers`` with the trace context of ``span`` instead of the one they carried."""
    traceparent, tracestate = telemetry.inject(span)
    kept = [(name, value) for name, value in headers if name not in ("traceparent", "tracestate")]
    if traceparent:
        kept.append(("traceparent", traceparent.encode()))
    if tracestate:
        kept.append(("tracestate", tracestate.encode()))
    return kept


def sent(span: trace.Span, partition: int, offset: int) -> None:
    """End a send span with where the broker put the record."""
    span.set_attributes(
        {m.MESSAGING_DESTINATION_PARTITION_ID: str(partition), m.MESSAGING_KAFKA_OFFSET: offset}
    )
    span.end()


def failed(spans: Iterable[trace.Span], exc: BaseException) -> None:
    for span in spans:
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        span.end()
