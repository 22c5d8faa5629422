"""``skuhub token create | list | revoke | audit`` (docs/access.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from skuhub_cli import endpoints
from skuhub_cli.tokens import create_token, list_tokens, read_audit, revoke_token
from skuhub_runtime.access_tokens import Scope

token_app = typer.Typer(
    help="API tokens: create (shown once), list, revoke, and the audit of their writes. "
    "Uses SKUHUB_DATABASE_URL, else the running dev stack's database.",
    no_args_is_help=True,
)
console = Console()


@token_app.command("create")
def create(
    actor: Annotated[
        str, typer.Option(help="Who uses it (a person or a system); recorded with every write.")
    ],
    scope: Annotated[
        list[Scope] | None,
        typer.Option(help="A scope (repeat for several). Without one the token may only read."),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option(help="Serve only this channel (repeat for several); default every channel."),
    ] = None,
    note: Annotated[str, typer.Option(help="What the token is for.")] = "",
) -> None:
    """Create a token and print it; it is shown this once (only its hash is kept)."""
    url, prefix = endpoints.database()
    try:
        issued = create_token(
            url, prefix, actor=actor, scopes=scope or (), channels=channel or None, note=note
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--actor") from None
    scopes = ", ".join(s.value for s in scope or ()) or "read only"
    console.print(f"token {issued.token_id} for {actor} ({scopes}):", highlight=False)
    print(issued.value)


@token_app.command("list")
def list_() -> None:
    """Every token: id, actor, scopes, channels, created, revoked."""
    url, prefix = endpoints.database()
    table = Table(title="API tokens")
    for column in ("id", "actor", "scopes", "channels", "created", "revoked", "note"):
        table.add_column(column)
    for stored in list_tokens(url, prefix):
        p = stored.principal
        table.add_row(
            p.token_id,
            p.actor,
            ", ".join(sorted(p.scopes)) or "read only",
            ", ".join(sorted(p.channels)) if p.channels is not None else "every",
            stored.created_at.isoformat(timespec="seconds"),
            stored.revoked_at.isoformat(timespec="seconds") if stored.revoked_at else "",
            stored.note,
        )
    console.print(table)


@token_app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(help="The token's id (skh_<id>_…).")]) -> None:
    """Revoke a token: every service refuses it within SKUHUB_TOKEN_RECHECK_S (5 s)."""
    url, prefix = endpoints.database()
    if not revoke_token(url, prefix, token_id):
        console.print(f"[red]no token {token_id}[/]; `skuhub token list` shows them")
        raise typer.Exit(1)
    console.print(f"token {token_id} revoked")


@token_app.command("audit")
def audit(
    token: Annotated[str | None, typer.Option(help="Only this token's writes.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
) -> None:
    """The newest audited writes: when, service, token, actor, request and its status."""
    url, prefix = endpoints.database()
    table = Table(title="Audited writes, newest first")
    for column in ("at", "service", "token", "actor", "request", "status"):
        table.add_column(column)
    for e in read_audit(url, prefix, token_id=token, limit=limit):
        table.add_row(
            e.at.isoformat(timespec="milliseconds"),
            e.service,
            e.token_id,
            e.actor,
            f"{e.method} {e.path}",
            str(e.status),
        )
    console.print(table)
