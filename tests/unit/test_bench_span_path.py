"""The bench's span-path case measures what it says: every span made is exported."""

from __future__ import annotations

import math

from skuhub_cli import bench_span_path
from skuhub_cli.bench_traces import exporting_env
from skuhub_cli.otlp_sink import OtlpSink


def test_the_span_path_exports_every_span_it_makes_and_costs_more_exporting() -> None:
    records, batch = 1_000, 500  # two batches
    # Per batch of B records: B process spans, one receive span, a create span for every
    # ninth record (the coalesced events), one send span (one topic).
    expected = 2 * (batch + 1 + math.ceil(batch / 9) + 1)

    with OtlpSink(keep=False).serve() as sink:
        alone = bench_span_path.measure(records, None)
        exported = bench_span_path.measure(records, exporting_env(sink.endpoint))
        received = sink.received

    assert received == expected
    assert 0 < alone < exported
