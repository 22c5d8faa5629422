"""`skuhub dev` supervises: a crashed service comes back; a dead broker stops the stack."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from skuhub_contracts.topics import SERVICES
from tests import api
from tests.e2e.skuhub_dev import DevCommand
from tests.harness import wait_until

pytestmark = pytest.mark.e2e


def test_a_killed_service_is_restarted_and_ready_again(tmp_path: Path) -> None:
    with DevCommand(tmp_path) as dev:
        stock_url = dev.wait_started()["services"]["stock"]
        stock_port = dev.http_port_base + SERVICES.index("stock")
        killed = dev.kill_group(stock_port)

        dev.wait_output("stock exited with code -9")
        dev.wait_output("stock restarted")
        wait_until(
            lambda: api.get(f"{stock_url}/health/ready").status_code == 200,
            timeout=90,
            what="the restarted stock service to be ready",
        )
        assert dev.listener(stock_port).pid != killed, "the killed process still answers"
        assert dev.process.poll() is None, "one crashed service must not stop the stack"
        children = dev.children()

        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(timeout=60) == 0, dev.output()
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left behind: {[p.pid for p in alive]}"
        assert not dev.endpoints_file.exists(), "a stopped stack must not advertise endpoints"


def _kill_broker(dev: DevCommand) -> None:
    dev.kill_group(dev.kafka_port)


def _kill_database(dev: DevCommand) -> None:
    os.kill(_postmaster_pid(dev), signal.SIGKILL)


def _postmaster_pid(dev: DevCommand) -> int:
    return int(dev.data_dir.joinpath("postmaster.pid").read_text().split()[0])


@pytest.mark.parametrize(
    ("kill", "said"),
    [
        (_kill_broker, "the embedded Kafka broker (Apache Kafka) exited with code -9"),
        (_kill_database, "the embedded PostgreSQL (pid"),
    ],
    ids=["broker", "database"],
)
def test_a_dead_broker_or_database_stops_the_stack_and_says_why(
    tmp_path: Path, kill: Callable[[DevCommand], None], said: str
) -> None:
    with DevCommand(tmp_path) as dev:
        dev.wait_started()
        children = dev.children()
        postmaster = psutil.Process(_postmaster_pid(dev))

        kill(dev)

        code = dev.process.wait(timeout=90)
        output = dev.output()
        assert code == 1, output
        assert said in output, output
        assert "log tail" in output, output
        assert "everything stopped" in output, output
        _, alive = psutil.wait_procs([*children, postmaster], timeout=15)
        assert not alive, f"left behind: {[p.pid for p in alive]}"
        assert not dev.endpoints_file.exists(), "a stopped stack must not advertise endpoints"
