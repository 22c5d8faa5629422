"""The ``skuhub`` command line: run one service, the whole dev stack, topics, demo, schemas.

Services are imported by name at run time (``skuhub_<name>.entrypoints.app``):
the shared libraries never import a service statically.
"""

from __future__ import annotations

import importlib
import json
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from skuhub_cli import endpoints
from skuhub_cli.adapter import adapter_app
from skuhub_cli.change_trace import trace_command
from skuhub_cli.dlq import dlq_app
from skuhub_cli.kpi import kpi
from skuhub_cli.token_commands import token_app
from skuhub_cli.top import top
from skuhub_contracts.topics import SERVICES

app = typer.Typer(
    name="skuhub",
    help="skuhub: product information, stock and lifecycle in one truth; every channel in sync.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)


def _service_name(value: str) -> str:
    name = value.strip().lower().replace("-", "_")
    if name not in SERVICES:
        raise typer.BadParameter(
            f"unknown service {value!r}; choose one of: {', '.join(SERVICES)}",
            param_hint="SERVICE",
        )
    return name


def _replicas(values: list[str] | None) -> dict[str, int]:
    """``--replicas stock=2`` (repeatable, or ``stock=2,lifecycle=2``) as {service: count}."""
    counts: dict[str, int] = {}
    for value in values or []:
        for item in filter(None, (part.strip() for part in value.split(","))):
            service, equals, number = item.partition("=")
            if not equals or not number.strip().lstrip("-").isdigit():
                raise typer.BadParameter(
                    f"{item!r} is not SERVICE=N (e.g. stock=2)", param_hint="--replicas"
                )
            name = service.strip().lower().replace("-", "_")
            if name not in SERVICES:
                raise typer.BadParameter(
                    f"unknown service {service.strip()!r}; choose one of: {', '.join(SERVICES)}",
                    param_hint="--replicas",
                )
            if int(number) < 1:
                raise typer.BadParameter(
                    f"{item!r}: a service runs at least once (N >= 1)", param_hint="--replicas"
                )
            counts[name] = int(number)
    return counts


def _load_entrypoint(service: str) -> Callable[[], Any]:
    module_name = f"skuhub_{service}.entrypoints.app"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            console.print(
                f"[red]error:[/] service {service!r} has no entrypoint: module {module_name} "
                "is not installed or not written yet"
            )
            raise typer.Exit(3) from exc
        raise
    entry: Callable[[], Any] | None = getattr(module, "main", None)
    if entry is None:
        console.print(f"[red]error:[/] {module_name} has no main()")
        raise typer.Exit(3)
    return entry


@app.command()
def run(
    service: Annotated[
        str, typer.Argument(help=f"The service to run: {', '.join(SERVICES)}.", show_default=False)
    ],
) -> None:
    """Run one service in the foreground (configured by SKUHUB_* environment variables)."""
    name = _service_name(service)
    try:
        _load_entrypoint(name)()
    except ValidationError as exc:
        _refuse_settings(name, exc)


def _refuse_settings(what: str, exc: ValidationError) -> NoReturn:
    """Exit 2 with what is wrong in the environment, instead of a traceback (a settings
    error only: any other validation error is a bug and keeps its traceback)."""
    if not exc.title.endswith("Settings"):
        raise exc
    problems = "\n".join(
        f"  {_variable(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
    )
    console.print(f"[red]error:[/] {what}: the environment's settings are invalid:\n{problems}")
    raise typer.Exit(2) from exc


def _variable(location: tuple[int | str, ...]) -> str:
    """A settings error's place as the environment variable to change (and where in it)."""
    if not location:
        return "settings"
    inside = "".join(f"[{part}]" for part in location[1:])
    return f"SKUHUB_{str(location[0]).upper()}{inside}"


@app.command()
def dev(
    data_dir: Annotated[
        Path, typer.Option(help="Data directory of the embedded PostgreSQL (kept between runs).")
    ] = Path(".skuhub/pgdata"),
    kafka_dir: Annotated[
        Path, typer.Option(help="Data directory of the embedded Kafka broker (kept between runs).")
    ] = Path(".skuhub/kafka"),
    kafka_port: Annotated[int, typer.Option(help="Port of the embedded Kafka broker.")] = 9092,
    http_port_base: Annotated[
        int,
        typer.Option(
            help="HTTP port of catalog; stock, lifecycle, sync_gateway get the next three, "
            "further instances (--replicas) the ports after those."
        ),
    ] = 8101,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Feed demo products and stock once ready.")
    ] = False,
    partitions: Annotated[
        int,
        typer.Option(
            min=1,
            help="Partitions of created topics; also the most instances of a service that "
            "get work (--replicas above it is refused). Existing topics keep theirs.",
        ),
    ] = 3,
    replicas: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SERVICE=N",
            help="Run N instances of a service in its consumer groups (stock-1 … stock-N, "
            "each with its own port and log); repeatable or comma-separated, e.g. "
            "--replicas stock=2,lifecycle=2. N may not exceed --partitions.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(hidden=True, help="Start only these services (repeatable; for development)."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(hidden=True, help="Where logs and endpoints.json go.")
    ] = Path(".skuhub"),
) -> None:
    """Start Kafka, PostgreSQL and all four services locally; Ctrl-C stops everything.

    Kafka (Apache Kafka, KRaft) and PostgreSQL run embedded, their data kept in
    .skuhub/ between runs, unless SKUHUB_KAFKA_BOOTSTRAP / SKUHUB_DATABASE_URL
    point at running ones.
    """
    from rich.markup import escape

    from skuhub_cli.processes import StackError
    from skuhub_cli.stack import DevStack
    from skuhub_cli.supervision import InfrastructureDied

    services = tuple(_service_name(s) for s in only) if only else SERVICES
    try:
        stack = DevStack(
            data_dir=data_dir,
            kafka_dir=kafka_dir,
            kafka_port=kafka_port,
            http_port_base=http_port_base,
            partitions=partitions,
            services=services,
            replicas=_replicas(replicas),
            state_dir=state_dir,
            console=console,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--replicas") from exc
    exit_code = 0
    _interrupt_on_signals()
    try:
        stack.start()
        console.print(stack.table())
        console.print(
            f"dev token (every scope; also in {stack.endpoints_path}):\n  {stack.token}\n"
            "  e.g. curl -H 'Authorization: Bearer <token>' …; more: `skuhub token create`"
        )
        console.print(
            f"[bold green]all ready[/] in {stack.ready_after_s:.1f}s; endpoints in "
            f"{stack.endpoints_path}. A service that exits is restarted; Ctrl-C stops everything."
        )
        if demo:
            from skuhub_cli.demo import run_demo

            urls = stack.urls()
            run_demo(
                catalog_url=urls["catalog"],
                stock_url=urls["stock"],
                gateway_url=urls.get("sync_gateway"),
                lifecycle_url=urls.get("lifecycle"),
                kafka_bootstrap=stack.kafka_bootstrap,
                topic_prefix=stack.topic_prefix,
                token=stack.token,
                console=console,
            )
        stack.supervise()
    except KeyboardInterrupt:
        console.print("stopping…")
    except InfrastructureDied as exc:
        console.print(f"[red]✗ {escape(str(exc))}[/]\nstopping the stack")
        exit_code = 1
    except StackError as exc:
        what = (
            "the dev stack did not start" if stack.ready_after_s is None else "the dev stack failed"
        )
        console.print(f"[red]✗ {what}:[/]\n{escape(str(exc))}")
        exit_code = 1
    finally:
        # A second Ctrl-C must not cut the orderly shutdown short (it is bounded by timeouts).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        console.print("everything stopped")
    raise typer.Exit(exit_code)


def _interrupt_on_signals() -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt, so both stop the stack the same way.

    SIGINT is set explicitly too: a shell starting us in the background hands us SIGINT
    ignored, and Python then installs no Ctrl-C handler of its own.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@app.command()
def topics(
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1, help="Partitions of created topics [default: SKUHUB_TOPIC_PARTITIONS]."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to keep retrying the broker.")] = 60.0,
) -> None:
    """Create every skuhub topic that is missing on SKUHUB_KAFKA_BOOTSTRAP."""
    from skuhub_cli.processes import StackError
    from skuhub_cli.topics import create_topics
    from skuhub_runtime.settings import ServiceSettings

    try:
        settings = ServiceSettings()
    except ValidationError as exc:
        _refuse_settings("topics", exc)
    try:
        created = create_topics(settings, partitions=partitions, timeout=timeout)
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    for name in created:
        console.print(f"[green]created[/] {name}")
    console.print(f"{len(created)} created on {settings.kafka_bootstrap}; the others existed.")


@app.command()
def demo(
    catalog: Annotated[
        str | None,
        typer.Option(help="Catalog base URL [default: from .skuhub/endpoints.json, else :8101]."),
    ] = None,
    stock: Annotated[
        str | None,
        typer.Option(help="Stock base URL [default: from .skuhub/endpoints.json, else :8102]."),
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option(help="Sync gateway URL [default: from .skuhub/endpoints.json, else :8104]."),
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            help="Kafka bootstrap [default: endpoints.json, else SKUHUB_KAFKA_BOOTSTRAP]."
        ),
    ] = None,
) -> None:
    """Feed the demo world into a running stack: products over HTTP, movements over Kafka."""
    from skuhub_cli.demo import run_demo
    from skuhub_runtime.settings import ServiceSettings

    result = run_demo(
        catalog_url=catalog or endpoints.service_url("catalog"),
        stock_url=stock or endpoints.service_url("stock"),
        gateway_url=gateway or endpoints.service_url("sync_gateway"),
        lifecycle_url=endpoints.service_url("lifecycle"),
        kafka_bootstrap=bootstrap or endpoints.kafka_bootstrap(),
        topic_prefix=ServiceSettings().topic_prefix,
        token=endpoints.api_token(),
        console=console,
    )
    if not result.ledger_matches_oracle:
        raise typer.Exit(1)


catalog_app = typer.Typer(
    help="The catalog's files: import supplier files, export a channel's products.",
    no_args_is_help=True,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(adapter_app, name="adapter")
app.add_typer(dlq_app, name="dlq")
app.add_typer(token_app, name="token")
app.command(name="kpi")(kpi)
app.command(name="top")(top)
app.command(name="trace")(trace_command)


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, JSONL or XLSX.")],
    mapping: Annotated[
        str,
        typer.Option(
            help="A saved mapping's code, or a mapping JSON file (saved under its file name)."
        ),
    ],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv, jsonl or xlsx [default: from the file's suffix]."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Write every problem (row, column, field, message) to this CSV."),
    ] = None,
    catalog: Annotated[
        str | None,
        typer.Option(help="Catalog base URL [default: from .skuhub/endpoints.json, else :8101]."),
    ] = None,
) -> None:
    """Import a supplier file as a catalog job, with a progress bar; exit 1 when rows were
    refused, 2 when the file could not be read. Sends SKUHUB_TOKEN (or the dev stack's
    token); the import is recorded under the token's actor and needs `catalog:write`."""
    from skuhub_cli.catalog_files import CatalogFileError, import_file, show_outcome, write_report

    try:
        outcome = import_file(
            catalog or endpoints.service_url("catalog"),
            file,
            mapping,
            file_format=file_format,
            headers=endpoints.auth_headers(),
            console=console,
        )
    except CatalogFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    show_outcome(outcome, console)
    if report is not None:
        write_report(outcome.problems, report)
        console.print(f"Report: {report} ({len(outcome.problems)} problems)")
    if outcome.job["status"] != "done":
        raise typer.Exit(2)
    if outcome.job["failed"]:
        raise typer.Exit(1)


@catalog_app.command("export")
def catalog_export(
    channel: Annotated[str, typer.Argument(help="The channel whose products to export.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv, jsonl or xlsx [default: from the output's suffix]."),
    ] = None,
    catalog: Annotated[
        str | None,
        typer.Option(help="Catalog base URL [default: from .skuhub/endpoints.json, else :8101]."),
    ] = None,
) -> None:
    """Export a channel's published products (published content only)."""
    from skuhub_cli.catalog_files import FORMATS, CatalogFileError, export_channel

    chosen = file_format or FORMATS.get(out.suffix.lower(), "csv")
    try:
        written = export_channel(
            catalog or endpoints.service_url("catalog"),
            channel,
            chosen,
            out,
            headers=endpoints.auth_headers(),
        )
    except CatalogFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Exported channel {channel} to {out} ({written:,} bytes)")


@app.command()
def schemas(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if schemas/ differs from the contracts.")
    ] = False,
    release: Annotated[
        bool,
        typer.Option(
            "--release",
            help="Also record today's schemas as released (schemas/released/); refused, with "
            "each breaking change, when the code breaks the released contract.",
        ),
    ] = False,
) -> None:
    """Write the JSON Schemas and the AsyncAPI document into schemas/ (or --check them)."""
    if release and check:
        console.print("[red]error:[/] --check and --release exclude each other")
        raise typer.Exit(2)
    module = "skuhub_contracts.release" if release else "skuhub_contracts.schema_export"
    try:
        export = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        console.print(f"[red]error:[/] {module} is not available yet")
        raise typer.Exit(3) from exc
    code = export.main() if release else export.main(check=check)
    raise typer.Exit(int(code or 0))


@app.command()
def bench(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="A short run (3k movements, one rate for 15 s): under 2 minutes."
        ),
    ] = False,
    movements: Annotated[
        int | None,
        typer.Option(
            min=100, help="Movements in the throughput cases (default: 3000 quick, 20000)."
        ),
    ] = None,
    rates: Annotated[
        str | None,
        typer.Option(
            help="Publish rates (records/s) of the latency runs, comma-separated "
            "(default: 200 quick, 100,250,500,1000)."
        ),
    ] = None,
    seconds_per_rate: Annotated[
        float | None,
        typer.Option(min=1.0, help="Seconds of traffic at each rate (default: 15 quick, 20)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory of the JSON results.")] = Path(
        "bench-results"
    ),
    product_models: Annotated[
        int | None,
        typer.Option(
            min=1, help="Product models in the generated catalog (default: 500 quick, 1500)."
        ),
    ] = None,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of every topic.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the generated traffic.")] = 42,
    backlog: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also time the stock service reading this many movements written one "
            "record per batch (a steady trickle's backlog), from the start; 0: skip.",
        ),
    ] = 0,
    replicas: Annotated[
        str | None,
        typer.Option(
            metavar="N1,N2,...",
            help="Run only the scale-out cases: stock's throughput with each count of "
            "instances (e.g. 1,2,3; at most --partitions) on the same backlog, and the pause "
            "when an instance is killed or joins (static and dynamic membership).",
        ),
    ] = None,
    positions: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Stored positions under the stock reads and racing reservations case "
            "(default: 100,000 quick, 1,000,000; 0: skip).",
        ),
    ] = None,
    realistic: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Movements of a retailer-size stream (50,000 SKUs x 20 locations, Zipf "
            "demand) the stock service drains against a pass-through of the same records "
            "(default: 0 quick, 1,000,000; 0: skip).",
        ),
    ] = None,
    catalog_import: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="SKUs of the generated supplier file the catalog imports, twice (default: "
            "10,000 quick, 100,000; 0: skip).",
        ),
    ] = None,
    traced: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Movements stock drains twice: exporting every span over OTLP (sampling "
            "1.0) to a collector stand-in in the bench process, and without export; prints "
            "both rates and their ratio (default: 0 quick, 20,000; 0: skip).",
        ),
    ] = None,
) -> None:
    """Benchmark the services on the embedded stack: throughput against a pass-through
    baseline, end-to-end latency at fixed rates, accuracy against the generator's oracle,
    peak memory. Prints a table and writes JSON under bench-results/.
    """
    from skuhub_cli.bench import run_bench
    from skuhub_cli.bench_options import BenchOptions
    from skuhub_cli.bench_probes import BenchError
    from skuhub_cli.processes import StackError

    try:
        rate_list = [int(r) for r in rates.split(",") if r.strip()] if rates else None
    except ValueError as exc:
        raise typer.BadParameter(f"not integers: {rates!r}", param_hint="--rates") from exc
    if rate_list is not None and (not rate_list or min(rate_list) < 1):
        raise typer.BadParameter("rates must be positive integers", param_hint="--rates")
    try:
        counts = [int(r) for r in replicas.split(",") if r.strip()] if replicas else []
    except ValueError as exc:
        raise typer.BadParameter(f"not integers: {replicas!r}", param_hint="--replicas") from exc
    if counts and not all(1 <= n <= partitions for n in counts):
        raise typer.BadParameter(
            f"instance counts must be between 1 and --partitions ({partitions})",
            param_hint="--replicas",
        )
    options = BenchOptions.build(
        replicas=counts,
        quick=quick,
        movements=movements,
        rates=rate_list,
        seconds_per_rate=seconds_per_rate,
        out=out,
        product_models=product_models,
        partitions=partitions,
        seed=seed,
        backlog=backlog,
        positions=positions,
        realistic=realistic,
        catalog_import=catalog_import,
        traced=traced,
    )
    _interrupt_on_signals()
    try:
        run_bench(options, console)
    except KeyboardInterrupt:
        console.print("interrupted; everything the benchmark started is stopped")
        raise typer.Exit(130) from None
    except (BenchError, StackError) as exc:
        console.print(f"[red]✗ the benchmark failed:[/] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def generate(
    seed: Annotated[
        int,
        typer.Option(
            help="Seed: the same options give the same traffic, event ids included (to publish "
            "new movements to the same stack, change it and --sequence-start).",
        ),
    ] = 42,
    movements: Annotated[int, typer.Option(min=1, help="About this many valid movements.")] = 5000,
    days: Annotated[int, typer.Option(min=1, help="Days of simulated business.")] = 28,
    product_models: Annotated[
        int, typer.Option(min=1, help="Product models (each with 1 or more variant SKUs).")
    ] = 40,
    kits: Annotated[int, typer.Option(min=0, help="Kits/bundles.")] = 5,
    locations: Annotated[
        int, typer.Option(min=2, help="Locations (about a quarter are warehouses).")
    ] = 4,
    channels: Annotated[int, typer.Option(min=1, help="Sales channels.")] = 2,
    malformed_share: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of malformed records.")
    ] = 0.01,
    duplicate_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of records sent twice.")
    ] = 0.02,
    late_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of records delivered late.")
    ] = 0.03,
    source_system: Annotated[
        str, typer.Option(help="Upstream system name in every movement.")
    ] = "wms-gen",
    sequence_start: Annotated[
        int,
        typer.Option(
            min=0,
            help="First source_sequence: stock skips a movement whose source and sequence it "
            "has applied, so a second run to the same stack needs a new one (and a new --seed).",
        ),
    ] = 1,
    profile: Annotated[
        str,
        typer.Option(
            help="classic: the benchmark's streams; hard: adds docs/stock.md's hard cases "
            "(late and early counts, expiring lots, FEFO, packs and grams, references).",
        ),
    ] = "classic",
    out: Annotated[
        Path | None,
        typer.Option(help="Write catalog.json, oracle.json and summary.json into this directory."),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Send the records to Kafka.")
    ] = False,
    bootstrap: Annotated[
        str,
        typer.Option(envvar="SKUHUB_KAFKA_BOOTSTRAP", help="Kafka bootstrap servers."),
    ] = "127.0.0.1:9092",
    topic_prefix: Annotated[
        str, typer.Option(envvar="SKUHUB_TOPIC_PREFIX", help="Prefix of topic names.")
    ] = "",
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, help="Records per second when publishing [default: flat out]."),
    ] = None,
) -> None:
    """Generate realistic upstream stock traffic and its expected positions; optionally send it."""
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from skuhub_contracts.topics import STOCK_MOVED
    from skuhub_traffic import (
        Oracle,
        PublishError,
        TrafficConfig,
        build_catalog,
        catalog_to_json,
        generate_deliveries,
        stock_facts,
    )
    from skuhub_traffic import publish as send

    config = TrafficConfig(
        seed=seed,
        product_models=product_models,
        kits=kits,
        locations=locations,
        channels=channels,
        days=days,
        movements=movements,
        duplicate_share=duplicate_share,
        late_share=late_share,
        malformed_share=malformed_share,
        source_system=source_system,
        sequence_start=sequence_start,
        profile="hard" if profile == "hard" else "classic",
    )
    started = time.perf_counter()
    catalog = build_catalog(config)
    deliveries = generate_deliveries(config, catalog)
    facts = stock_facts(config, catalog) if config.profile == "hard" else None
    oracle = Oracle.from_deliveries(deliveries, catalog=facts)
    generated_s = time.perf_counter() - started

    by_kind: dict[str, int] = {}
    by_movement: dict[str, int] = {}
    for delivery in deliveries:
        by_kind[delivery.kind] = by_kind.get(delivery.kind, 0) + 1
        if delivery.kind == "valid":
            kind = str(json.loads(delivery.value)["kind"])
            by_movement[kind] = by_movement.get(kind, 0) + 1
    late = sum(1 for d in deliveries if d.late)
    summary: dict[str, Any] = {
        "config": {
            k: str(v) if k == "start" else vars_of(v) if k == "hard_cases" else v
            for k, v in vars_of(config).items()
        },
        "products": len(catalog.products),
        "product_models": len(catalog.product_models),
        "kits": sum(1 for p in catalog.products if p.kit_components),
        "locations": len(catalog.locations),
        "channels": len(catalog.channels),
        "deliveries": len(deliveries),
        "by_kind": by_kind,
        "late": late,
        "movements": by_movement,
        "positions": len(oracle.positions),
        "generated_seconds": round(generated_s, 3),
    }

    topic = STOCK_MOVED.qualified(topic_prefix)
    if publish:
        with Progress(
            TextColumn("publishing to [bold]{task.fields[topic]}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("publish", total=len(deliveries), topic=topic)
            try:
                stats = send(
                    deliveries,
                    bootstrap=bootstrap,
                    topic=topic,
                    rate=rate,
                    on_progress=lambda n: progress.update(task, completed=n),
                )
            except PublishError as exc:
                console.print(f"[red]error:[/] {exc}")
                raise typer.Exit(1) from exc
        summary["published"] = {
            "topic": topic,
            "bootstrap": bootstrap,
            "records": stats.records,
            "seconds": round(stats.seconds, 3),
            "rate": round(stats.rate, 1),
        }

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "catalog.json").write_text(
            json.dumps(catalog_to_json(catalog), indent=1, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        oracle.write(out / "oracle.json")
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")

    table = Table(title=f"skuhub traffic (seed {seed})", show_header=False)
    table.add_column("what")
    table.add_column("how many", justify="right")
    table.add_row("products (SKUs)", str(summary["products"]))
    table.add_row("  of which kits", str(summary["kits"]))
    table.add_row("product models", str(summary["product_models"]))
    table.add_row("locations", str(summary["locations"]))
    table.add_row("channels", str(summary["channels"]))
    for kind in ("valid", "duplicate", "malformed"):
        table.add_row(f"deliveries: {kind}", str(by_kind.get(kind, 0)))
    table.add_row("  of which late", str(late))
    for kind, count in sorted(by_movement.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  {kind}", str(count))
    table.add_row("expected positions", str(summary["positions"]))
    table.add_row("generated in", f"{generated_s:.2f} s")
    if "published" in summary:
        table.add_row("published to", topic)
        table.add_row("rate achieved", f"{summary['published']['rate']:,.0f} records/s")
    console.print(table)
    if out is not None:
        console.print(f"wrote catalog.json, oracle.json and summary.json to {out}")


def vars_of(config: Any) -> dict[str, Any]:
    """The fields of a dataclass (slots, so no __dict__) as a dict (dates as text)."""
    import dataclasses
    from datetime import date

    return {
        f.name: str(value) if isinstance(value, date) else value
        for f in dataclasses.fields(config)
        for value in [getattr(config, f.name)]
    }


if __name__ == "__main__":
    app()
