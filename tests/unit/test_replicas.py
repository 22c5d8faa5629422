"""Several instances of a service: `--replicas` parsing, instance names, ports, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from skuhub_cli.launcher import ServiceGroup, Wiring, instance_names, ports_needed
from skuhub_cli.main import _replicas
from skuhub_cli.stack import check_replicas
from skuhub_contracts.topics import SERVICES


def test_replicas_are_repeatable_or_comma_separated_and_accept_dashes() -> None:
    assert _replicas(["stock=2", "lifecycle=3,sync-gateway=2"]) == {
        "stock": 2,
        "lifecycle": 3,
        "sync_gateway": 2,
    }
    assert _replicas(None) == {}


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("stok=2", "unknown service 'stok'"),
        ("stock=0", "at least once"),
        ("stock", "is not SERVICE=N"),
        ("stock=two", "is not SERVICE=N"),
    ],
)
def test_bad_replicas_are_refused_with_what_is_wrong(value: str, said: str) -> None:
    with pytest.raises(typer.BadParameter, match=said):
        _replicas([value])


def test_more_replicas_than_partitions_is_refused_with_the_fix() -> None:
    check_replicas({"stock": 3}, services=SERVICES, partitions=3)
    with pytest.raises(ValueError, match="raise --partitions to 4"):
        check_replicas({"stock": 4}, services=SERVICES, partitions=3)
    with pytest.raises(ValueError, match="not started"):
        check_replicas({"stock": 2}, services=("catalog",), partitions=3)


def test_a_service_run_once_keeps_its_name_and_several_are_numbered() -> None:
    assert instance_names("stock", 1) == ["stock"]
    assert instance_names("stock", 3) == ["stock-1", "stock-2", "stock-3"]


def test_first_instances_keep_the_stack_ports_and_more_follow_the_last(tmp_path: Path) -> None:
    group = ServiceGroup(
        Wiring("127.0.0.1:9", "postgresql://x@127.0.0.1/x"), log_dir=tmp_path, http_port_base=8101
    )
    replicas = {"stock": 3, "lifecycle": 2}
    ports = {
        name: group._new(service, name, {}).port
        for service in SERVICES
        for name in instance_names(service, replicas.get(service, 1))
    }
    assert ports == {
        "catalog": 8101,
        "stock-1": 8102,
        "stock-2": 8105,
        "stock-3": 8106,
        "lifecycle-1": 8103,
        "lifecycle-2": 8107,
        "sync_gateway": 8104,
    }
    assert ports_needed(replicas) == len(set(ports.values())) == 7
    stock_2 = group._new("stock", "stock-2", {})
    assert (stock_2.env["SKUHUB_INSTANCE_ID"], stock_2.log_path.name) == ("stock-2", "stock-2.log")
