"""The metric names the deployed PromQL asks for, and the names an exposition offers.

Used by the tests that hold the Grafana dashboards and the Prometheus rules in ``deploy/``
to the metrics the services export (``tests/e2e/test_metric_names.py``) and to promtool
(``tests/unit/test_alert_rules.py``).

A small PromQL tokenizer rather than a regular expression: a metric name is an identifier
outside label matchers (``{...}``), ranges (``[...]``) and strings, not followed by ``(``
(a function or an aggregation), not a keyword, and not in the label list after ``by``,
``without``, ``on``, ``ignoring``, ``group_left`` or ``group_right``. A selector written
``{__name__="..."}`` names its metric too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "rules"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
"""Aggregation operators: keywords of PromQL's lexer, also when ``by (...)`` comes first."""
KEYWORDS = AGGREGATIONS | frozenset(
    {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
    | {"by", "without", "on", "ignoring", "group_left", "group_right"}
)
"""Words that are never metric names (compared in lower case, as PromQL does)."""
LABEL_LIST_BEFORE = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
"""Keywords whose parenthesised list holds label names."""

SYNTHETIC = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
"""Series Prometheus writes itself (per target, per alert): no service exports them."""

IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9.][0-9A-Za-z_.]*")
GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z0-9_]*")
NAME_MATCHER = re.compile(r"""__name__\s*=\s*(["'`])(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\1""")
LABEL_VALUES = re.compile(r"label_values\((?P<selector>.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", re.S)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SUMMARY_SUFFIXES = ("", "_sum", "_count")


class PromQLSyntaxError(ValueError):
    """The expression is not PromQL this tokenizer can read (an unclosed string or bracket)."""


def _string_end(expr: str, start: int) -> int:
    """The index after the string literal that opens at ``start``."""
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        if expr[i] == "\\" and quote != "`":
            i += 2
            continue
        if expr[i] == quote:
            return i + 1
        i += 1
    raise PromQLSyntaxError(f"unclosed string at {start}: {expr!r}")


def _closing(expr: str, start: int, opening: str, closing: str) -> int:
    """The index after the bracket that closes the one at ``start`` (strings skipped)."""
    depth = 0
    i = start
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _string_end(expr, i)
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLSyntaxError(f"unclosed {opening!r} at {start}: {expr!r}")


def _next_char(expr: str, i: int) -> str:
    while i < len(expr) and expr[i].isspace():
        i += 1
    return expr[i] if i < len(expr) else ""


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana's ``$variables`` allowed)."""
    names: set[str] = set()
    i = 0
    depth = 0
    label_list_next = False
    while i < len(expr):
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":
            end = expr.find("\n", i)
            i = len(expr) if end < 0 else end
        elif c in "\"'`":
            i = _string_end(expr, i)
        elif c == "{":
            end = _closing(expr, i, "{", "}")
            found = NAME_MATCHER.search(expr, i, end)
            if found:
                names.add(found.group("name"))
            i = end
        elif c == "[":
            i = _closing(expr, i, "[", "]")
        elif c == "(" and label_list_next:
            i = _closing(expr, i, "(", ")")
            label_list_next = False
        elif c == "$":
            # A Grafana variable ($service, ${service}, $__rate_interval) outside a string.
            found = GRAFANA_VARIABLE.match(expr, i)
            i = found.end() if found else i + 1
        elif c in "()":
            depth += 1 if c == "(" else -1
            if depth < 0:
                raise PromQLSyntaxError(f"unopened ')' at {i}: {expr!r}")
            i += 1
        elif (word := IDENTIFIER.match(expr, i)) is not None:
            name = word.group()
            i = word.end()
            lowered = name.lower()
            if lowered in LABEL_LIST_BEFORE:
                label_list_next = _next_char(expr, i) == "("
            elif lowered in KEYWORDS or _next_char(expr, i) == "(":
                pass  # a keyword, or a function / aggregation called here
            else:
                names.add(name)
        elif (number := NUMBER.match(expr, i)) is not None:
            i = number.end()
        else:
            i += 1
    if depth:
        raise PromQLSyntaxError(f"unclosed '(': {expr!r}")
    return names


def exposed_names(exposition: str) -> set[str]:
    """The series names Prometheus stores from a text exposition (format 0.0.4).

    Counted from ``# TYPE`` lines as well as samples: a labelled metric that has not been
    observed yet prints its HELP and TYPE lines only, and is still a name a query may use.
    """
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) < 4:
                continue
            family, kind = parts[2], parts[3]
            if kind == "histogram":
                names.update(family + suffix for suffix in HISTOGRAM_SUFFIXES)
            elif kind == "summary":
                names.update(family + suffix for suffix in SUMMARY_SUFFIXES)
            elif kind == "counter" and not family.endswith("_total"):
                names.add(family + "_total")
            else:
                names.add(family)
        elif line and not line.startswith("#"):
            found = IDENTIFIER.match(line)
            if found:
                names.add(found.group())
    return names


@dataclass(frozen=True)
class DeployedExpression:
    """One PromQL expression of a rule or a dashboard panel, and where it is."""

    where: str
    expr: str


def rule_expressions(rules_dir: Path = RULES) -> Iterator[DeployedExpression]:
    """The expression of every alerting and recording rule under ``deploy/prometheus/rules``."""
    for path in sorted(rules_dir.glob("*.yml")):
        document: dict[str, Any] = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                yield DeployedExpression(f"{path.name}: {name}", str(rule["expr"]))


def dashboards(dashboards_dir: Path = DASHBOARDS) -> dict[str, dict[str, Any]]:
    """Every provisioned Grafana dashboard, by file name."""
    return {
        path.name: json.loads(path.read_text()) for path in sorted(dashboards_dir.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, those inside collapsed rows included (rows themselves not)."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def dashboard_expressions(dashboards_dir: Path = DASHBOARDS) -> Iterator[DeployedExpression]:
    """The expression of every panel target, and of every query variable, of every dashboard."""
    for file_name, dashboard in dashboards(dashboards_dir).items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                where = f"{file_name}: {panel['title']!r} {target['refId']}"
                yield DeployedExpression(where, str(target["expr"]))
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                query = variable["query"]
                text = query["query"] if isinstance(query, dict) else str(query)
                # Grafana's label_values(selector, label): only the selector is PromQL.
                found = LABEL_VALUES.fullmatch(text.strip())
                expr = found.group("selector") if found else text
                yield DeployedExpression(f"{file_name}: ${variable['name']}", expr)


def deployed_expressions() -> list[DeployedExpression]:
    """Every PromQL expression in ``deploy/``: rules and dashboards."""
    return [*rule_expressions(), *dashboard_expressions()]


def names_missing(
    expressions: list[DeployedExpression], exported: set[str]
) -> dict[str, list[str]]:
    """Each metric name the expressions ask for that is neither exported nor written by
    Prometheus itself, with where it is asked for."""
    missing: dict[str, list[str]] = {}
    for deployed in expressions:
        for name in sorted(metric_names(deployed.expr) - exported - SYNTHETIC):
            missing.setdefault(name, []).append(deployed.where)
    return missing
