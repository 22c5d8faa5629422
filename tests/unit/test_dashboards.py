"""The Grafana provisioning in deploy/grafana: the data source points at the compose file's
Prometheus, and every dashboard is one Grafana loads as it is: a unique uid, the current
schema version, panels on the 24-column grid, each querying the provisioned data source
with PromQL (their names are held to the services in tests/e2e/test_metric_names.py, their
syntax to promtool in tests/unit/test_alert_rules.py)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.promql import DASHBOARDS, ROOT, dashboards, panels

PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
SCHEMA_VERSION = 41
"""The dashboard schema of Grafana 12 (the grafana/grafana 12 image of docker-compose.yml)."""
GRID_COLUMNS = 24


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    document = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (found,) = document["datasources"]
    return dict(found)


def test_the_data_source_is_the_compose_prometheus(datasource: dict[str, Any]) -> None:
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["isDefault"] is True


def test_the_dashboard_provider_loads_files_into_the_skuhub_folder() -> None:
    document = yaml.safe_load((PROVISIONING / "dashboards" / "skuhub.yml").read_text())
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "skuhub"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_there_are_dashboards_with_unique_uids_matching_their_files() -> None:
    found = dashboards()
    assert set(found) == {"skuhub-flow.json", "skuhub-kpis.json", "skuhub-health.json"}
    uids = [d["uid"] for d in found.values()]
    assert len(set(uids)) == len(uids)
    for file_name, dashboard in found.items():
        assert f"{dashboard['uid']}.json" == file_name
        assert dashboard["schemaVersion"] == SCHEMA_VERSION
        assert dashboard["title"].startswith("skuhub / ")
        assert "skuhub" in dashboard["tags"]


@pytest.mark.parametrize("file_name", sorted(p.name for p in DASHBOARDS.glob("*.json")))
def test_every_panel_queries_the_provisioned_prometheus(
    file_name: str, datasource: dict[str, Any]
) -> None:
    dashboard = dashboards()[file_name]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids), "panel ids repeat"
    shown = list(panels(dashboard))
    assert shown
    problems = []
    for panel in shown:
        title = panel["title"]
        grid = panel["gridPos"]
        if not (grid["x"] >= 0 and grid["x"] + grid["w"] <= GRID_COLUMNS and grid["h"] > 0):
            problems.append(f"{title}: off the grid {grid}")
        if panel["datasource"]["uid"] != datasource["uid"]:
            problems.append(f"{title}: data source {panel['datasource']}")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{title}: no query")
        if len({t["refId"] for t in targets}) != len(targets):
            problems.append(f"{title}: refIds repeat")
        for target in targets:
            if target["datasource"]["uid"] != datasource["uid"] or not target["expr"].strip():
                problems.append(f"{title} {target['refId']}: no PromQL for {datasource['uid']}")
    assert not problems


def test_panels_do_not_overlap() -> None:
    for file_name, dashboard in dashboards().items():
        taken: dict[tuple[int, int], str] = {}
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    other = taken.setdefault((x, y), panel["title"])
                    assert other == panel["title"], (
                        f"{file_name}: {panel['title']!r} overlaps {other!r}"
                    )
