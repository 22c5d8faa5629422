"""A lean HTTP/1.1 client for the benchmark's racing callers: one keep-alive connection,
one request at a time, the protocol done by h11.

The services run on the same two cores as the benchmark. httpx spent 0.8 ms of CPU per
request with one connection per client and 5 ms with 64 connections in one pool, as much
as the service it measured; this client spends about 0.1 ms, so the figures are the
service's. Callers that need redirects, TLS or pooling use httpx.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11

from skuhub_cli import endpoints

READ_CHUNK = 65_536


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LeanConnection:
    """One keep-alive HTTP/1.1 connection to ``base_url`` (http only)."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"an http://host:port URL is needed, not {base_url!r}")
        self._host, self._port = parts.hostname, parts.port
        self._authority = f"{self._host}:{self._port}"
        self._timeout_s = timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._protocol = h11.Connection(h11.CLIENT)
        self._auth = endpoints.auth_headers()

    async def __aenter__(self) -> LeanConnection:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            writer.close()
            self._streams = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request and read its whole answer.

        Raises:
            ConnectionError: the connection broke (it is closed; the next request opens
                a new one, so a caller may retry with the same Idempotency-Key).
            TimeoutError: no answer within the timeout.
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._exchange(method, path, json_body, headers or {})
        except (OSError, h11.ProtocolError, asyncio.IncompleteReadError) as broken:
            await self.close()
            raise ConnectionError(f"{method} {path}: {broken!r}") from broken

    async def _exchange(
        self, method: str, path: str, json_body: Any, headers: dict[str, str]
    ) -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
            self._protocol = h11.Connection(h11.CLIENT)
        reader, writer = self._streams
        body = b"" if json_body is None else json.dumps(json_body).encode()
        fields = [("host", self._authority), ("content-length", str(len(body)))]
        if json_body is not None:
            fields.append(("content-type", "application/json"))
        fields += list({**self._auth, **headers}.items())
        writer.write(self._protocol.send(h11.Request(method=method, target=path, headers=fields)))
        writer.write(self._protocol.send(h11.Data(data=body)))
        writer.write(self._protocol.send(h11.EndOfMessage()))
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            event = self._protocol.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(READ_CHUNK)
                if not data:
                    raise OSError("the server closed the connection")
                self._protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        assert response is not None
        if self._protocol.our_state is h11.DONE and self._protocol.their_state is h11.DONE:
            self._protocol.start_next_cycle()
        else:  # the server ends the connection after this answer: the next opens another
            await self.close()
        return Answer(
            response.status_code,
            {k.decode(): v.decode() for k, v in response.headers},
            b"".join(chunks),
        )
