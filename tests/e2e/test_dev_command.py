"""`skuhub dev --demo`: all up, demo products in the gateway offers, Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import pytest

from skuhub_cli.demo import DEMO_TRAFFIC
from skuhub_cli.stack import SERVICES, free_port, free_port_block
from skuhub_traffic import build_catalog
from tests.harness import wait_until

pytestmark = pytest.mark.e2e


def test_dev_stack_runs_the_demo_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKUHUB_")}  # embedded mode
    kafka_port = free_port()
    command = [
        sys.executable, "-m", "skuhub_cli.main", "dev", "--demo",
        "--kafka-port", str(kafka_port),
        "--http-port-base", str(free_port_block(len(SERVICES), avoid={kafka_port})),
        "--data-dir", str(tmp_path / "pgdata"),
        "--state-dir", str(state),
    ]  # fmt: skip
    log = (tmp_path / "dev.log").open("wb")
    dev = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        endpoints_file = state / "endpoints.json"

        def started() -> bool:
            if dev.poll() is not None:  # it gave up: say why instead of waiting on
                log.flush()
                output = (tmp_path / "dev.log").read_text()
                raise AssertionError(f"skuhub dev exited with {dev.returncode}:\n{output}")
            return endpoints_file.exists()

        wait_until(started, timeout=120, what="the stack to write endpoints.json")
        gateway = json.loads(endpoints_file.read_text())["services"]["sync_gateway"]
        children = psutil.Process(dev.pid).children(recursive=True)
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
        wait_until(
            lambda: (
                "ledger matches the generator's oracle: yes" in (tmp_path / "dev.log").read_text()
            ),
            timeout=60,
            what="the demo to report that the ledger matches the oracle",
        )

        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left behind: {[p.pid for p in alive]}"
        assert not endpoints_file.exists(), "a stopped stack must not advertise endpoints"
        assert not (tmp_path / "pgdata" / "postmaster.pid").exists(), "PostgreSQL still runs"
    finally:
        _stop_tree(dev)
        log.close()


def _stop_tree(dev: subprocess.Popen[bytes]) -> None:
    """After a failure: let the stack stop its children, and kill whatever is left."""
    if dev.poll() is not None:
        return
    tree = [psutil.Process(dev.pid), *psutil.Process(dev.pid).children(recursive=True)]
    dev.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=60)
    for process in alive:
        process.kill()
