"""Every metric a Grafana dashboard or a Prometheus rule in deploy/ names is one the running
services export: a renamed or removed metric fails here instead of leaving an empty panel
or an alert that can never fire.

The names exported are read from each service's ``/metrics`` as Prometheus would scrape
it, ``# TYPE`` lines included (a labelled metric prints no sample before its first
observation); the names asked for come from the rules' and panels' PromQL
(tests/promql.py).
"""

from __future__ import annotations

import httpx
import pytest

from skuhub_contracts.topics import SERVICES
from tests.harness import Stack
from tests.promql import SYNTHETIC, deployed_expressions, exposed_names, names_missing

pytestmark = pytest.mark.e2e


def scrape(stack: Stack, service: str) -> str:
    response = httpx.get(f"{stack.url(service)}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def test_every_metric_the_dashboards_and_rules_name_is_exported(stack: Stack) -> None:
    expositions = {service: scrape(stack, service) for service in SERVICES}
    exported: set[str] = set()
    for service, text in expositions.items():
        names = exposed_names(text)
        assert "skuhub_ready" in names, f"{service}'s /metrics is not a skuhub exposition"
        exported |= names

    missing = names_missing(deployed_expressions(), exported)

    listing = "\n".join(f"  {name}: {', '.join(where)}" for name, where in sorted(missing.items()))
    assert not missing, (
        f"{len(missing)} metric names in deploy/ that no service exports "
        f"(nor Prometheus itself: {sorted(SYNTHETIC)}):\n{listing}"
    )
