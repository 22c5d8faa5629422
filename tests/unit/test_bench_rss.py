"""The bench's memory peaks: a service's span export process has a row of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
from opentelemetry.sdk.resources import Resource

from skuhub_cli.bench_probes import RssSampler, tree_rss
from skuhub_runtime import span_wire
from skuhub_runtime.span_shipping import RESOURCE_VARIABLE
from tests.harness import wait_until


def test_a_span_export_process_is_counted_apart_from_its_service() -> None:
    env = {**os.environ, RESOURCE_VARIABLE: span_wire.resource_document(Resource.create({}))}
    exporter = subprocess.Popen(
        [sys.executable, "-m", "skuhub_runtime.span_export_process"],
        stdin=subprocess.PIPE,
        env=env,
    )
    try:
        # Its imports make it large: wait until it has them, so the split is plain to see.
        wait_until(
            lambda: psutil.Process(exporter.pid).memory_info().rss > 30 * 2**20,
            what="the export process loaded",
        )
        own = psutil.Process().memory_info().rss
        service, exporting = tree_rss(os.getpid())
        sampler = RssSampler()
        sampler.watch("stock", os.getpid())

        assert exporting >= psutil.Process(exporter.pid).memory_info().rss // 2
        assert abs(service - own) < exporting // 2  # the service's tree: without it
        assert set(sampler.peaks) == {"stock", "stock span export"}
    finally:
        assert exporter.stdin is not None
        exporter.stdin.close()
        exporter.wait(30)
