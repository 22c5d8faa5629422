"""docker-compose.yml and deploy/: valid, complete and consistent, without a Docker engine.

CI has no Docker engine, so the production shape is never started there. These tests
check what can be checked from the files: the Compose Specification's JSON Schema
(vendored in tests/vendored/compose-spec), every file the compose file and the Dockerfile
refer to, the commands, the ports against the services' settings, pinned images, and
that the collector, Prometheus and Grafana configurations point at services that exist.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import json
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import typer.main
import yaml

from skuhub_cli.main import app as skuhub_cli
from skuhub_contracts.topics import SERVICES
from skuhub_runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy/Dockerfile"
SCHEMA = ROOT / "tests/vendored/compose-spec/compose-spec.json"
COLLECTOR_CONFIG = ROOT / "deploy/otel-collector/config.yaml"
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy/grafana/provisioning"


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def skuhub_services() -> dict[str, dict[str, Any]]:
    """The services that run the skuhub image (built from deploy/Dockerfile)."""
    return {name: spec for name, spec in services().items() if "build" in spec}


def service_runs() -> dict[str, str]:
    """Compose service name → the skuhub service it runs (``skuhub run SERVICE``)."""
    runs: dict[str, str] = {}
    for name, spec in skuhub_services().items():
        command = command_of(spec)
        if command[:1] == ["run"]:
            runs[name] = command[1]
    return runs


def command_of(spec: dict[str, Any]) -> list[str]:
    command = spec.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"skuhub_{service}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
        and value.model_fields["service_name"].default == service
    ]
    assert len(classes) == 1, f"one settings class for {service}: {classes}"
    return classes[0]


def default_port(service: str) -> int:
    port = settings_class(service).model_fields["http_port"].default
    assert isinstance(port, int)
    return port


def http_port(compose_service: str) -> int:
    """The port a skuhub container listens on: SKUHUB_HTTP_PORT, else its settings' default."""
    explicit = environment(services()[compose_service]).get("SKUHUB_HTTP_PORT")
    return int(explicit) if explicit else default_port(service_runs()[compose_service])


def container_ports(spec: dict[str, Any]) -> list[int]:
    """Container-side ports of a ``ports:`` list (short ``[ip:]host:container`` or long form)."""
    ports: list[int] = []
    for entry in spec.get("ports", []):
        if isinstance(entry, dict):
            ports.append(int(entry["target"]))
        else:
            ports.append(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def bind_mounts(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source on the host, target in the container) of each bind mount of a service."""
    for volume in spec.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                yield str(volume["source"]), str(volume["target"])
            continue
        source, _, rest = str(volume).partition(":")
        if source.startswith((".", "/", "~")):
            yield source, rest.split(":")[0]


def mount_target(host_path: Path) -> tuple[str, str]:
    """(compose service, container path) where a repository path is bind-mounted."""
    for name, spec in services().items():
        for source, target in bind_mounts(spec):
            if (ROOT / source).resolve() == host_path.resolve():
                return name, target
    raise AssertionError(f"{host_path.relative_to(ROOT)} is not mounted by any service")


def host_and_port(address: str) -> tuple[str, int]:
    parts = urlsplit(address if "://" in address else f"//{address}")
    assert parts.hostname, f"{address!r} names no host"
    assert parts.port, f"{address!r} names no port"
    return parts.hostname, parts.port


# --- the Compose Specification ------------------------------------------------------------


def test_the_compose_file_follows_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # The schema declares draft 07 (its $schema is the https spelling jsonschema does not map).
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(compose())
    ]
    assert not errors, "docker-compose.yml breaks the Compose schema:\n" + "\n".join(errors)


def test_the_schema_check_catches_a_broken_file() -> None:
    """The vendored schema is strict enough to matter: a typo'd key is an error."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {"services": {"stock": {"image": "skuhub:local", "enviroment": {"A": "1"}}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_the_production_shape_has_every_part() -> None:
    images = {name: str(spec.get("image", "")) for name, spec in services().items()}

    assert sorted(service_runs().values()) == sorted(SERVICES)
    parts = ("apache/kafka", "postgres", "otel/opentelemetry-collector", "jaegertracing/")
    for part in (*parts, "prom/prometheus", "grafana/grafana"):
        assert any(image.startswith(part) for image in images.values()), f"no {part} image"


# --- files the compose file and the Dockerfile name ---------------------------------------


def test_every_file_the_compose_file_names_exists() -> None:
    missing: list[str] = []
    for name, spec in services().items():
        build = spec.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build["dockerfile"]
            if not context.is_dir():
                missing.append(f"{name}: build context {context}")
            if not (context / dockerfile).is_file():
                missing.append(f"{name}: dockerfile {dockerfile}")
        for source, _ in bind_mounts(spec):
            if not (ROOT / source).exists():
                missing.append(f"{name}: bind mount {source}")
        env_files = spec.get("env_file", [])
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            if not (ROOT / path).is_file():
                missing.append(f"{name}: env_file {path}")
    for kind in ("configs", "secrets"):
        for key, value in (compose().get(kind) or {}).items():
            if "file" in value and not (ROOT / value["file"]).exists():
                missing.append(f"{kind}.{key}: {value['file']}")
    assert not missing, f"referenced but not in the repository: {missing}"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def dockerignore_patterns() -> list[str]:
    path = ROOT / ".dockerignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops a path or one of its parents (Go filepath.Match style)."""
    parts = PurePosixPath(relative).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatchcase(prefix, pattern.removeprefix("**/"))
        or fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], pattern.removeprefix("**/"))
        if pattern.startswith("**/")
        else fnmatch.fnmatchcase(prefix, pattern.lstrip("/"))
        for prefix in prefixes
        for pattern in patterns
    )


def test_every_source_the_dockerfile_copies_is_in_the_build_context() -> None:
    context = ROOT / skuhub_services()["stock"]["build"]["context"]
    patterns = dockerignore_patterns()
    copied: list[str] = []
    for instruction, arguments in dockerfile_instructions():
        if instruction in ("COPY", "ADD"):
            words = [w for w in shlex.split(arguments) if not w.startswith("--")]
            copied.extend(words[:-1])
    assert {"pyproject.toml", "constraints.txt", "libs", "services"} <= set(copied)
    for source in copied:
        assert (context / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


def test_the_image_installs_with_the_constraints_and_runs_the_skuhub_command() -> None:
    instructions = dockerfile_instructions()
    installs = [a for i, a in instructions if i == "RUN" and "pip install" in a]

    assert installs, "the Dockerfile installs nothing"
    assert all("-c constraints.txt" in a or "--constraint constraints.txt" in a for a in installs)
    entrypoint = [json.loads(a) for i, a in instructions if i == "ENTRYPOINT"]
    assert entrypoint == [["skuhub"]]
    readme = re.search(r'readme = "([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert readme, "pyproject.toml names its readme"
    copied = " ".join(a for i, a in instructions if i == "COPY")
    assert readme[1] in copied, "pip needs the readme pyproject.toml names"


# --- commands, ports, images -------------------------------------------------------------


def test_every_skuhub_container_runs_an_existing_subcommand() -> None:
    commands = typer.main.get_command(skuhub_cli).commands  # type: ignore[attr-defined]
    for name, spec in skuhub_services().items():
        command = command_of(spec)
        assert command, f"{name}: no command (the image's default is --help)"
        assert command[0] in commands, f"{name}: `skuhub {command[0]}` does not exist"
    for name, service in service_runs().items():
        assert service in SERVICES, f"{name}: `skuhub run {service}`: no such service"
        entry = importlib.import_module(f"skuhub_{service}.entrypoints.app")
        assert callable(getattr(entry, "main", None)), f"{service} has no main()"


def test_published_ports_are_the_ports_the_services_listen_on() -> None:
    for name in service_runs():
        listens = http_port(name)
        assert container_ports(services()[name]) == [listens], name


def test_every_skuhub_service_is_traced_under_its_own_name() -> None:
    for name, service in service_runs().items():
        env = environment(services()[name])
        # The name the services give themselves without it (skuhub_runtime.telemetry).
        assert env.get("OTEL_SERVICE_NAME") == f"skuhub-{service}", name
        assert env.get("OTEL_TRACES_EXPORTER") == "otlp", name


def test_the_reconcilers_reach_the_stock_service() -> None:
    stock = next(name for name, service in service_runs().items() if service == "stock")
    for name in service_runs():
        host, port = host_and_port(environment(services()[name])["SKUHUB_STOCK_URL"])
        assert (host, port) == (stock, http_port(stock)), name


def image_tag(image: str) -> str | None:
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("postgres", None),
        ("grafana/grafana:latest", "latest"),
        ("apache/kafka:4.4.0", "4.4.0"),
        ("localhost:5000/skuhub", None),
        ("localhost:5000/skuhub:1.2", "1.2"),
    ],
)
def test_image_tags_are_read_as_docker_reads_them(image: str, tag: str | None) -> None:
    assert image_tag(image) == tag


def test_every_image_is_pinned_by_version() -> None:
    froms = [a.split()[0] for i, a in dockerfile_instructions() if i == "FROM"]
    pulled = [str(s["image"]) for s in services().values() if "build" not in s]
    built = {str(s["image"]) for s in skuhub_services().values()}

    for image in [*pulled, *froms]:
        tag = image_tag(image)
        assert tag, f"{image}: no tag; pin a version"
        assert tag != "latest", f"{image}: latest; pin a version"
        assert re.search(r"\d", tag), f"{image}: {tag} names no version"
    assert len(built) == 1, f"one image for every skuhub service: {built}"
    assert all(image_tag(image) not in (None, "latest") for image in built)


def test_the_image_healthcheck_knows_each_services_default_port() -> None:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy/healthcheck.py")
    assert spec
    assert spec.loader
    healthcheck: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(healthcheck)

    assert {s: default_port(s) for s in SERVICES} == healthcheck.DEFAULT_PORTS
    assert healthcheck.port_of({}, ["python", "/usr/local/bin/skuhub", "run", "stock"]) == 8102
    assert healthcheck.port_of({}, ["skuhub", "run", "sync-gateway"]) == 8104
    assert healthcheck.port_of({"SKUHUB_HTTP_PORT": "9000"}, ["skuhub", "run", "stock"]) == 9000
    assert healthcheck.port_of({}, ["skuhub", "topics"]) is None
    exposed = {int(p) for i, a in dockerfile_instructions() if i == "EXPOSE" for p in a.split()}
    assert set(healthcheck.DEFAULT_PORTS.values()) <= exposed


# --- secrets ------------------------------------------------------------------------------

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$", re.IGNORECASE)


def test_no_secret_has_a_value_in_the_file() -> None:
    """A secret comes from the environment that runs compose: ${VAR} or ${VAR:?why}."""
    for name, spec in services().items():
        for key, value in environment(spec).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{\w+(:?\?[^}]*)?\}", value), f"{name}: {key} has a value"


# --- OpenTelemetry Collector, Jaeger ------------------------------------------------------


@cache
def collector() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text(encoding="utf-8"))
    return loaded


def test_the_collector_pipeline_uses_only_components_it_defines() -> None:
    config = collector()
    pipelines = config["service"]["pipelines"]

    assert "traces" in pipelines
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config.get(kind, {}), f"{kind} {component} is not defined"
    for extension in config["service"].get("extensions", []):
        assert extension in config.get("extensions", {}), f"extension {extension}"
    traces = pipelines["traces"]
    assert "batch" in traces["processors"]


def test_services_send_traces_where_the_collector_listens() -> None:
    collector_service, target = mount_target(COLLECTOR_CONFIG)
    receivers = collector()["receivers"]
    assert "otlp" in collector()["service"]["pipelines"]["traces"]["receivers"]
    protocols = receivers["otlp"]["protocols"]
    http_port_ = host_and_port(protocols["http"]["endpoint"])[1]
    assert host_and_port(protocols["grpc"]["endpoint"])[1] == 4317
    assert f"--config={target}" in command_of(services()[collector_service])

    for name in service_runs():
        env = environment(services()[name])
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf", name
        host, port = host_and_port(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (host, port) == (collector_service, http_port_), name


def test_the_collector_exports_traces_to_jaeger_over_otlp() -> None:
    config = collector()
    exporters = config["service"]["pipelines"]["traces"]["exporters"]
    otlp = [e for e in exporters if e.split("/")[0] in ("otlp", "otlp_grpc")]
    assert otlp, f"no OTLP exporter in {exporters}"
    for exporter in otlp:
        host, port = host_and_port(config["exporters"][exporter]["endpoint"])
        assert host in services(), f"{exporter} sends to {host}, not a compose service"
        assert str(services()[host]["image"]).startswith("jaegertracing/")
        assert port == 4317, "Jaeger receives OTLP/gRPC on 4317"


# --- Prometheus, Grafana ------------------------------------------------------------------


@cache
def prometheus() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return loaded


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    targets: set[tuple[str, int]] = set()
    for job in prometheus()["scrape_configs"]:
        for group in job.get("static_configs", []):
            targets.update(host_and_port(t) for t in group["targets"])

    for host, port in targets:
        assert host in services(), f"scrape target {host}:{port} is not a compose service"
    assert {(name, http_port(name)) for name in service_runs()} <= targets


def test_prometheus_finds_its_rules_where_compose_mounts_them() -> None:
    service, config_target = mount_target(PROMETHEUS_CONFIG)
    rules_service, rules_target = mount_target(PROMETHEUS_CONFIG.parent / "rules")
    assert rules_service == service
    rule_files = prometheus()["rule_files"]

    assert rule_files, "prometheus.yml loads no rules"
    for pattern in rule_files:
        in_container = PurePosixPath(config_target).parent / pattern
        assert str(in_container.parent) == rules_target, pattern


def test_grafana_is_provisioned_from_the_repository() -> None:
    service, provisioning = mount_target(GRAFANA_PROVISIONING)
    _, dashboards = mount_target(ROOT / "deploy/grafana/dashboards")
    assert provisioning == "/etc/grafana/provisioning"
    assert str(services()[service]["image"]).startswith("grafana/grafana")

    for path in sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8")).get("datasources", []):
            host, _ = host_and_port(source["url"])
            assert host in services(), f"{path.name}: {source['url']} is not a compose service"
    for path in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml")):
        for provider in yaml.safe_load(path.read_text(encoding="utf-8")).get("providers", []):
            assert provider["options"]["path"] == dashboards, f"{path.name}: dashboards path"
