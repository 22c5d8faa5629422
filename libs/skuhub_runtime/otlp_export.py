"""The OTLP/HTTP span exporter skuhub installs for ``OTEL_TRACES_EXPORTER=otlp``.

It is the library's exporter (``opentelemetry-exporter-otlp-proto-http``: endpoint,
headers, timeout, compression, TLS and retries from ``OTEL_EXPORTER_OTLP_*``), with the
request body written by :mod:`skuhub_runtime.otlp_encoding` from the spans' wire form
(:mod:`skuhub_runtime.span_wire`). Imported only by a process that exports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from skuhub_runtime import span_wire
from skuhub_runtime.otlp_encoding import SpanEncoder

log = logging.getLogger(__name__)


class OtlpHttpSpanExporter(OTLPSpanExporter):
    """``OTLPSpanExporter`` with :class:`SpanEncoder` in place of the library's encoder,
    for the spans of one ``resource``."""

    def __init__(self, resource: Resource) -> None:
        super().__init__()
        self._encoder = SpanEncoder(resource)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export SDK spans (of this exporter's resource)."""
        return self.export_items([span_wire.of_span(span) for span in spans])

    def export_items(self, items: Sequence[Sequence[Any]]) -> SpanExportResult:
        """Export spans in their wire form, as the export process reads them."""
        # The library's export() with its one encode call replaced; _client and _metrics
        # are its own (opentelemetry-exporter-otlp-proto-http is pinned, and
        # tests/e2e/test_traces.py exports through this class to a real receiver).
        if self._shutdown:
            log.warning("span exporter already shut down: %d spans dropped", len(items))
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(items)) as result:
            try:
                body = self._encoder.request(items)
            except Exception as exc:  # a span the encoder cannot write drops its batch only
                log.exception("could not encode %d spans", len(items))
                result.error = exc
                return SpanExportResult.FAILURE
            sent = self._client.export(body)
            if not sent.success:
                result.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
