"""The CPU a consumer's span path costs per record, without export and with every span
exported: the figure behind the traced throughput ratio, measured alone.

Stock's throughput with and without export moves with whatever else the machine runs.
This runs only the tracing a consumer does for a batch (a ``process`` span per record and
its carried context, the batch's ``receive`` span, ``create`` spans for events that stand
for several records, the ``send`` spans of the produced events) on synthetic records, in
a fresh process configured by the same ``OTEL_*`` variables, and reads that process's CPU
time (every thread: the queue and the writes to the export process too) until its spans
are out. The export process's own CPU is not counted: it is not the service's.

Run by ``skuhub bench --traced``; by hand: ``python -m skuhub_cli.bench_span_path 30000``
(with ``OTEL_TRACES_EXPORTER=otlp`` and an endpoint to measure export).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

BATCH = 500
COALESCED_EVERY = 9
"""One record in nine causes an event that stands for it and the two after it."""


def span_path(records: int) -> float:
    """CPU microseconds per record of the span path, in this process."""
    from skuhub_contracts.codec import KafkaRecord
    from skuhub_runtime import messaging_spans, telemetry

    telemetry.configure_tracing("stock")
    topic, levels, group = "bench.stock.stock-moved.v1", "bench.stock.level.v1", "bench.stock"
    started = time.process_time()
    for first in range(0, records, BATCH):
        batch = [_Record(topic, offset) for offset in range(first, min(first + BATCH, records))]
        spans = messaging_spans.ProcessSpans(group)
        carried = [
            spans.start(record, message_id=os.urandom(16).hex(), traceparent=None, tracestate=None)
            for record in batch
        ]
        receive = messaging_spans.receive_span(batch, iter(carried), group, time.time_ns())
        events = []
        for i in range(0, len(carried), 3):
            event: tuple[str | None, str | None] = carried[i]
            if i % COALESCED_EVERY == 0:
                event = messaging_spans.joined(levels, *event, iter(carried[i + 1 : i + 3]))
            headers = [("traceparent", (event[0] or "").encode())]
            events.append((levels, KafkaRecord(b"SKU", b"{}", headers)))
        spans.end()
        if receive is not None:
            receive.end()
        if telemetry.exporting():
            for send in messaging_spans.send_spans(events):
                send.span.end()
    telemetry.shutdown_tracing(timeout_s=30.0)
    return (time.process_time() - started) / records * 1e6


class _Record:
    __slots__ = ("key", "offset", "partition", "topic")

    def __init__(self, topic: str, offset: int) -> None:
        self.topic, self.offset, self.partition = topic, offset, offset % 3
        self.key = f"SKU-{offset % 5000:05d}".encode()


def measure(records: int, exporting: dict[str, str] | None) -> float:
    """:func:`span_path` in a fresh process (tracing is configured once per process):
    exporting as ``exporting`` says, or not at all."""
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none"}
    if exporting:
        # This loop makes spans far faster than a service does: a queue that holds them
        # all, so that every one is shipped (the cost measured), none dropped.
        env |= {**exporting, "OTEL_BSP_MAX_QUEUE_SIZE": str(4 * records)}
    answer = subprocess.run(
        [sys.executable, "-m", "skuhub_cli.bench_span_path", str(records)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(answer.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(f"{span_path(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000):.2f}")
