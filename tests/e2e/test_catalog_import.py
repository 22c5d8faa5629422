"""Supplier imports and channel exports on the running stack, used as a product team uses
them: the ``skuhub catalog`` commands and the HTTP jobs (docs/catalog.md, "Bulk import and
export")."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from skuhub_cli.main import app
from skuhub_contracts.topics import PRODUCT_CHANGED
from tests import api
from tests.e2e.observe import new_gtin13, new_sku, publish_product
from tests.harness import Stack, wait_until
from tests.upstream import body_of, find_records, records_until

pytestmark = pytest.mark.e2e


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def read_report(path: Path) -> list[tuple[int, str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return [(int(r["row"]), r["column"], r["message"]) for r in csv.DictReader(file)]


def last_import(stack: Stack) -> dict[str, Any]:
    [job] = api.get(f"{stack.url('catalog')}/v1/imports", params={"limit": 1}).json()
    return dict(job)


def test_a_file_with_bad_rows_puts_the_good_ones_in_and_a_second_run_changes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    catalog = stack.url("catalog")
    weight = f"weight_{uuid.uuid4().hex[:8]}"
    defined = api.post(
        f"{catalog}/v1/attributes",
        json={"code": weight, "type": "measurement", "unit_family": "mass"},
    )
    assert defined.status_code == 201, defined.text
    mapping = tmp_path / "acme-supplier.json"
    mapping.write_text(
        json.dumps(
            {
                "columns": [
                    {"column": "Article", "to": "sku"},
                    {"column": "EAN", "to": "gtin"},
                    {"column": "Name", "to": "title.en_US"},
                    {"column": "Weight", "to": f"attributes.{weight}", "unit_column": "Unit"},
                    {"column": "Case", "to": "packs.CS"},
                ],
                "units": {"kg": "KGM", "lb": "LBR", "l": "LTR"},
            }
        ),
        encoding="utf-8",
    )
    sku = [new_sku("IMP") for _ in range(7)]
    taken = new_gtin13()
    supplier = tmp_path / "acme.csv"
    supplier.write_text(
        "Article;EAN;Name;Weight;Unit;Case\n"
        f"{sku[0]};{taken};Mug;1.5;kg;\n"
        f"{sku[1]};;Cup;2;lb;6\n"
        f"{sku[2]};4006381333932;Bowl;1;kg;\n"
        f"{sku[3]};{taken};Plate;1;kg;\n"
        f"{sku[4]};;Jug;1;l;\n"
        f"{sku[5]};;Pot;1;kg;-1\n"
        f"{sku[6]};;Spoon;0.1;kg;12\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"
    args = ("catalog", "import", str(supplier), "--mapping", str(mapping))
    code, output = run_cli(*args, "--report", str(report), "--catalog", catalog)

    assert code == 1, output
    problems = read_report(report)
    assert [(row, column) for row, column, _ in problems] == [
        (4, "EAN"),
        (5, "EAN"),
        (6, "Weight"),
        (7, "Case"),
    ], "each refused row by the column at fault"
    assert "check digit" in problems[0][2]
    assert f"already identifies product {sku[0]}" in problems[1][2]
    assert "not a unit of mass" in problems[2][2]
    assert "greater than 0" in problems[3][2]
    job = last_import(stack)
    assert (job["status"], job["rows_total"], job["rows"]) == ("done", 7, 7)
    assert (job["created"], job["updated"], job["unchanged"], job["failed"]) == (3, 0, 0, 4)
    stored = api.get(f"{catalog}/v1/products/{sku[1]}").json()
    assert stored["attributes"][weight] == {"amount": 2, "unit": "LBR"}
    assert stored["packs"] == {"CS": "6"}
    for refused in sku[2:6]:
        assert api.get(f"{catalog}/v1/products/{refused}").status_code == 404
    good = {sku[0], sku[1], sku[6]}
    published = find_records(
        stack.infra.kafka_bootstrap,
        stack.topic(PRODUCT_CHANGED.name),
        lambda m: body_of(m)["sku"] in good,
        expect=3,
    )
    assert sorted(body_of(m)["sku"] for m in published) == sorted(good)

    code, output = run_cli(*args, "--catalog", catalog)

    assert code == 1, output
    again = last_import(stack)
    assert again["id"] != job["id"]
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (
        0,
        0,
        3,
        4,
    )
    for kept in good:
        assert api.get(f"{catalog}/v1/products/{kept}").json()["version"] == 1
    # On Kafka too: up to a later change of the same key (same partition), nothing between.
    fence = api.patch(f"{catalog}/v1/products/{sku[6]}", json={"title": {"de_DE": "Löffel"}})
    assert fence.json()["version"] == 2
    sent = records_until(
        stack.infra.kafka_bootstrap,
        stack.topic(PRODUCT_CHANGED.name),
        lambda m: body_of(m)["sku"] == sku[6],
        lambda m: body_of(m)["sku"] == sku[6] and body_of(m)["product_version"] == 2,
    )
    assert [body_of(m)["product_version"] for m in sent] == [1, 2]


def test_xlsx_and_json_lines_files_go_in_as_http_jobs(stack: Stack, tmp_path: Path) -> None:
    catalog = stack.url("catalog")
    code = new_sku("map").lower()
    saved = api.put(
        f"{catalog}/v1/import-mappings/{code}",
        json={
            "columns": [
                {"column": "sku", "to": "sku"},
                {"column": "name", "to": "title.de_DE"},
                {"column": "lots", "to": "lot_tracked"},
            ]
        },
    )
    assert (saved.status_code, saved.json()["version"]) == (200, 1), saved.text
    a, b, c = new_sku("XL"), new_sku("XL"), new_sku("JL")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["sku", "name", "lots"])
    sheet.append([a, "Becher", True])
    sheet.append([b, "Tasse", "nein"])
    workbook = tmp_path / "supplier.xlsx"
    book.save(workbook)
    lines = f'{{"sku": "{c}", "name": "Krug", "lots": "ja"}}\n{{"sku": \n'

    def post(body: bytes, content_type: str) -> dict[str, Any]:
        started = api.post(
            f"{catalog}/v1/imports",
            params={"mapping": code},
            content=body,
            headers={"Content-Type": content_type},
        )
        assert started.status_code == 202, started.text
        url = f"{catalog}{started.headers['Location']}"
        return wait_until(
            lambda: ((j := api.get(url).json())["status"] != "running" and j) or None,
            timeout=30,
            what="the import job to end",
        )

    xlsx = post(
        workbook.read_bytes(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    jsonl = post(lines.encode(), "application/x-ndjson")

    assert (xlsx["status"], xlsx["created"], xlsx["failed"]) == ("done", 2, 0), xlsx["message"]
    assert (jsonl["status"], jsonl["created"], jsonl["failed"]) == ("done", 1, 1)
    assert api.get(f"{catalog}/v1/products/{a}").json()["lot_tracked"] is True
    assert api.get(f"{catalog}/v1/products/{b}").json()["lot_tracked"] is False
    [bad] = api.get(f"{catalog}/v1/imports/{jsonl['id']}/problems").json()["items"]
    assert (bad["row"], bad["column"]) == (2, None)
    assert bad["message"].startswith("not JSON")
    unknown = api.post(f"{catalog}/v1/imports", params={"mapping": code}, content=b"x", headers={})
    assert unknown.status_code == 415, unknown.text


def test_an_export_holds_the_channels_published_content_only(stack: Stack, tmp_path: Path) -> None:
    catalog = stack.url("catalog")
    shown, draft = new_sku("EXP"), new_sku("EXP")
    for sku, title in ((shown, "Shown"), (draft, "Draft only")):
        created = api.post(
            f"{catalog}/v1/products",
            json={"sku": sku, "title": {"en_US": title}, "attributes": {"colour": "red"}},
        )
        assert created.status_code == 201, created.text
    publish_product(stack, shown)
    api.patch(f"{catalog}/v1/products/{shown}", json={"title": {"en_US": "Not yet"}})
    out = tmp_path / "web.csv"

    code, output = run_cli("catalog", "export", "web", "-o", str(out), "--catalog", catalog)

    assert code == 0, output
    with out.open(encoding="utf-8", newline="") as file:
        rows = {r["sku"]: r for r in csv.DictReader(file)}
    assert draft not in rows
    assert (rows[shown]["title.en_US"], rows[shown]["attributes.colour"]) == ("Shown", "red")
    code, output = run_cli("catalog", "export", "nowhere", "-o", str(out), "--catalog", catalog)
    assert code == 2
    assert "no channel nowhere" in output


def test_variants_in_one_file_are_told_apart_by_their_axes(stack: Stack, tmp_path: Path) -> None:
    catalog = stack.url("catalog")
    model = new_sku("MODEL")
    made = api.post(
        f"{catalog}/v1/product-models",
        json={"code": model, "axes": ["colour"], "title": {"en_US": "Shirt"}},
    )
    assert made.status_code == 201, made.text
    mapping = tmp_path / "variants.json"
    mapping.write_text(
        json.dumps(
            {
                "columns": [
                    {"column": "sku", "to": "sku"},
                    {"column": "model", "to": "product_model"},
                    {"column": "colour", "to": "attributes.colour"},
                ]
            }
        ),
        encoding="utf-8",
    )
    red, again, blue = new_sku("V"), new_sku("V"), new_sku("V")
    supplier = tmp_path / "variants.csv"
    supplier.write_text(
        f"sku,model,colour\n{red},{model},red\n{again},{model},red\n{blue},{model},blue\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.csv"

    code, output = run_cli(
        "catalog", "import", str(supplier), "--mapping", str(mapping),
        "--report", str(report), "--catalog", catalog,
    )  # fmt: skip

    assert code == 1, output
    [(row, column, message)] = read_report(report)
    assert (row, column) == (3, "colour")
    assert "already has colour='red'" in message
    for sku, status in ((red, 200), (again, 404), (blue, 200)):
        assert api.get(f"{catalog}/v1/products/{sku}").status_code == status
