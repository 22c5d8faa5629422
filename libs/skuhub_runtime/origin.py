"""Where new facts enter skuhub over HTTP: one span per request, and events that start there.

An event originated by a request carries the request's trace (continuing the
caller's ``traceparent`` when it sent one) and the time the request arrived as
its origin time, so latency and traces of HTTP-born changes read like those of
Kafka-born ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import EventPayload
from skuhub_runtime import telemetry


class Origin:
    """The request that brings a change in: its trace context and arrival time."""

    def __init__(self, traceparent: str | None, tracestate: str | None) -> None:
        self.traceparent = traceparent
        self.tracestate = tracestate
        self.at = datetime.now(UTC)

    def envelope(
        self, payload: EventPayload, *, source: str, time: datetime | None = None
    ) -> Envelope[Any]:
        """An event caused by this request (``time``: when it happened, default now)."""
        return Envelope(
            payload=payload,
            source=source,
            time=time or self.at,
            origin_time=self.at,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )


@contextmanager
def request_origin(name: str, traceparent: str | None, tracestate: str | None) -> Iterator[Origin]:
    """A span named ``name`` under the caller's trace context, as the origin of new events."""
    with telemetry.tracer().start_as_current_span(
        name, context=telemetry.extract(traceparent, tracestate)
    ) as span:
        yield Origin(*telemetry.inject(span))
