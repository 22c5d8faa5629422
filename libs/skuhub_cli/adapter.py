"""``skuhub adapter``: a minimal reference channel adapter (docs/change-feed.md).

It shows adapter authors the whole path from the sync gateway to a channel, with the
two rules every adapter needs:

- offers are whole state with an ``offer_version``: keep the highest version per SKU and
  drop older ones, so re-deliveries and overlaps are harmless;
- remember where you are (the feed cursor) only after what you read is stored.

``feed`` starts from the snapshot export, then tails the change feed by long poll,
saving the cursor next to the output; after 410 (retention passed it by) it takes the
snapshot again. ``webhook`` receives Standard Webhooks deliveries and checks their
signatures with the ``standardwebhooks`` library. Both keep the channel's offers in a
JSON Lines file, one offer per SKU; a real adapter writes them to its shop instead.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from skuhub_cli import endpoints

if TYPE_CHECKING:  # imported where used: every other skuhub command starts without them
    import httpx
    from starlette.applications import Starlette

adapter_app = typer.Typer(
    help="A reference channel adapter: the gateway's offers into a local file.",
    no_args_is_help=True,
)
console = Console(stderr=True, soft_wrap=True)

WAIT_S = 30
"""Long-poll wait: the gateway answers at once when a change arrives."""


class OfferFile:
    """The newest offer of each SKU, kept in a JSON Lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offers: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    offer = json.loads(line)
                    self.offers[offer["sku"]] = offer

    def apply(self, offer: dict[str, Any]) -> bool:
        """Keep ``offer`` unless a version as new is kept; True when it was newer."""
        kept = self.offers.get(offer["sku"])
        if kept is not None and kept["offer_version"] >= offer["offer_version"]:
            return False
        self.offers[offer["sku"]] = offer
        return True

    def save(self) -> None:
        lines = (json.dumps(self.offers[sku], sort_keys=True) + "\n" for sku in sorted(self.offers))
        _write(self.path, "".join(lines))


def _write(path: Path, text: str) -> None:
    """Replace ``path`` whole: a crash leaves the old file or the new, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


@adapter_app.command()
def feed(
    gateway: Annotated[str, typer.Option(help="The sync gateway's URL.")] = "http://127.0.0.1:8104",
    channel: Annotated[str, typer.Option(help="The channel's code.")] = "web",
    out: Annotated[Path, typer.Option(help="The offers file (JSON Lines).")] = Path("offers.jsonl"),
    follow: Annotated[
        bool, typer.Option(help="Keep tailing the feed; --no-follow stops once caught up.")
    ] = True,
) -> None:
    """Tail a channel's change feed into OUT (the cursor is kept in OUT.cursor). Sends
    SKUHUB_TOKEN (a token that serves the channel), else the dev stack's token."""
    import httpx

    offers = OfferFile(out)
    cursor_file = out.with_name(out.name + ".cursor")
    cursor = cursor_file.read_text().strip() if cursor_file.exists() else None
    changes = older = 0
    with (
        httpx.Client(
            base_url=gateway, timeout=WAIT_S + 10, headers=endpoints.auth_headers()
        ) as client,
        console.status("") as status,
    ):
        if cursor is None:
            cursor = _snapshot(client, channel, offers)
            _write(cursor_file, cursor)
        while True:
            try:
                response = client.get(
                    f"/v1/channels/{channel}/feed",
                    params={"cursor": cursor, "limit": 1000, "wait": WAIT_S if follow else 0},
                )
            except httpx.TransportError as exc:
                if not follow:
                    _fail(f"the gateway at {gateway} does not answer: {exc}")
                status.update(f"[yellow]gateway unreachable ({exc}); trying again")
                time.sleep(2)  # a retry pause, then the same request
                continue
            if response.status_code == 410:  # the log no longer reaches back to our cursor
                console.print(f"[yellow]{_detail(response)}; taking the snapshot again")
                offers.offers.clear()
                cursor = _snapshot(client, channel, offers)
                _write(cursor_file, cursor)
                continue
            if response.status_code != 200:
                _fail(f"{response.status_code}: {_detail(response)}")
            page = response.json()
            for offer in page["changes"]:
                changes += 1
                older += not offers.apply(offer)
            if page["changes"]:
                offers.save()
            cursor = page["next_cursor"]
            _write(cursor_file, cursor)  # only after the offers are stored
            status.update(
                f"{channel}: {len(offers.offers):,} offers in {out}, {changes:,} changes "
                f"read ({older:,} older versions dropped)"
            )
            if not follow and not page["has_more"]:
                break
    console.print(f"{channel}: {len(offers.offers):,} offers in {out}; {changes:,} changes read")


def _snapshot(client: httpx.Client, channel: str, offers: OfferFile) -> str:
    """Read every current offer of the channel; the feed cursor to continue from."""
    with client.stream("GET", f"/v1/channels/{channel}/offers") as response:
        if response.status_code != 200:
            response.read()
            _fail(f"snapshot: {response.status_code}: {_detail(response)}")
        for line in response.iter_lines():
            if line:
                offers.apply(json.loads(line))
        cursor = response.headers["Feed-Cursor"]
    offers.save()
    console.print(f"{channel}: snapshot of {len(offers.offers):,} offers")
    return cursor


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return response.text


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(1)


def webhook_receiver(secret: str, offers: OfferFile) -> Starlette:
    """An app taking ``offer.changed`` deliveries at any path, signatures checked."""
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    try:
        verifier = Webhook(secret)
    except Exception as exc:  # the library raises what base64 does, among others
        raise typer.BadParameter(
            f"not a webhook secret ({exc}); pass the whsec_… the subscription gave",
            param_hint="--secret",
        ) from exc
    received = {"offers": 0, "older": 0}

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            message = verifier.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError) as exc:
            console.print(f"[red]refused a delivery:[/] {exc}")
            return PlainTextResponse(f"signature not verified: {exc}", status_code=401)
        if message.get("type") == "offer.changed":
            if offers.apply(message["data"]):
                offers.save()
                received["offers"] += 1
            else:
                received["older"] += 1
            console.print(
                f"{message['data']['sku']} v{message['data']['offer_version']}: "
                f"{received['offers']:,} stored, {received['older']:,} older dropped"
            )
        return Response(status_code=204)

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])


@adapter_app.command()
def webhook(
    secret: Annotated[str, typer.Option(help="The subscription's signing secret (whsec_…).")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8200,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    out: Annotated[Path, typer.Option(help="The offers file (JSON Lines).")] = Path("offers.jsonl"),
) -> None:
    """Receive signed offer.changed webhooks into OUT."""
    import uvicorn

    app = webhook_receiver(secret, OfferFile(out))
    console.print(f"receiving webhooks at http://{host}:{port}/ into {out}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
