"""The launcher points every service's reconciler at the stock instance it starts
with a read-only token (docs/kpis.md), unless the environment names others."""

from __future__ import annotations

from pathlib import Path

from skuhub_cli.launcher import ServiceGroup, Wiring, point_at_stock
from skuhub_runtime.access_tokens import IssuedToken

TOKEN = IssuedToken("0123456789abcdef", "s" * 43)


def group(tmp_path: Path) -> ServiceGroup:
    return ServiceGroup(
        Wiring("127.0.0.1:9", "postgresql://x@127.0.0.1/x"), log_dir=tmp_path, http_port_base=8101
    )


def test_every_service_started_with_a_stock_gets_its_url(tmp_path: Path) -> None:
    g = group(tmp_path)
    services = [g._new(name, name, {}) for name in ("catalog", "stock", "sync_gateway")]

    point_at_stock(services, services, lambda: TOKEN)

    assert {s.name: s.env["SKUHUB_STOCK_URL"] for s in services} == {
        "catalog": "http://127.0.0.1:8102",
        "stock": "http://127.0.0.1:8102",
        "sync_gateway": "http://127.0.0.1:8102",
    }
    assert {s.env["SKUHUB_STOCK_TOKEN"] for s in services} == {TOKEN.value}


def test_a_stock_url_the_environment_names_is_kept(tmp_path: Path) -> None:
    g = group(tmp_path)
    stock = g._new("stock", "stock", {})
    gateway = g._new("sync_gateway", "sync_gateway", {"SKUHUB_STOCK_URL": "http://stock.example"})

    point_at_stock([gateway], [stock, gateway], lambda: TOKEN)

    assert gateway.env["SKUHUB_STOCK_URL"] == "http://stock.example"


def test_without_a_stock_in_the_group_nothing_is_set(tmp_path: Path) -> None:
    gateway = group(tmp_path)._new("sync_gateway", "sync_gateway", {})

    point_at_stock([gateway], [gateway], lambda: TOKEN)

    assert "SKUHUB_STOCK_URL" not in gateway.env
    assert "SKUHUB_STOCK_TOKEN" not in gateway.env
