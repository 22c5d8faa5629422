"""`skuhub trace SKU` against `skuhub dev`: movements published upstream, followed hop by
hop from the services' own records (docs/operations.md, "Reading skuhub trace")."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from skuhub_cli.change_trace import change_traces, read_records
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_runtime.access_tokens import bearer
from skuhub_runtime.settings import ServiceSettings
from tests.e2e.observe import new_sku
from tests.e2e.skuhub_dev import DevCommand
from tests.harness import wait_until
from tests.upstream import Upstream, movement, new_trace
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e


def test_trace_follows_each_movement_from_the_source_to_the_webhook(tmp_path: Path) -> None:
    with DevCommand(tmp_path) as dev, Receiver().serve() as receiver:
        endpoints = dev.wait_started()
        stock, gateway = endpoints["services"]["stock"], endpoints["services"]["sync_gateway"]
        token = bearer(endpoints["token"])  # the dev token
        created = httpx.post(
            f"{gateway}/v1/subscriptions",
            json={"url": receiver.url, "channel": "web"},
            headers=token,
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        sku = new_sku("TRACECLI")
        topic = ServiceSettings(kafka_bootstrap=endpoints["kafka_bootstrap"]).topic(
            STOCK_MOVED.name
        )
        upstream = Upstream(endpoints["kafka_bootstrap"])
        sent = []
        for quantity in ("3", "4"):
            traceparent, trace_id = new_trace()
            envelope = upstream.publish_movement(
                topic, movement(sku, quantity=quantity), traceparent=traceparent
            )
            sent.append((envelope.id, trace_id))
            # One offer version per movement: the next waits until this one is delivered.
            wait_until(
                lambda: len(receiver.versions().get(sku, [])) == len(sent),
                timeout=60,
                what=f"offer version {len(sent)} of {sku} delivered",
            )
        journal, changes = read_records(stock, gateway, sku, limit=10, headers=token)
        printed = subprocess.run(
            [sys.executable, "-m", "skuhub_cli.main", "trace", sku, "--state-dir", str(dev.state)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert printed.returncode == 0, printed.stderr
    traces = change_traces(journal, changes, limit=10)
    assert len(traces) == 2
    # Newest first; each movement is its own trace, as upstream sent it.
    for trace, (event_id, trace_id) in zip(traces, reversed(sent), strict=True):
        assert event_id in trace.title
        assert trace.trace_id == trace_id
        hops = [hop.what for hop in trace.hops]
        assert hops[0] == "occurred at the source"
        assert "stock: applied to the ledger" in hops
        assert "gateway: web offer v" in " ".join(hops)
        assert "webhook: delivered" in hops
        times = [hop.at for hop in trace.hops if hop.at is not None and "entered" not in hop.what]
        assert times == sorted(times), trace
        assert event_id in printed.stdout
        assert trace_id in printed.stdout
    assert [Decimal(str(e["quantity"])) for e in journal] == [Decimal(3), Decimal(4)]
