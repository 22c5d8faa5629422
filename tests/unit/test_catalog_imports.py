"""Supplier imports without I/O beyond a temporary file: mappings (domain/imports.py), cells
read into fields (entrypoints/supplier_rows.py), the three file formats
(adapters/supplier_files.py) and a chunk of rows put in on the fake unit of work
(service_layer/imports.py). Expected values are written out from docs/catalog.md, "Bulk
import and export"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from skuhub_catalog.adapters.supplier_files import (
    BadLine,
    RowWriter,
    UnreadableFileError,
    count_rows,
    header_of,
    rows_of,
)
from skuhub_catalog.domain.attributes import Attribute, AttributeType
from skuhub_catalog.domain.imports import (
    ColumnRule,
    FileFormat,
    ImportJob,
    ImportMapping,
    ImportRow,
    InvalidMappingError,
    JobStatus,
    RowProblem,
    check_mapping,
)
from skuhub_catalog.domain.product import ProductStatus
from skuhub_catalog.entrypoints.supplier_rows import missing_columns, read_row
from skuhub_catalog.service_layer.imports import import_rows, save_mapping
from tests.fakes.catalog import FakeCatalogUnitOfWork

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MAPPING = ImportMapping(
    code="acme",
    columns=(
        ColumnRule("Article", "sku"),
        ColumnRule("EAN", "gtin"),
        ColumnRule("Name EN", "title.en_US"),
        ColumnRule("Weight", "attributes.weight", unit="lb"),
        ColumnRule("Price EUR", "attributes.price", currency="EUR"),
        ColumnRule("Price USD", "attributes.price", currency="USD"),
        ColumnRule("Colours", "attributes.colours", separator=";"),
        ColumnRule("Capacity", "attributes.capacity_ml"),
        ColumnRule("Lots", "lot_tracked"),
        ColumnRule("Shop", "categories"),
    ),
    units={"lb": "LBR"},
    defaults={"family": "mugs"},
)


def definition(code: str, kind: AttributeType, **fields: Any) -> Attribute:
    return Attribute(code=code, type=kind, version=1, updated_at=T0, **fields)


DEFINITIONS = {
    "weight": definition("weight", AttributeType.MEASUREMENT, unit_family="mass"),
    "price": definition("price", AttributeType.PRICE_COLLECTION),
    "colours": definition("colours", AttributeType.MULTI_SELECT),
    "capacity_ml": definition("capacity_ml", AttributeType.NUMBER),
}


class TestMapping:
    def test_a_mapping_needs_one_column_to_sku(self) -> None:
        with pytest.raises(InvalidMappingError, match="one column must map to sku") as refusal:
            check_mapping(ImportMapping("m", (ColumnRule("Name", "title.en_US"),)))
        assert refusal.value.field == "columns"

    @pytest.mark.parametrize(
        ("rule", "field", "words"),
        [
            (ColumnRule("X", "colour"), "columns[1].to", "'colour' is not a catalog field"),
            (ColumnRule("X", "title"), "columns[1].to", "is not a catalog field"),
            (ColumnRule("Article", "gtin"), "columns[1].column", "mapped twice"),
            (ColumnRule("X", "sku"), "columns[1].to", "two columns fill sku"),
            (ColumnRule("X", "gtin", unit="kg"), "columns[1]", "apply to attributes"),
            (ColumnRule("X", "title.en_US", locale="de_DE"), "columns[1]", "apply to attributes"),
            (
                ColumnRule("X", "attributes.w", unit="kg", unit_column="U"),
                "columns[1]",
                "not both",
            ),
        ],
    )
    def test_a_rule_the_catalog_cannot_follow_is_refused_naming_it(
        self, rule: ColumnRule, field: str, words: str
    ) -> None:
        mapping = ImportMapping("m", (ColumnRule("Article", "sku"), rule))
        with pytest.raises(InvalidMappingError, match=words) as refusal:
            check_mapping(mapping)
        assert refusal.value.field == field

    def test_two_price_columns_may_fill_one_attribute_in_two_currencies(self) -> None:
        assert check_mapping(MAPPING) is MAPPING

    async def test_saving_the_same_mapping_again_keeps_its_version(self) -> None:
        uow = FakeCatalogUnitOfWork()
        first = await save_mapping(uow, MAPPING, now=T0)
        again = await save_mapping(uow, MAPPING, now=T0)
        changed = await save_mapping(uow, ImportMapping("acme", MAPPING.columns[:3]), now=T0)
        assert (first.version, again.version, changed.version) == (1, 1, 2)


class TestReadingCells:
    def test_cells_become_typed_fields_by_the_attribute_definitions(self) -> None:
        cells = {
            "Article": " MUG-1 ",
            "EAN": "4006381333931",
            "Name EN": "Mug",
            "Weight": "1.5",
            "Price EUR": "9.99",
            "Price USD": "10.50",
            "Colours": "red; blue",
            "Capacity": "350",
            "Lots": "yes",
            "Shop": "kitchen|gifts",
        }

        row, problems = read_row(MAPPING, 2, cells, DEFINITIONS)

        assert problems == []
        assert row == ImportRow(
            row=2,
            sku="MUG-1",
            fields={
                "gtin": "4006381333931",
                "title": {"en_US": "Mug"},
                "attributes": {
                    "weight": {"amount": 1.5, "unit": "LBR"},
                    "price": {"EUR": "9.99", "USD": "10.50"},
                    "colours": ["red", "blue"],
                    "capacity_ml": 350,
                },
                "lot_tracked": True,
                "categories": ["kitchen", "gifts"],
                "family": "mugs",
            },
            columns={
                "sku": "Article",
                "gtin": "EAN",
                "title.en_US": "Name EN",
                "attributes.weight": "Weight",
                "attributes.price": "Price USD",
                "attributes.colours": "Colours",
                "attributes.capacity_ml": "Capacity",
                "lot_tracked": "Lots",
                "categories": "Shop",
                "family": "(default)",
            },
        )

    def test_an_empty_cell_fills_nothing(self) -> None:
        row, problems = read_row(MAPPING, 3, {"Article": "MUG-1", "EAN": " ", "Lots": ""}, {})
        assert problems == []
        assert row is not None
        assert row.fields == {"family": "mugs"}

    def test_every_unreadable_cell_is_a_problem_naming_its_column(self) -> None:
        cells = {
            "Article": "MUG 1",
            "EAN": "4006381333932",
            "Capacity": "lots",
            "Lots": "perhaps",
        }

        row, problems = read_row(MAPPING, 7, cells, DEFINITIONS)

        assert row is None
        assert [(p.row, p.column, p.field) for p in problems] == [
            (7, "Article", "sku"),
            (7, "EAN", "gtin"),
            (7, "Capacity", "attributes.capacity_ml"),
            (7, "Lots", "lot_tracked"),
        ]
        assert "check digit" in problems[1].message
        assert problems[2].message == "must be a number, not 'lots'"
        assert problems[3].message == "must be true or false (yes/no, 1/0), not 'perhaps'"

    def test_columns_of_a_localized_and_scoped_attribute_fill_one_value_each(self) -> None:
        mapping = ImportMapping(
            "x",
            (
                ColumnRule("A", "sku"),
                ColumnRule("Claim EN", "attributes.claim", locale="en_US"),
                ColumnRule("Claim DE", "attributes.claim", locale="de_DE"),
                ColumnRule("Web DE", "attributes.blurb", channel="web", locale="de_DE"),
                ColumnRule("POS DE", "attributes.blurb", channel="pos", locale="de_DE"),
            ),
        )
        assert check_mapping(mapping) is mapping
        cells = {"A": "M", "Claim EN": "Strong", "Claim DE": "Stark", "Web DE": "W", "POS DE": ""}

        row, problems = read_row(mapping, 2, cells, {})

        assert problems == []
        assert row is not None
        assert row.fields == {
            "attributes": {
                "claim": {"en_US": "Strong", "de_DE": "Stark"},
                "blurb": {"web": {"de_DE": "W"}},
            }
        }

    def test_a_row_without_a_sku_is_a_problem(self) -> None:
        row, problems = read_row(MAPPING, 4, {"Name EN": "Mug"}, {})
        assert row is None
        assert problems == [RowProblem(4, "Article", "sku", "a row needs a SKU")]

    def test_spreadsheet_values_read_like_their_text(self) -> None:
        mapping = ImportMapping(
            "x",
            (
                ColumnRule("A", "sku"),
                ColumnRule("G", "gtin"),
                ColumnRule("D", "attributes.launch"),
                ColumnRule("S", "shelf_life_days"),
            ),
        )
        cells = {"A": "MUG-1", "G": 4006381333931.0, "D": datetime(2026, 5, 1), "S": 30.0}
        launch = {"launch": definition("launch", AttributeType.DATE)}

        row, problems = read_row(mapping, 2, cells, launch)

        assert problems == []
        assert row is not None
        assert row.fields == {
            "gtin": "4006381333931",
            "attributes": {"launch": "2026-05-01"},
            "shelf_life_days": 30,
        }

    def test_a_header_lacking_a_mapped_column_is_named(self) -> None:
        unit_column = ImportMapping(
            "x", (ColumnRule("A", "sku"), ColumnRule("W", "attributes.w", unit_column="WU"))
        )
        assert missing_columns(unit_column, ["A", "W"]) == ["WU"]
        assert missing_columns(unit_column, ["A", "W", "WU", "extra"]) == []

    def test_a_unit_column_gives_each_row_its_unit(self) -> None:
        mapping = ImportMapping(
            "x",
            (ColumnRule("A", "sku"), ColumnRule("W", "attributes.w", unit_column="WU")),
            units={"kg": "KGM"},
        )
        row, problems = read_row(mapping, 2, {"A": "M", "W": "2", "WU": "kg"}, {})
        assert problems == []
        assert row is not None
        assert row.fields == {"attributes": {"w": {"amount": 2, "unit": "KGM"}}}
        _, problems = read_row(mapping, 3, {"A": "M", "W": "2"}, {})
        assert [p.message for p in problems] == ["no unit: the unit column WU is empty"]


class TestFiles:
    def test_a_csv_with_a_byte_order_mark_and_semicolons_is_read_as_the_supplier_sees_it(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "acme.csv"
        path.write_bytes('\ufeffArticle;Name EN\nMUG-1;"Mug; big"\n;\nMUG-2;Cup\n'.encode())

        assert header_of(path, FileFormat.CSV) == ["Article", "Name EN"]
        assert list(rows_of(path, FileFormat.CSV)) == [
            (2, {"Article": "MUG-1", "Name EN": "Mug; big"}),
            (4, {"Article": "MUG-2", "Name EN": "Cup"}),
        ]
        assert count_rows(path, FileFormat.CSV) == 2

    def test_a_header_naming_a_column_twice_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "twice.csv"
        path.write_text("Article,EAN,EAN\n", encoding="utf-8")
        with pytest.raises(UnreadableFileError, match="names column 'EAN' twice"):
            header_of(path, FileFormat.CSV)

    def test_a_json_line_that_is_not_an_object_is_a_bad_line_and_the_rest_is_read(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "acme.jsonl"
        path.write_text('{"sku": "A"}\n[1]\n{"sku": \n\n{"sku": "B"}\n', encoding="utf-8")

        read = list(rows_of(path, FileFormat.JSONL))

        assert [(n, c) for n, c in read if not isinstance(c, BadLine)] == [
            (1, {"sku": "A"}),
            (5, {"sku": "B"}),
        ]
        assert [(n, str(c)) for n, c in read if isinstance(c, BadLine)] == [
            (2, "a line must be one JSON object"),
            (3, "not JSON: Expecting value at column 8"),
        ]

    def test_an_xlsx_sheet_is_read_with_its_values_typed(self, tmp_path: Path) -> None:
        path = tmp_path / "acme.xlsx"
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["Article", "Weight", "Since"])
        sheet.append(["MUG-1", 1.5, date(2026, 1, 2)])
        sheet.append([None, None, None])
        sheet.append(["MUG-2", 3, None])
        book.save(path)

        assert header_of(path, FileFormat.XLSX) == ["Article", "Weight", "Since"]
        assert list(rows_of(path, FileFormat.XLSX)) == [
            (2, {"Article": "MUG-1", "Weight": 1.5, "Since": datetime(2026, 1, 2)}),
            (4, {"Article": "MUG-2", "Weight": 3, "Since": None}),
        ]

    def test_not_a_workbook_is_unreadable(self, tmp_path: Path) -> None:
        path = tmp_path / "fake.xlsx"
        path.write_text("Article\nMUG-1\n", encoding="utf-8")
        with pytest.raises(UnreadableFileError, match="not an XLSX workbook"):
            header_of(path, FileFormat.XLSX)

    @pytest.mark.parametrize("file_format", list(FileFormat))
    def test_what_is_written_reads_back(self, tmp_path: Path, file_format: FileFormat) -> None:
        path = tmp_path / f"out.{file_format.value}"
        rows: list[dict[str, Any]] = [
            {"sku": "MUG-1", "title.en_US": "Mug, big", "attributes.colours": ["red"]},
            {"sku": "MUG-2", "title.en_US": "Cup"},
        ]
        with path.open("wb") as file:
            writer = RowWriter(file, file_format, ["sku", "title.en_US", "attributes.colours"])
            writer.write(rows[:1])
            writer.write(rows[1:])
            writer.close()

        read = [cells for _, cells in rows_of(path, file_format)]

        first = {"sku": "MUG-1", "title.en_US": "Mug, big"}
        if file_format is FileFormat.JSONL:
            assert read == rows
        else:
            blank = "" if file_format is FileFormat.CSV else None
            assert read == [
                first | {"attributes.colours": '["red"]'},
                {"sku": "MUG-2", "title.en_US": "Cup", "attributes.colours": blank},
            ]


async def job(uow: FakeCatalogUnitOfWork) -> str:
    await uow.imports.add_job(
        ImportJob(
            id="job-1",
            mapping="acme",
            file_format=FileFormat.CSV,
            file_name="acme.csv",
            actor="ana",
            status=JobStatus.RUNNING,
            started_at=T0,
            updated_at=T0,
        )
    )
    return "job-1"


def row(number: int, sku: str, **fields: Any) -> ImportRow:
    return ImportRow(number, sku, fields, {"sku": "Article", "gtin": "EAN", "title.en_US": "Name"})


class TestPuttingRowsIn:
    async def test_good_rows_go_in_and_a_refused_row_is_a_problem_naming_its_column(
        self,
    ) -> None:
        uow = FakeCatalogUnitOfWork()
        job_id = await job(uow)
        rows = [
            row(2, "MUG-1", gtin="4006381333931", title={"en_US": "Mug"}),
            row(3, "MUG-2", gtin="04006381333931", title={"en_US": "Mug too"}),
            row(4, "MUG-3", title={"en_US": "Cup"}, status=ProductStatus.ENABLED),
        ]
        unreadable = [RowProblem(5, "EAN", "gtin", "bad check digit")]

        result = await import_rows(uow, job_id, rows, unreadable, unreadable_rows=1, actor="ana")

        assert [s.product.sku for s in result.saved] == ["MUG-1", "MUG-3"]
        assert [(p.row, p.column, p.field) for p in result.problems] == [
            (3, "EAN", "gtin"),
            (5, "EAN", "gtin"),
        ]
        assert "already identifies product MUG-1" in result.problems[0].message
        assert await uow.products.get("MUG-2") is None
        stored = await uow.imports.get_job(job_id)
        assert stored is not None
        counts = stored.counts
        assert (counts.rows, counts.created, counts.failed, counts.problems) == (4, 2, 2, 2)
        assert [seq for seq, _ in await uow.imports.problems_of(job_id, 0, 10)] == [1, 2]

    async def test_the_same_rows_again_change_nothing_and_new_cells_change_only_themselves(
        self,
    ) -> None:
        uow = FakeCatalogUnitOfWork()
        job_id = await job(uow)
        first = [row(2, "MUG-1", title={"en_US": "Mug"}, packs={"CS": Decimal(6)})]
        await import_rows(uow, job_id, first)

        again = await import_rows(uow, job_id, first)
        more = await import_rows(uow, job_id, [row(2, "MUG-1", title={"de_DE": "Becher"})])

        assert (again.saved, again.counts.unchanged) == ([], 1)
        assert more.counts.updated == 1
        product = await uow.products.get("MUG-1")
        assert product is not None
        assert (product.version, dict(product.title), dict(product.packs)) == (
            2,
            {"en_US": "Mug", "de_DE": "Becher"},
            {"CS": Decimal(6)},
        )
