"""The bench's memory peaks: a service's span export process has a row of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
from opentelemetry.sdk.resources import Resource

from skuhub_cli.bench_probes import RssSampler, tree_rss
from skuhub_runtime import span_wire
from skuhub_runtime.span_shipping import EXPORT_PROCESS_MODULE, RESOURCE_VARIABLE
from tests.harness import wait_until

# A stand-in for a service: it starts an export process and keeps it until its own input
# ends (as a service does).
SERVICE = f"""
import subprocess, sys
command = [sys.executable, "-m", "{EXPORT_PROCESS_MODULE}"]
exporter = subprocess.Popen(command, stdin=subprocess.PIPE)
sys.stdin.read()
exporter.stdin.close()
exporter.wait(30)
"""


def test_a_span_export_process_is_counted_apart_from_its_service() -> None:
    env = {**os.environ, RESOURCE_VARIABLE: span_wire.resource_document(Resource.create({}))}
    service = subprocess.Popen([sys.executable, "-c", SERVICE], stdin=subprocess.PIPE, env=env)
    try:
        # Its imports make the export process large: once it has them the split is plain.
        exporter = wait_until(
            lambda: next(
                (
                    child
                    for child in psutil.Process(service.pid).children()
                    if child.memory_info().rss > 30 * 2**20
                ),
                None,
            ),
            what="the export process loaded",
        )
        own = psutil.Process(service.pid).memory_info().rss
        rss, exporting = tree_rss(service.pid)
        sampler = RssSampler()
        sampler.watch("stock", service.pid)

        assert exporting >= exporter.memory_info().rss // 2
        assert abs(rss - own) < exporting // 2  # the service's tree: without it
        assert set(sampler.peaks) == {"stock", "stock span export"}
    finally:
        service.communicate(timeout=60)
