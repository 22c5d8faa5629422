"""`skuhub trace`: a SKU's records joined into changes, hop by hop (no I/O)."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from skuhub_cli.change_trace import change_traces
from skuhub_cli.main import app


def _entry(event_id: str, recorded: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": "receipt",
        "quantity": "5",
        "unit": "EA",
        "location": "4012345000009",
        "occurred_at": f"2026-05-04T10:00:{recorded}+00:00",
        "recorded_at": f"2026-05-04T10:00:{recorded}.200000+00:00",
        **fields,
    }


def _change(caused_by: str, version: int, at: str, **fields: Any) -> dict[str, Any]:
    return {
        "channel": "web",
        "offer_version": version,
        "cause": "stock",
        "caused_by": caused_by,
        "origin_time": f"2026-05-04T10:00:{at}.100000+00:00",
        "changed_at": f"2026-05-04T10:00:{at}.300000+00:00",
        "trace_id": f"trace-{caused_by}",
        "deliveries": [],
        **fields,
    }


def test_each_movement_leads_to_the_offer_change_that_names_it_newest_first() -> None:
    journal = [_entry("m1", "01"), _entry("m2", "02"), _entry("m3", "02")]
    changes = [
        _change(
            "m1",
            1,
            "01",
            deliveries=[
                {
                    "subscription_id": "s",
                    "webhook_id": "msg_1",
                    "status": "delivered",
                    "attempts": 1,
                    "created_at": "2026-05-04T10:00:01.350000+00:00",
                    "delivered_at": "2026-05-04T10:00:01.400000+00:00",
                }
            ],
        ),
        # m2 and m3 came in one batch: one change, caused by the last.
        _change("m3", 2, "02"),
    ]

    traces = change_traces(journal, changes, limit=10)

    assert [t.title.split(":")[0] for t in traces] == ["movement m3", "movement m2", "movement m1"]
    m3, m2, m1 = traces
    assert m3.trace_id == "trace-m3"
    assert [h.what for h in m1.hops] == [
        "occurred at the source",
        "entered skuhub",
        "stock: applied to the ledger",
        "gateway: web offer v1 stored",
        "webhook: delivered",
    ]
    assert m1.hops[-1].note == "msg_1 to subscription s, 1 attempt(s)"
    assert m2.hops[-1].what == "gateway: no offer change names it"
    assert m2.hops[-1].at is None


def test_changes_no_journaled_movement_explains_are_listed_on_their_own() -> None:
    changes = [
        _change("p1", 1, "05", cause="product"),
        # A stock change of a movement older than the journal read: not shown as unexplained.
        _change("old-movement", 1, "00"),
    ]

    traces = change_traces([], changes, limit=10)

    assert [t.title for t in traces] == ["product change p1"]
    assert [h.what for h in traces[0].hops] == ["entered skuhub", "gateway: web offer v1 stored"]


def test_a_refused_movement_ends_at_stock_with_the_reason() -> None:
    journal = [_entry("m1", "01", rejected_reason="unknown unit")]

    [trace] = change_traces(journal, [], limit=10)

    assert trace.hops[-1].what == "stock: refused"
    assert trace.hops[-1].note == "unknown unit"


def test_a_sku_the_contract_refuses_is_refused_before_any_request() -> None:
    result = CliRunner().invoke(
        app,
        ["trace", "BAD?SKU", "--stock", "http://127.0.0.1:9", "--gateway", "http://127.0.0.1:9"],
    )

    assert result.exit_code == 2
    assert "not a SKU" in result.output
