"""The result of ``skuhub bench``: its rows, and the table, markdown and JSON made of them."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    case: str
    metric: str
    value: float | str
    unit: str = ""
    ratio: float | None = None
    note: str = ""


@dataclass(slots=True)
class BenchReport:
    command: str
    started_at: str
    options: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    complete: bool = False

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_json_default) + "\n"

    def markdown(self) -> str:
        """The table as GitHub markdown, with the machine and the command (for docs)."""
        lines = [
            "| case | metric | value | vs. baseline | note |",
            "|---|---|--:|--:|---|",
        ]
        for case, row in self._cells():
            ratio = f"{row.ratio:.1%}" if row.ratio is not None else ""
            value = _format_value(row.value, row.unit)
            lines.append(f"| {case} | {row.metric} | {value} | {ratio} | {row.note} |")
        m = self.machine
        versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
        lines += [
            "",
            f"Machine: {m.get('cpu_count')} cores ({m.get('cpu_model')}), "
            f"{m.get('memory_total_bytes', 0) / 2**30:.1f} GiB, {m.get('platform')}, "
            f"load average at start {m.get('load_average_at_start')}; "
            f"Python {m.get('python')}; Apache Kafka {m.get('kafka')}; "
            f"{_postgresql(m)}; {versions}.",
            "",
            f"Run {self.started_at}, wall time {self.wall_seconds:.0f} s: `{self.command}`",
        ]
        return "\n".join(lines) + "\n"

    def table(self) -> Table:
        table = Table(title=f"skuhub bench ({'quick' if self.options.get('quick') else 'full'})")
        table.add_column("case")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("ratio", justify="right")
        table.add_column("note", overflow="fold")
        for case, row in self._cells():
            table.add_row(
                case,
                row.metric,
                _format_value(row.value, row.unit),
                f"{row.ratio:.1%}" if row.ratio is not None else "",
                row.note,
            )
        return table

    def _cells(self) -> list[tuple[str, Row]]:
        """Each row with its case, the case left blank below its first row."""
        cells = []
        last_case = None
        for row in self.rows:
            cells.append((row.case if row.case != last_case else "", row))
            last_case = row.case
        return cells


def _postgresql(machine: dict[str, Any]) -> str:
    return str(machine.get("postgresql", "")).split(" on ")[0]


def _format_value(value: float | str, unit: str) -> str:
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "n/a"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "ms":
        return f"{value:.1f} ms"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, Path)):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_report(report: BenchReport, out: Path) -> Path:
    """Write ``out/bench-<UTC timestamp>.json`` (and the same table as ``.md``); the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"bench-{stamp}.json"
    path.write_text(report.to_json(), encoding="utf-8")
    path.with_suffix(".md").write_text(report.markdown(), encoding="utf-8")
    return path


def print_report(report: BenchReport, path: Path, console: Console) -> None:
    """The table, the machine, where the JSON is and how to run the same again."""
    # A terminal gets its own width; piped into a file, keep each row on one line.
    out = console if console.is_terminal else Console(file=console.file, width=160)
    out.print(report.table())
    m = report.machine
    console.print(
        f"machine: {m.get('cpu_count')} cores ({m.get('cpu_model')}), "
        f"{m.get('memory_total_bytes', 0) / 2**30:.1f} GiB; "
        f"python {m.get('python')}, Apache Kafka {m.get('kafka')}, {_postgresql(m)}"
    )
    console.print(f"wall time {report.wall_seconds:.0f}s; JSON: {path}")
    console.print(f"reproduce: {report.command}")
