"""Session fixtures: one infrastructure and one stack of services per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from skuhub_cli.launcher import CLEAN_EXIT_CODES
from tests.harness import Infrastructure, Stack, infrastructure


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    with infrastructure(tmp_path_factory.mktemp("infra")) as found:
        yield found


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack(infra: Infrastructure, workdir: Path) -> Iterator[Stack]:
    """All four services, started once per session, stopped cleanly afterwards.

    Tests share it safely: each uses its own SKUs (and source systems).
    """
    running = Stack(infra, workdir)
    try:
        running.start()
    except Exception:
        running.stop()
        raise
    yield running
    codes = running.stop()
    unclean = {name: code for name, code in codes.items() if code not in CLEAN_EXIT_CODES}
    if unclean:
        pytest.fail(f"services did not shut down cleanly: {unclean}\n{running.logs()}")
