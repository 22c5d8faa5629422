"""``skuhub dlq``: what it asks the services and what it tells the operator (HTTP faked by an
httpx transport; the end-to-end tests run it against the real stack)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from skuhub_cli import dlq
from skuhub_cli.main import app

runner = CliRunner()


def item(dead_letter_id: str, replayed: bool = False) -> dict[str, Any]:
    return {
        "id": dead_letter_id,
        "topic": "stock.stock-moved.v1",
        "partition": 0,
        "offset": 3,
        "key": "SKU-1",
        "event_type": "skuhub.stock-moved.v1",
        "event_id": "e-1",
        "reason": "unit CS cannot be converted",
        "dead_lettered_at": "2026-12-02T18:00:00Z",
        "replay_of": None,
        "replayed": {"replayed_at": "2026-12-02T18:01:00Z", "actor": "bob"} if replayed else None,
    }


class FakeService:
    """Answers the dead-letter routes from a list, two per page; remembers the requests."""

    def __init__(self, letters: list[dict[str, Any]], replayed: set[str] | None = None) -> None:
        self.letters = letters
        self.replayed = replayed or set()
        self.requests: list[httpx.Request] = []
        self.refusal: str | None = None
        """When set, every request is refused with a 403 saying this."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.refusal is not None:
            return httpx.Response(403, json={"detail": self.refusal})
        path = request.url.path
        ids = [letter["id"] for letter in self.letters]
        if path == "/v1/dead-letters":
            cursor = request.url.params.get("cursor")
            start = ids.index(cursor) + 1 if cursor else 0
            page = self.letters[start : start + 2]
            more = start + 2 < len(self.letters)
            return httpx.Response(
                200, json={"items": page, "next_cursor": page[-1]["id"] if more else None}
            )
        dead_letter_id = path.split("/")[3]
        if dead_letter_id not in ids:
            return httpx.Response(404, json={"detail": f"no dead letter {dead_letter_id} in stock"})
        if request.method == "POST":
            if dead_letter_id in self.replayed:
                return httpx.Response(
                    409, json={"detail": f"{dead_letter_id} was replayed [by bob]"}
                )
            self.replayed.add(dead_letter_id)
            return httpx.Response(201, json={"dead_letter_id": dead_letter_id})
        return httpx.Response(404)


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeService:
    fake = FakeService([item("0-1-a"), item("0-2-b"), item("1-1-c")], replayed={"0-2-b"})
    opened = dlq.open_clients

    def faked(services: list[str], url: str | None) -> Any:
        return opened(services, url, transport=httpx.MockTransport(fake))

    monkeypatch.setattr(dlq, "open_clients", faked)
    monkeypatch.chdir(tmp_path)  # no dev stack's endpoints file here
    monkeypatch.delenv("SKUHUB_TOKEN", raising=False)
    return fake


def test_list_pages_through_every_dead_letter_with_the_filters(service: FakeService) -> None:
    result = runner.invoke(
        app, ["dlq", "list", "-s", "stock", "--reason", "unit", "--not-replayed", "--json"]
    )

    assert result.exit_code == 0, result.output
    listed = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert listed == ["0-1-a", "0-2-b", "1-1-c"]
    assert [r.url.params.get("cursor") for r in service.requests] == [None, "0-2-b"]
    assert all(r.url.params["reason"] == "unit" for r in service.requests)
    assert all(r.url.params["replayed"] == "false" for r in service.requests)


def test_the_token_goes_with_every_request(
    service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKUHUB_TOKEN", "tok-123")

    result = runner.invoke(app, ["dlq", "replay", "0-1-a", "-s", "stock"])

    assert result.exit_code == 0, result.output
    [request] = service.requests
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:8102/v1/dead-letters/0-1-a/replays"
    assert request.headers["Authorization"] == "Bearer tok-123"


def test_no_token_no_authorization(service: FakeService) -> None:
    runner.invoke(app, ["dlq", "show", "0-1-a", "-s", "stock"])

    assert "Authorization" not in service.requests[0].headers


def test_an_unknown_id_says_which_service_lacks_it(service: FakeService) -> None:
    result = runner.invoke(app, ["dlq", "show", "9-9-z", "-s", "stock"])

    assert result.exit_code == 1
    assert "no dead letter 9-9-z in stock" in result.stderr


def test_replay_all_matching_skips_the_replayed_and_counts(service: FakeService) -> None:
    service.letters[1]["replayed"] = {"replayed_at": "2026-12-02T18:01:00Z", "actor": "bob"}

    result = runner.invoke(
        app, ["dlq", "replay", "--all-matching", "-s", "stock", "--reason", "unit", "--yes"]
    )

    assert result.exit_code == 0, result.output
    posted = [r.url.path for r in service.requests if r.method == "POST"]
    # The fake lists all three; the one replayed before answers 409 and is counted so.
    assert posted == [f"/v1/dead-letters/{i}/replays" for i in ("0-1-a", "0-2-b", "1-1-c")]
    assert "replayed 2, replayed before 1, not found 0" in result.stdout
    listing = [r for r in service.requests if r.method == "GET"]
    assert all(r.url.params["replayed"] == "false" for r in listing)


def test_replaying_an_id_twice_fails_the_second_time(service: FakeService) -> None:
    first = runner.invoke(app, ["dlq", "replay", "0-1-a", "-s", "stock"])
    second = runner.invoke(app, ["dlq", "replay", "0-1-a", "-s", "stock"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 1
    assert "0-1-a was replayed [by bob]" in second.stderr


def test_ids_need_a_service() -> None:
    result = runner.invoke(app, ["dlq", "replay", "0-1-a"])

    assert result.exit_code == 2
    assert "name the service" in result.output


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2h", "2026-12-02T16:00:00Z"),
        ("30m", "2026-12-02T17:30:00Z"),
        ("7d", "2026-11-25T18:00:00Z"),
        ("2026-12-01T00:00:00+01:00", "2026-12-01T00:00:00+01:00"),
    ],
)
def test_a_time_is_rfc_3339_or_a_time_ago(given: str, sent: str) -> None:
    assert dlq.moment(given, now=datetime(2026, 12, 2, 18, 0, tzinfo=UTC)) == sent


def test_a_refused_token_says_how_to_get_one(service: FakeService) -> None:
    service.refusal = "token abc lacks the scope operate"

    result = runner.invoke(app, ["dlq", "replay", "0-1-a", "-s", "stock"])

    assert result.exit_code == 1
    assert "403 token abc lacks the scope operate" in result.stderr
    assert "skuhub token create" in result.stderr
