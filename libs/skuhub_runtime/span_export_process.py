"""The export process a service starts for its spans (:mod:`skuhub_runtime.span_shipping`).

It reads batches of spans from its standard input (frames of
:data:`~skuhub_runtime.span_shipping.FRAME_HEADER` and :mod:`~skuhub_runtime.span_wire`
JSON) and posts each to the collector with the OTLP/HTTP exporter
(:mod:`skuhub_runtime.otlp_export`: endpoint, headers, timeout, compression, TLS and
retries from the standard ``OTEL_EXPORTER_OTLP_*`` variables it inherits). While a post
waits, it reads nothing more: the pipe fills and the service drops spans instead of
waiting. It runs at a lower scheduling priority than its service (:data:`NICENESS`). At
the end of its input (the service stopped, or died) it posts what it has and exits. Not
run by hand: ``python -m skuhub_runtime.span_export_process``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys

from skuhub_runtime import span_wire
from skuhub_runtime.otlp_export import OtlpHttpSpanExporter
from skuhub_runtime.span_shipping import FRAME_HEADER, RESOURCE_VARIABLE

log = logging.getLogger("skuhub_runtime.span_export_process")

NICENESS = 10
"""How much lower than its service's the export process's scheduling priority is."""


def main() -> int:
    # The service ends this process by closing the pipe, after its own last spans: an
    # interrupt meant for the service must not cut the export short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Export is the service's background work: where every core is busy, the service's
    # own work (and its database's and broker's) goes first. Spans wait in the pipe
    # meanwhile; only a queue that fills drops them, and counts them.
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    exporter = OtlpHttpSpanExporter(span_wire.resource_of(os.environ[RESOURCE_VARIABLE]))
    source = sys.stdin.buffer
    try:
        while True:
            header = source.read(FRAME_HEADER.size)
            if len(header) < FRAME_HEADER.size:
                return 0
            (size,) = FRAME_HEADER.unpack(header)
            document = source.read(size)
            if len(document) < size:
                log.warning("the service stopped in the middle of a batch of spans")
                return 0
            try:
                spans = span_wire.loads(document)
            except Exception:  # a batch that cannot be read is lost alone
                log.exception("could not read a batch of spans (%d bytes)", size)
                continue
            exporter.export_items(spans)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    sys.exit(main())
