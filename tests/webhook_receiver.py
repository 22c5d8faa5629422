"""A real webhook endpoint for tests: ``http.server`` on a free local port, in a thread.

It verifies every request's signature with the Standard Webhooks library, as a receiver
would, and answers as the test decides per request: 2xx (the message is accepted and
recorded), 500, no answer within the sender's timeout, or bytes that are no HTTP.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from skuhub_cli.ports import free_port

Answer = Literal["ok", "fail", "hang", "garbage"]


@dataclass(frozen=True)
class Request:
    """One request as received (whatever was answered)."""

    id: str
    sku: str
    offer_version: int
    answer: Answer
    at: float
    """time.monotonic() on arrival."""


@dataclass
class Receiver:
    """A webhook endpoint; ``decide(request)`` chooses each answer (``ok`` by default)."""

    secret: str | None = None
    decide: Callable[[Request], Answer] = lambda _: "ok"
    hang_s: float = 2.0
    """How long a ``hang`` holds the request (longer than the sender's timeout)."""
    requests: list[Request] = field(default_factory=list)
    accepted: list[Request] = field(default_factory=list)
    """Requests answered 2xx, in the order they were answered."""
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)
    """Why a request's signature did not verify, one entry per such request."""
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def versions(self) -> dict[str, list[int]]:
        """Per SKU, the offer versions accepted, in the order they were accepted."""
        with self._lock:
            found: dict[str, list[int]] = {}
            for r in self.accepted:
                found.setdefault(r.sku, []).append(r.offer_version)
            return found

    def answered(self, answer: Answer) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.answer == answer]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            if self.secret is None:
                raise WebhookVerificationError("the test gave the receiver no secret")
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            payload = json.loads(body)
            with self._lock:
                self.unverified.append(f"{headers.get('webhook-id')}: {exc}")
        data = payload["data"]
        request = Request(
            id=headers["webhook-id"],
            sku=data["sku"],
            offer_version=data["offer_version"],
            answer="ok",
            at=time.monotonic(),
        )
        answer = self.decide(request)
        request = Request(request.id, request.sku, request.offer_version, answer, request.at)
        with self._lock:
            self.requests.append(request)
        if answer == "garbage":
            handler.wfile.write(b"THIS IS NOT HTTP\r\n\x00\x01\x02\r\n\r\n")
            handler.close_connection = True
            return
        if answer == "hang":
            self._closing.wait(self.hang_s)
            _answer(handler, 503, b"too late")
            return
        if answer == "fail":
            _answer(handler, 500, b"receiver failed")
            return
        with self._lock:
            self.accepted.append(request)
            self.bodies[request.id] = payload
        _answer(handler, 200, b"ok")

    @contextlib.contextmanager
    def serve(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the sender's pool expects

            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        server = _Server(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, name="webhook-receiver")
        thread.start()
        try:
            yield self
        finally:
            self._closing.set()
            server.shutdown()
            server.server_close()
            thread.join(10)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that gave up (a hang) resets the connection: no news for the log."""


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    try:
        handler.send_response(status)
        handler.send_header("content-type", "text/plain")
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        handler.close_connection = True  # the sender gave up (timeout): nobody reads this
