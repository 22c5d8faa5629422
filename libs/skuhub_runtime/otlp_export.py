"""The OTLP/HTTP span exporter skuhub installs for ``OTEL_TRACES_EXPORTER=otlp``.

It is the library's exporter (``opentelemetry-exporter-otlp-proto-http``: endpoint,
headers, timeout, compression, TLS and retries from ``OTEL_EXPORTER_OTLP_*``), with the
request body written by :mod:`skuhub_runtime.otlp_encoding`, a fifth of the library
encoder's CPU per span. Imported only by a process that exports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from skuhub_runtime.otlp_encoding import SpanEncoder

log = logging.getLogger(__name__)


class OtlpHttpSpanExporter(OTLPSpanExporter):
    """``OTLPSpanExporter`` with :class:`SpanEncoder` in place of the library's encoder."""

    def __init__(self) -> None:
        super().__init__()
        self._encoder = SpanEncoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # The library's export() with its one encode call replaced; _client and _metrics
        # are its own (opentelemetry-exporter-otlp-proto-http is pinned, and
        # tests/e2e/test_traces.py exports through this class to a real receiver).
        if self._shutdown:
            log.warning("span exporter already shut down: %d spans dropped", len(spans))
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                body = self._encoder.request(spans)
            except Exception as exc:  # a span the encoder cannot write drops its batch only
                log.exception("could not encode %d spans", len(spans))
                result.error = exc
                return SpanExportResult.FAILURE
            sent = self._client.export(body)
            if not sent.success:
                result.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
