"""The wiring is typed: mypy refuses a handler bound to another subscription's events or to
another service's unit of work (run on small files against the project's own types)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]

RIGHT = """
from skuhub_contracts.subscriptions import LIFECYCLE_PRODUCTS, STOCK_MOVEMENTS
from skuhub_lifecycle.entrypoints.handlers import on_product_changed
from skuhub_runtime.handling import ConsumerSpec
from skuhub_stock.entrypoints.handlers import StockHandlers

stock = ConsumerSpec(STOCK_MOVEMENTS, StockHandlers().on_stock_moved)
lifecycle = ConsumerSpec(LIFECYCLE_PRODUCTS, on_product_changed)
"""

WRONG_EVENT = """
from skuhub_contracts.subscriptions import LIFECYCLE_PRODUCTS
from skuhub_runtime.handling import ConsumerSpec
from skuhub_stock.entrypoints.handlers import StockHandlers

wrong = ConsumerSpec(LIFECYCLE_PRODUCTS, StockHandlers().on_stock_moved)
"""

WRONG_UNIT_OF_WORK = """
from pathlib import Path

from skuhub_lifecycle.entrypoints.app import CONSUMERS
from skuhub_runtime.service import ServiceRuntime
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.adapters.ledger_repository import sql_unit_of_work

wrong = ServiceRuntime(
    ServiceSettings(), unit_of_work=sql_unit_of_work, migrations_dir=Path(), consumers=CONSUMERS
)
"""


def mypy_errors(tmp_path: Path, source: str) -> list[str]:
    module = tmp_path / "wiring.py"
    module.write_text(source, encoding="utf-8")
    stdout, _, _ = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", str(module)]
    )
    return [line for line in stdout.splitlines() if ": error:" in line]


def test_handlers_bound_to_their_own_subscription_type_check(tmp_path: Path) -> None:
    assert mypy_errors(tmp_path, RIGHT) == []


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        (WRONG_EVENT, "Sequence[Incoming[ProductChanged]]"),
        (WRONG_UNIT_OF_WORK, 'Argument "unit_of_work" to "ServiceRuntime"'),
    ],
    ids=["handler-of-other-events", "other-services-unit-of-work"],
)
def test_a_handler_bound_to_the_wrong_event_or_unit_of_work_is_a_type_error(
    tmp_path: Path, source: str, complaint: str
) -> None:
    errors = mypy_errors(tmp_path, source)
    assert len(errors) == 1, errors
    assert complaint in errors[0]
