"""The Prometheus alert rules (deploy/prometheus/rules): promtool checks them and runs their
unit tests (deploy/prometheus/tests), every alert is tested firing and silent, carries a
severity, a summary, a description and a runbook link to its own section of docs/runbook.md;
every dashboard expression is PromQL that Prometheus parses.

promtool is the Debian package ``prometheus``; ``.ci/run`` installs it. Without it these tests
fail under CI (``CI`` set) and are skipped, saying how to install it, elsewhere
(docs/testing.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.promql import ROOT, RULES, dashboard_expressions

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_TESTS = PROMETHEUS / "tests"
RUNBOOK = ROOT / "docs" / "runbook.md"
SEVERITIES = {"critical", "warning"}
INSTALL = (
    "promtool is not on PATH: install it with `apt-get install -y prometheus` (Debian, Ubuntu; "
    ".ci/run does so), or put the promtool of a Prometheus release on PATH"
)
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "1m"}
"""What Grafana puts in place of its interval variables, for promtool's parser."""


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(INSTALL)
    pytest.skip(INSTALL)


def run(promtool: str, *args: str) -> str:
    done = subprocess.run(
        [promtool, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def rule_files() -> list[Path]:
    found = sorted(RULES.glob("*.yml"))
    assert found, f"no rule files in {RULES}"
    return found


def alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def rule_test_cases() -> list[dict[str, Any]]:
    files = sorted(RULE_TESTS.glob("*.test.yml"))
    assert files, f"no promtool tests in {RULE_TESTS}"
    return [
        case
        for path in files
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]


def test_the_rules_pass_promtool_check(promtool: str) -> None:
    for path in rule_files():
        groups = yaml.safe_load(path.read_text())["groups"]
        count = sum(len(group["rules"]) for group in groups)
        assert f"SUCCESS: {count} rules found" in run(promtool, "check", "rules", str(path))


def test_the_prometheus_config_loads_the_rules(promtool: str) -> None:
    output = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert f"{RULES.name}/skuhub.rules.yml" in output, output


def test_the_rules_pass_their_promtool_unit_tests(promtool: str) -> None:
    files = sorted(RULE_TESTS.glob("*.test.yml"))
    output = run(promtool, "test", "rules", *map(str, files))
    assert output.count("SUCCESS") == len(files), output


def test_every_dashboard_expression_parses(promtool: str, tmp_path: Path) -> None:
    """Each panel target as a recording rule: promtool parses it as Prometheus would."""
    rules = []
    for n, deployed in enumerate(dashboard_expressions()):
        expr = deployed.expr.replace('"$service"', '".*"')
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:expression_{n}", "expr": expr})
    checked = tmp_path / "dashboards.rules.yml"
    checked.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in run(promtool, "check", "rules", str(checked))


def test_every_alert_is_tested_firing_and_silent() -> None:
    """promtool's unit tests prove each alert fires on a series that should fire it and
    stays silent on one that should not."""
    cases = rule_test_cases()
    fired = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "alerts no test sees firing"
    assert names - silent == set(), "alerts no test sees silent"
    assert (fired | silent) - names == set(), "tests of alerts that do not exist"


def test_every_alert_has_a_severity_a_summary_a_description_and_its_runbook() -> None:
    problems = []
    for rule in alerts():
        name = rule["alert"]
        if rule.get("labels", {}).get("severity") not in SEVERITIES:
            problems.append(f"{name}: severity not one of {sorted(SEVERITIES)}")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description"):
            if not str(annotations.get(key, "")).strip():
                problems.append(f"{name}: no {key}")
        if annotations.get("runbook_url") != f"docs/runbook.md#{name.lower()}":
            problems.append(f"{name}: runbook_url is not docs/runbook.md#{name.lower()}")
    assert not problems


def anchors(markdown: str) -> set[str]:
    """The anchors of a Markdown document's headings, as GitHub makes them."""
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(anchor)
    return found


def test_the_runbook_has_a_section_per_alert_and_none_for_an_alert_gone() -> None:
    runbook = RUNBOOK.read_text()
    names = {rule["alert"] for rule in alerts()}
    assert {n.lower() for n in names} - anchors(runbook) == set(), "alerts without a section"
    sections = set(re.findall(r"^##\s+(Skuhub\w+)\s*$", runbook, flags=re.MULTILINE))
    assert sections - names == set(), "runbook sections of alerts that do not exist"
