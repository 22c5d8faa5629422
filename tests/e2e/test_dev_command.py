"""`skuhub dev --demo`: all up, demo products in the gateway offers, Ctrl-C leaves nothing."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import pytest

from skuhub_cli.demo import DEMO_TRAFFIC
from skuhub_traffic import build_catalog
from tests.e2e.skuhub_dev import DevCommand
from tests.harness import wait_until

pytestmark = pytest.mark.e2e


def test_dev_stack_runs_the_demo_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    with DevCommand(tmp_path, "--demo") as dev:
        gateway = dev.wait_started()["services"]["sync_gateway"]
        children = dev.children()
        assert len(children) >= 5, "broker, PostgreSQL and four services run as children"

        skus = build_catalog(DEMO_TRAFFIC).skus

        def demo_offers() -> list[dict[str, object]] | None:
            responses = [httpx.get(f"{gateway}/v1/channels/web/offers/{sku}") for sku in skus]
            if any(r.status_code != 200 for r in responses):
                return None
            offers = [r.json() for r in responses]
            # Stock, product and stage facts arrive on three topics: wait for all of them.
            if not all(o["stage"] == "active" and o["title"] for o in offers):
                return None
            return offers

        offers = wait_until(
            demo_offers, timeout=90, what="every demo product on the web channel, active, titled"
        )
        assert any(o["sellable"] and Decimal(str(o["available"])) > 0 for o in offers), offers
        dev.wait_output("ledger matches the generator's oracle: yes", timeout=60)

        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(timeout=60) == 0, dev.output()
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left behind: {[p.pid for p in alive]}"
        assert not dev.endpoints_file.exists(), "a stopped stack must not advertise endpoints"
        assert not dev.data_dir.joinpath("postmaster.pid").exists(), "PostgreSQL still runs"
