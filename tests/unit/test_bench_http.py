"""The benchmark's lean HTTP client against a real socket server: keep-alive, a server that
closes after an answer, a dropped connection reported as ConnectionError (so the caller may
retry), and request bodies and headers as sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import h11
import pytest

from skuhub_cli.bench_http import LeanConnection


@asynccontextmanager
async def server(
    *, close_after: int | None = None, drop_at: int | None = None
) -> AsyncIterator[tuple[str, list[tuple[str, bytes, dict[str, str]]], list[int]]]:
    """An HTTP/1.1 server that echoes each request's method, body and headers back as JSON.

    ``close_after``: answers per connection before it says Connection: close.
    ``drop_at``: the request number (from 1, over all connections) it drops unanswered.
    """
    seen: list[tuple[str, bytes, dict[str, str]]] = []
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        protocol = h11.Connection(h11.SERVER)
        answered = 0
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65_536)
                if not data:
                    break
                protocol.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request, body = event, b""
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                headers = {k.decode(): v.decode() for k, v in request.headers}
                seen.append((request.method.decode(), body, headers))
                if drop_at == len(seen):
                    break
                answered += 1
                closing = close_after is not None and answered >= close_after
                payload = json.dumps({"n": len(seen), "body": body.decode()}).encode()
                fields = [("content-length", str(len(payload)))]
                if closing:
                    fields.append(("connection", "close"))
                writer.write(protocol.send(h11.Response(status_code=201, headers=fields)))
                writer.write(protocol.send(h11.Data(data=payload)))
                writer.write(protocol.send(h11.EndOfMessage()))
                await writer.drain()
                if closing:
                    break
                protocol.start_next_cycle()
        writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen, connections
    finally:
        listening.close()


async def test_requests_share_one_connection_and_carry_body_and_headers() -> None:
    async with server() as (url, seen, connections), LeanConnection(url) as client:
        first = await client.request(
            "POST", "/v1/reservations", json_body={"sku": "A"}, headers={"Idempotency-Key": "k"}
        )
        second = await client.request("GET", "/v1/positions/A")
    assert (first.status, first.json()) == (201, {"n": 1, "body": '{"sku": "A"}'})
    assert second.json()["n"] == 2
    assert len(connections) == 1
    method, body, headers = seen[0]
    assert (method, json.loads(body)) == ("POST", {"sku": "A"})
    assert headers["idempotency-key"] == "k"
    assert headers["content-type"] == "application/json"
    assert seen[1][0] == "GET"


async def test_a_server_that_closes_after_an_answer_gets_a_new_connection() -> None:
    async with server(close_after=1) as (url, _, connections), LeanConnection(url) as client:
        answers = [await client.request("GET", f"/x/{i}") for i in range(3)]
    assert [a.json()["n"] for a in answers] == [1, 2, 3]
    assert len(connections) == 3


async def test_a_dropped_connection_is_a_connection_error_and_the_next_request_reconnects() -> None:
    async with server(drop_at=2) as (url, _, connections), LeanConnection(url) as client:
        await client.request("GET", "/x/1")
        with pytest.raises(ConnectionError):
            await client.request("GET", "/x/2")
        again = await client.request("GET", "/x/2")
    assert again.json()["n"] == 3
    assert len(connections) == 2


def test_only_plain_http_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="http://host:port"):
        LeanConnection("https://example.org")
