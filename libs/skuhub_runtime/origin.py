"""Where new facts enter skuhub over HTTP: events that start with a request.

An event originated by a request carries the request's trace (continuing the
caller's ``traceparent`` when it sent one) and the time the request arrived as
its origin time, so latency and traces of HTTP-born changes read like those of
Kafka-born ones. Routes get an :class:`Origin` from
:data:`skuhub_runtime.http.OriginDep`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import EventPayload


class Origin:
    """The request that brings a change in: its trace context, arrival time and service."""

    def __init__(self, traceparent: str | None, tracestate: str | None, *, source: str) -> None:
        self.traceparent = traceparent
        self.tracestate = tracestate
        self.source = source
        self.at = datetime.now(UTC)

    def envelope(
        self,
        payload: EventPayload,
        *,
        time: datetime | None = None,
        origin_time: datetime | None = None,
    ) -> Envelope[Any]:
        """An event caused by this request (``time``: when it happened, default now;
        ``origin_time``: when its change came in, default this request's arrival)."""
        return Envelope(
            payload=payload,
            source=self.source,
            time=time or self.at,
            origin_time=origin_time or self.at,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )
