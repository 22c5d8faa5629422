"""Supplier files on disk, read and written a row at a time: CSV, JSON Lines and XLSX.

Nothing is loaded whole. Rows are numbered as the file counts them, so a report points at
what the supplier sees: in CSV and XLSX the header is row 1 and data starts at row 2; in
JSON Lines a row is its line number. A CSV may be separated by commas, semicolons or tabs
(sniffed from its first line) and start with a byte order mark.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

from openpyxl import Workbook, load_workbook

from skuhub_catalog.domain.imports import FileFormat

Cells = dict[str, Any]
_SNIFF_BYTES: Final = 64 * 1024


class UnreadableFileError(ValueError):
    """The file is not what its format says (no header, not JSON, not a workbook)."""


class BadLine(ValueError):
    """One line of a JSON Lines file that is not a JSON object (the rest is read on)."""


def header_of(path: Path, file_format: FileFormat) -> list[str] | None:
    """The column names of a CSV or XLSX file (None for JSON Lines, which has no header).

    Raises:
        UnreadableFileError: no header row, or a header that names a column twice.
    """
    if file_format is FileFormat.JSONL:
        return None
    for _, row in _raw_rows(path, file_format):
        header = [str(cell).strip() if cell is not None else "" for cell in row]
        named = [name for name in header if name]
        if len(set(named)) != len(named):
            twice = next(n for n in named if named.count(n) > 1)
            raise UnreadableFileError(f"the header names column {twice!r} twice")
        return header
    raise UnreadableFileError("the file is empty: it needs a header row naming the columns")


def rows_of(path: Path, file_format: FileFormat) -> Iterator[tuple[int, Cells | BadLine]]:
    """Each data row as (row number, cells by column name), or a :class:`BadLine`."""
    if file_format is FileFormat.JSONL:
        yield from _json_lines(path)
        return
    header: list[str] | None = None
    for number, row in _raw_rows(path, file_format):
        if header is None:
            header = [str(cell).strip() if cell is not None else "" for cell in row]
            continue
        if all(cell is None or cell == "" for cell in row):
            continue
        # A spreadsheet's row stops at its last filled cell: the columns after it are empty.
        cells = list(row) + [None] * (len(header) - len(row))
        yield number, {name: cell for name, cell in zip(header, cells, strict=False) if name}


def count_rows(path: Path, file_format: FileFormat) -> int:
    """How many data rows :func:`rows_of` will yield (read through once, streamed)."""
    if file_format is FileFormat.JSONL:
        return sum(1 for _ in _json_lines(path))
    # What rows_of skips, without building each row's cells: the header, blank rows.
    raw = _raw_rows(path, file_format)
    if next(raw, None) is None:
        return 0
    return sum(1 for _, row in raw if not all(cell is None or cell == "" for cell in row))


def _raw_rows(path: Path, file_format: FileFormat) -> Iterator[tuple[int, Sequence[Any]]]:
    if file_format is FileFormat.CSV:
        yield from _csv_rows(path)
    else:
        yield from _xlsx_rows(path)


def _csv_rows(path: Path) -> Iterator[tuple[int, Sequence[Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        sample = file.read(_SNIFF_BYTES)
        file.seek(0)
        first = sample.splitlines()[0] if sample else ""
        delimiter = max(",;\t", key=first.count) if first else ","
        reader = csv.reader(file, delimiter=delimiter)
        try:
            for row in reader:
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UnreadableFileError(f"not a CSV file in UTF-8 ({exc})") from None


def _xlsx_rows(path: Path) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors: not a workbook
        raise UnreadableFileError(f"not an XLSX workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


def _json_lines(path: Path) -> Iterator[tuple[int, Cells | BadLine]]:
    with path.open(encoding="utf-8-sig") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line.strip())
            except json.JSONDecodeError as exc:
                yield number, BadLine(f"not JSON: {exc.msg} at column {exc.colno}")
                continue
            except UnicodeDecodeError:
                raise UnreadableFileError("not a JSON Lines file in UTF-8") from None
            if not isinstance(value, dict):
                yield number, BadLine("a line must be one JSON object")
                continue
            yield number, value


class RowWriter:
    """Writes rows (cells by column name) in a format, a batch at a time, to ``out``.

    CSV and JSON Lines go out as each batch is written; an XLSX workbook is kept in
    openpyxl's write-only form and goes out on :meth:`close`.
    """

    def __init__(self, out: IO[bytes], file_format: FileFormat, header: Sequence[str]) -> None:
        self._out = out
        self._format = file_format
        self._header = list(header)
        self._csv = csv.writer(_TextOut(out)) if file_format is FileFormat.CSV else None
        self._workbook = Workbook(write_only=True) if file_format is FileFormat.XLSX else None
        self._sheet = self._workbook.create_sheet("products") if self._workbook else None
        if self._csv is not None:
            self._csv.writerow(self._header)
        if self._sheet is not None:
            self._sheet.append(self._header)

    def write(self, rows: Iterable[Cells]) -> None:
        for row in rows:
            if self._csv is not None:
                self._csv.writerow([_cell_text(row.get(name)) for name in self._header])
            elif self._sheet is not None:
                self._sheet.append([_xlsx_cell(row.get(name)) for name in self._header])
            else:
                self._out.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.save(self._out)


class _TextOut:
    """A bytes stream as the text stream csv.writer writes to (UTF-8)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(text.encode())


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value
