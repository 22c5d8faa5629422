"""`skuhub dev --demo`: all up, demo products in the gateway offers, Ctrl-C leaves nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import pytest

from skuhub_cli.bench_probes import GroupProgress
from skuhub_cli.demo import DEMO_TRAFFIC
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import SERVICES
from skuhub_runtime.access_tokens import bearer
from skuhub_runtime.settings import ServiceSettings
from skuhub_traffic import build_catalog
from tests.e2e.skuhub_dev import DevCommand
from tests.harness import group_progress, wait_until

pytestmark = pytest.mark.e2e


def test_dev_stack_runs_the_demo_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    with DevCommand(tmp_path, "--demo") as dev:
        endpoints = dev.wait_started()
        gateway = endpoints["services"]["sync_gateway"]
        # The dev token: printed on start, kept for the other commands, every scope.
        dev_token = bearer(endpoints["token"])
        dev.wait_output(endpoints["token"])  # printed just after endpoints.json is written
        assert dev.endpoints_file.stat().st_mode & 0o077 == 0, "the token is the owner's only"
        assert httpx.get(f"{gateway}/v1/channels").status_code == 401
        children = dev.children()
        assert len(children) >= 5, "broker, PostgreSQL and four services run as children"

        skus = build_catalog(DEMO_TRAFFIC).skus
        # The feed creates the products, then moves stock, then checks the ledger.
        dev.wait_output("ledger matches the generator's oracle: yes", timeout=120)

        def demo_offers() -> list[dict[str, object]] | None:
            responses = [
                httpx.get(f"{gateway}/v1/channels/web/offers/{sku}", headers=dev_token)
                for sku in skus
            ]
            if any(r.status_code != 200 for r in responses):
                return None
            offers = [r.json() for r in responses]
            # Stock, product and stage facts arrive on three topics: wait for all of them.
            if not all(o["stage"] == "active" and o["title"] for o in offers):
                return None
            if not any(o["sellable"] and Decimal(str(o["available"])) > 0 for o in offers):
                return None
            return offers

        wait_until(
            demo_offers,
            timeout=90,
            what="every demo product on the web channel, active, titled, and some in stock",
        )

        assert_top_shows_every_service_up(dev)

        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(timeout=60) == 0, dev.output()
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left behind: {[p.pid for p in alive]}"
        assert not dev.endpoints_file.exists(), "a stopped stack must not advertise endpoints"
        assert not dev.data_dir.joinpath("postmaster.pid").exists(), "PostgreSQL still runs"


def assert_top_shows_every_service_up(dev: DevCommand) -> None:
    """``skuhub top --once`` finds the stack by its endpoints.json and reads every service."""
    result = subprocess.run(
        [sys.executable, "-m", "skuhub_cli.main", "top", "--once", "--interval", "0.5",
         "--state-dir", str(dev.state)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        cells[0]: cells
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 10
    }
    assert {name: row[1] for name, row in rows.items()} == dict.fromkeys(SERVICES, "up")
    # Every service consumes, so each shows a lag read from the broker (not "-").
    assert all(row[3].isdigit() for row in rows.values()), rows


def _stock_progress(bootstrap: str) -> GroupProgress:
    """How far the stock service's group is through its topics, read from the broker."""
    settings = ServiceSettings(kafka_bootstrap=bootstrap)
    topics = [settings.topic(t.name) for t in STOCK_MOVEMENTS.topics]
    return group_progress(bootstrap, settings.consumer_group(STOCK_MOVEMENTS), topics)


def test_a_restart_resumes_with_every_record_and_committed_offset(tmp_path: Path) -> None:
    with DevCommand(tmp_path, "--demo") as dev:
        bootstrap = dev.wait_started()["kafka_bootstrap"]
        dev.wait_output("ledger matches the generator's oracle: yes", timeout=120)
        before = wait_until(
            lambda: p if (p := _stock_progress(bootstrap)).end and not p.lag else None,
            timeout=60,
            what="the stock service to have committed every demo movement",
        )
        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(timeout=60) == 0, dev.output()

    with DevCommand(tmp_path) as again:  # same data directories, other ports
        after = _stock_progress(again.wait_started()["kafka_bootstrap"])
        assert after == before, "records or committed offsets changed across the restart"
        assert "Kafka (embedded Apache Kafka" in again.output()
