"""``skuhub dlq``: list, show and replay the dead letters of the running services.

Talks to each service's ``/v1/dead-letters`` (docs/operations.md, "Dead letters"): URLs
from the dev stack's ``.skuhub/endpoints.json`` (else the default ports), or ``--url``
for one service. Sends ``Authorization: Bearer $SKUHUB_TOKEN`` (else the dev stack's
token); a replay needs the ``operate`` scope and is recorded under the token's actor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from skuhub_cli import endpoints
from skuhub_contracts.topics import SERVICES

if TYPE_CHECKING:  # imported where used: every other skuhub command starts without it
    import httpx

dlq_app = typer.Typer(
    help="Dead letters: what the services refused, why, and replays once the cause is fixed.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

TIMEOUT_S = 30.0
PAGE = 500
_RELATIVE = re.compile(r"^([0-9]+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class DeadLetterError(Exception):
    """A request the service refused or did not answer; the message says what to do."""


def moment(value: str | None, now: datetime | None = None) -> str | None:
    """``--since``/``--until``: RFC 3339 as given, or a time ago (``30m``, ``2h``, ``7d``)."""
    if value is None:
        return None
    relative = _RELATIVE.match(value.strip())
    if relative is None:
        return value
    ago = timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    return ((now or datetime.now(UTC)) - ago).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Filters:
    reason: str | None = None
    since: str | None = None
    until: str | None = None
    topic: str | None = None
    replayed: bool | None = None

    def params(self) -> dict[str, str]:
        found = {
            "reason": self.reason,
            "since": self.since,
            "until": self.until,
            "topic": self.topic,
            "replayed": None if self.replayed is None else str(self.replayed).lower(),
        }
        return {name: value for name, value in found.items() if value is not None}


class DeadLetterClient:
    """The dead-letter routes of one service."""

    def __init__(self, service: str, client: httpx.Client) -> None:
        self.service = service
        self._client = client

    def letters(self, filters: Filters, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every dead letter that matches, oldest first (at most ``limit``), page by page."""
        cursor: str | None = None
        given = 0
        while True:
            size = PAGE if limit is None else min(PAGE, limit - given)
            params: dict[str, Any] = filters.params() | {"limit": size}
            if cursor:
                params["cursor"] = cursor
            page = self._answer(self._get("/v1/dead-letters", params=params))
            yield from page["items"]
            given += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None or (limit is not None and given >= limit):
                return

    def letter(self, dead_letter_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._answer(self._get(f"/v1/dead-letters/{dead_letter_id}"))
        return found

    def replay(self, dead_letter_id: str) -> tuple[int, dict[str, Any]]:
        """The status (201, 404 or 409) and body of a replay; other statuses raise."""
        response = self._send("POST", f"/v1/dead-letters/{dead_letter_id}/replays")
        if response.status_code in (201, 404, 409):
            body: dict[str, Any] = response.json()
            return response.status_code, body
        self._answer(response)
        raise AssertionError("unreachable")  # _answer raises for every other status

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return self._send("GET", path, params=params)

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        import httpx

        try:
            return self._client.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise DeadLetterError(
                f"{self.service} at {self._client.base_url} did not answer ({exc}); is the "
                "stack running (skuhub dev), or is --url right?"
            ) from exc

    def _answer(self, response: httpx.Response) -> Any:
        if response.is_success:
            return response.json()
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        if isinstance(detail, list):  # a 422: which parameter, and the rule it breaks
            detail = "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail
            )
        if response.status_code in (401, 403):
            detail = (
                f"{detail} (set SKUHUB_TOKEN to a token from `skuhub token create`; a replay "
                "needs the operate scope)"
            )
        raise DeadLetterError(f"{self.service}: {response.status_code} {detail}")


def open_clients(
    services: list[str], url: str | None, transport: Any = None
) -> list[DeadLetterClient]:
    """A client per service, with the token in every request."""
    import httpx

    headers = endpoints.auth_headers()
    return [
        DeadLetterClient(
            service,
            httpx.Client(
                base_url=(url or endpoints.service_url(service)).rstrip("/"),
                headers=headers,
                timeout=TIMEOUT_S,
                transport=transport,
            ),
        )
        for service in services
    ]


def _services(service: str | None, url: str | None, *, one: bool = False) -> list[str]:
    if service is None and one:
        raise typer.BadParameter("name the service the ids are of", param_hint="--service")
    name = (service or "all").strip().lower().replace("-", "_")
    if name == "all" and not one and url is None:
        return list(SERVICES)
    if name not in SERVICES:
        choices = ", ".join(SERVICES) + ("" if one else ", all")
        need = " (--url names one service)" if url and name == "all" else ""
        raise typer.BadParameter(
            f"{service!r} is not a service{need}; choose one of: {choices}",
            param_hint="--service",
        )
    return [name]


def letters_table(rows: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title_justify="left")
    for name in ("service", "id", "dead-lettered at", "topic", "key", "reason", "replayed"):
        table.add_column(name, overflow="fold")
    for service, item in rows:
        replay = item["replayed"]
        table.add_row(
            service,
            item["id"],
            item["dead_lettered_at"],
            f"{item['topic']}[{item['partition']}]@{item['offset']}",
            item["key"] or "-",
            item["reason"],
            f"{replay['replayed_at']} by {replay['actor']}" if replay else "no",
        )
    return table


def show_letter(service: str, letter: dict[str, Any]) -> None:
    fields = Table.grid(padding=(0, 2))
    for name in ("id", "topic", "partition", "offset", "key", "event_type", "event_id"):
        fields.add_row(name, str(letter[name]))
    fields.add_row("service", service)
    fields.add_row("reason", letter["reason"])
    fields.add_row("dead-lettered at", letter["dead_lettered_at"])
    fields.add_row("replay of", letter["replay_of"] or "-")
    replay = letter["replayed"]
    fields.add_row("replayed", f"{replay['replayed_at']} by {replay['actor']}" if replay else "no")
    out.print(fields)
    headers = Table(title="headers", title_justify="left")
    headers.add_column("name")
    headers.add_column("value", overflow="fold")
    for header in letter["headers"]:
        suffix = " (base64)" if header["encoding"] == "base64" else ""
        headers.add_row(header["name"], header["value"] + suffix)
    out.print(headers)
    if letter["value_json"] is not None:
        out.print_json(data=letter["value_json"])
    elif letter["value_text"] is not None:
        out.print(letter["value_text"], markup=False, highlight=False)
    else:
        out.print(f"value (base64): {letter['value_base64']}")


ServiceOption = Annotated[
    str | None,
    typer.Option(
        "--service",
        "-s",
        help="catalog, stock, lifecycle or sync_gateway; or all (the default of list and of "
        "replay --all-matching).",
    ),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        help="The service's base URL (default: from .skuhub/endpoints.json, else its port)."
    ),
]
ReasonOption = Annotated[
    str | None, typer.Option(help="Only reasons containing this text (any case).")
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="Only dead-lettered at or after: RFC 3339, or a time ago (30m, 2h, 7d)."),
]
UntilOption = Annotated[
    str | None, typer.Option(help="Only dead-lettered before: RFC 3339, or a time ago.")
]
TopicOption = Annotated[
    str | None, typer.Option(help="Only records read from this topic (e.g. stock.stock-moved.v1).")
]


@dlq_app.command("list")
def list_letters(
    service: ServiceOption = None,
    url: UrlOption = None,
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    topic: TopicOption = None,
    replayed: Annotated[
        bool | None,
        typer.Option("--replayed/--not-replayed", help="Only replayed ones, or only the others."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many per service.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines instead of a table.")] = False,
) -> None:
    """List dead letters, oldest first: where each came from, why, and whether replayed."""
    filters = Filters(reason, moment(since), moment(until), topic, replayed)
    rows: list[tuple[str, dict[str, Any]]] = []
    failed = False
    for client in open_clients(_services(service, url), url):
        try:
            rows += [(client.service, item) for item in client.letters(filters, limit)]
        except DeadLetterError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
            failed = True
    if as_json:
        for name, item in rows:
            out.print_json(data={"service": name, **item}, indent=None)
    elif rows:
        out.print(letters_table(rows))
    else:
        out.print("no dead letters match")
    if failed:
        raise typer.Exit(1)


@dlq_app.command("show")
def show(
    dead_letter_ids: Annotated[list[str], typer.Argument(help="Ids, as `list` shows them.")],
    service: ServiceOption = None,
    url: UrlOption = None,
) -> None:
    """Show dead letters whole: reason, origin, every header and the value."""
    [client] = open_clients(_services(service, url, one=True), url)
    failed = False
    for dead_letter_id in dead_letter_ids:
        try:
            show_letter(client.service, client.letter(dead_letter_id))
        except DeadLetterError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
            failed = True
    if failed:
        raise typer.Exit(1)


@dlq_app.command("replay")
def replay(
    dead_letter_ids: Annotated[
        list[str] | None, typer.Argument(help="Ids to replay (or --all-matching).")
    ] = None,
    service: ServiceOption = None,
    url: UrlOption = None,
    all_matching: Annotated[
        bool,
        typer.Option(
            "--all-matching",
            help="Replay every dead letter not replayed yet that matches the filters.",
        ),
    ] = False,
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    topic: TopicOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before an --all-matching replay.")
    ] = False,
) -> None:
    """Replay dead letters once their cause is fixed: each goes back to its original topic.

    Each is replayed once only. One refused again comes back as a new dead letter whose
    replay_of names the old one: replay that one in turn.
    """
    if bool(dead_letter_ids) == all_matching:
        raise typer.BadParameter("give dead letter ids, or --all-matching with filters")
    clients = open_clients(_services(service, url, one=not all_matching), url)
    work: list[tuple[DeadLetterClient, str]] = []
    try:
        if all_matching:
            filters = Filters(reason, moment(since), moment(until), topic, replayed=False)
            for client in clients:
                work += [(client, item["id"]) for item in client.letters(filters)]
            if not work:
                out.print("no dead letters match that were not replayed already")
                return
            if not yes:
                typer.confirm(f"replay {len(work)} dead letters?", abort=True)
        else:
            work = [(clients[0], dead_letter_id) for dead_letter_id in dead_letter_ids or []]
        counts = _replay_all(work)
    except DeadLetterError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc
    out.print(
        f"replayed {counts[201]}, replayed before {counts[409]}, not found {counts[404]}",
        highlight=False,
    )
    if counts[404] or (counts[409] and not all_matching):
        raise typer.Exit(1)


def _replay_all(work: list[tuple[DeadLetterClient, str]]) -> dict[int, int]:
    counts = {201: 0, 404: 0, 409: 0}
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=len(work) < 2,
    ) as progress:
        task = progress.add_task("replay", total=len(work))
        for client, dead_letter_id in work:
            status, body = client.replay(dead_letter_id)
            counts[status] += 1
            if status != 201:
                progress.console.print(f"[yellow]{escape(str(body['detail']))}[/]", highlight=False)
            progress.advance(task)
    return counts
