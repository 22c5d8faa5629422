"""Kafka TLS and SASL settings reach every aiokafka client, whole and the same for all."""

from __future__ import annotations

import ast
import ssl
from pathlib import Path
from typing import Any

import certifi
import pytest
from faststream.kafka.security import parse_security
from pydantic import ValidationError
from typer.testing import CliRunner

from skuhub_cli.main import app as skuhub_cli
from skuhub_runtime.kafka_security import broker_security, client_options, tls_context
from skuhub_runtime.settings import ServiceSettings
from tests.pki import CLIENT_KEY_PASSWORD, Pki, make_pki

ROOT = Path(__file__).resolve().parents[2]
# The kwargs that decide how a client talks to the broker (what faststream hands aiokafka).
SECURITY_KEYS = (
    "security_protocol",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
)


def settings(**values: Any) -> ServiceSettings:
    return ServiceSettings(kafka_bootstrap="broker-1:9093,broker-2:9093", **values)


def scram(**values: Any) -> ServiceSettings:
    return settings(
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="skuhub-stock",
        kafka_sasl_password="s3cret-from-the-vault",
        **values,
    )


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    assert client_options(settings()) == {
        "bootstrap_servers": "broker-1:9093,broker-2:9093",
        "security_protocol": "PLAINTEXT",
    }
    assert broker_security(settings()) is None


def test_sasl_ssl_with_scram_gives_credentials_and_a_verifying_tls_context() -> None:
    options = client_options(
        scram(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=certifi.where())
    )

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "skuhub-stock"
    assert options["sasl_plain_password"] == "s3cret-from-the-vault"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    # Trusts exactly the CA file's certificates (counted in the PEM text, not by ssl).
    pem = Path(certifi.where()).read_text(encoding="ascii")
    assert len(context.get_ca_certs()) == pem.count("-----BEGIN CERTIFICATE-----")


def test_sasl_plaintext_has_no_tls_context() -> None:
    options = client_options(scram(kafka_security_protocol="SASL_PLAINTEXT"))

    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert "ssl_context" not in options
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"


def test_ssl_without_sasl_sends_no_credentials() -> None:
    options = client_options(settings(kafka_security_protocol="SSL"))

    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert not {k for k in options if k.startswith("sasl_")}


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"kafka_security_protocol": "SSL"},
        {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": certifi.where()},
        {
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "PLAIN",
            "kafka_sasl_username": "u",
            "kafka_sasl_password": "p",
        },
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-256",
            "kafka_sasl_username": "u",
            "kafka_sasl_password": "p",
        },
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": "u",
            "kafka_sasl_password": "p",
        },
    ],
    ids=["plaintext", "ssl", "ssl-cafile", "sasl-plain", "scram-256-ssl", "scram-512-ssl"],
)
def test_consumers_speak_what_the_producer_and_admin_speak(config: dict[str, Any]) -> None:
    """faststream builds the consumers; what it hands aiokafka must equal client_options."""
    configured = settings(**config)
    direct = client_options(configured)
    through_faststream = parse_security(broker_security(configured))

    for key in SECURITY_KEYS:
        assert through_faststream.get(key, direct.get(key)) == direct.get(key), key
    assert ("ssl_context" in direct) == (through_faststream.get("ssl_context") is not None)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "SKUHUB_KAFKA_SASL_MECHANISM"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512"},
            "SKUHUB_KAFKA_SASL_USERNAME",
        ),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "SCRAM-SHA-256",
                "kafka_sasl_username": "u",
            },
            "SKUHUB_KAFKA_SASL_PASSWORD",
        ),
        ({"kafka_sasl_mechanism": "SCRAM-SHA-512"}, "use SASL_SSL"),
        ({"kafka_ssl_cafile": certifi.where()}, "SKUHUB_KAFKA_SSL_CAFILE set but"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_key_password": "x"},
            "without SKUHUB_KAFKA_SSL_CERTFILE",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"},
            "kafka_ssl_cafile",
        ),
    ],
    ids=[
        "sasl-no-mechanism",
        "sasl-no-user",
        "sasl-no-password",
        "mechanism-without-sasl",
        "cafile-without-tls",
        "key-without-cert",
        "missing-cafile",
    ],
)
def test_a_half_set_security_configuration_is_refused_with_what_to_set(
    config: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        settings(**config)


def test_the_sasl_password_stays_out_of_reprs() -> None:
    configured = scram(kafka_security_protocol="SASL_PLAINTEXT")

    assert "s3cret-from-the-vault" not in repr(configured)
    assert "s3cret-from-the-vault" not in str(configured.model_dump())


# --- mutual TLS, proven by a handshake in memory (no sockets) -----------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, host: str) -> dict[str, Any]:
    """Run a TLS handshake between two contexts over memory BIOs; the server's view of the peer."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(c_in, c_out, server_hostname=host)
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            peer = server_side.getpeercert()
            assert peer is not None
            return dict(peer)
    raise AssertionError("TLS handshake did not finish")


def broker_context(pki: Pki) -> ssl.SSLContext:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.broker_cert, pki.broker_key)
    server.load_verify_locations(pki.ca)
    server.verify_mode = ssl.CERT_REQUIRED  # ssl.client.auth=required
    return server


def test_client_certificate_and_private_ca_pass_a_mutual_tls_handshake(pki: Pki) -> None:
    configured = settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
        kafka_ssl_key_password=CLIENT_KEY_PASSWORD,
    )
    client = client_options(configured)["ssl_context"]

    peer = handshake(client, broker_context(pki), "kafka.test")

    assert (("commonName", "skuhub-client"),) in peer["subject"]


def test_a_broker_under_another_name_is_refused(pki: Pki) -> None:
    context = tls_context(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca))
    assert context is not None
    server = broker_context(pki)
    server.verify_mode = ssl.CERT_NONE

    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(context, server, "evil.test")


# --- every client built by the runtime takes the options ----------------------------------

CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


def client_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {*CLIENTS, "KafkaBroker"}
    ]


# Modules that only ever talk to the local embedded broker (PLAINTEXT by construction).
LOCAL_BROKER_ONLY = {"embedded_kafka.py"}


def client_modules() -> list[Path]:
    libs = [ROOT / "libs/skuhub_runtime", ROOT / "libs/skuhub_cli"]
    sources = [p for d in libs for p in d.rglob("*.py")] + list((ROOT / "services").rglob("*.py"))
    return [
        path
        for path in sources
        if "tests" not in path.parts
        and path.name not in LOCAL_BROKER_ONLY
        and not path.name.startswith("bench")  # benchmarks run against the embedded broker
    ]


def test_every_kafka_client_of_the_services_and_cli_gets_the_security_options() -> None:
    """A client built without client_options would ignore SASL/TLS (and fail on a secured
    cluster). The embedded broker's own set-up and the benchmarks are left out; the
    traffic generator (confluent-kafka) is a test and demo upstream of its own.
    """
    checked = 0
    unsecured: list[str] = []
    for path in client_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in client_calls(tree):
            checked += 1
            name = call.func.id  # type: ignore[attr-defined]
            if name == "KafkaBroker":
                secured = any(k.arg == "security" for k in call.keywords)
            else:
                secured = any(k.arg is None for k in call.keywords)  # **client_options(...)
            if not secured:
                unsecured.append(f"{path.relative_to(ROOT)}:{call.lineno} {name}")
    assert checked >= 3, "expected the producer, the admin client and the broker"
    assert not unsecured, f"Kafka clients built without the security options: {unsecured}"


def test_the_client_check_sees_a_client_without_options() -> None:
    tree = ast.parse("AIOKafkaConsumer(bootstrap_servers=b, group_id=None)")
    (call,) = client_calls(tree)
    assert not any(k.arg is None for k in call.keywords)


# --- the command line says what to fix -----------------------------------------------------


@pytest.mark.parametrize("command", [["topics"], ["run", "stock"]])
def test_commands_refuse_a_half_set_configuration_with_what_to_set(command: list[str]) -> None:
    env = {"SKUHUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "SKUHUB_KAFKA_SASL_USERNAME": "skuhub"}

    result = CliRunner().invoke(skuhub_cli, command, env=env)

    assert result.exit_code == 2, result.output
    assert "SKUHUB_KAFKA_SASL_MECHANISM" in result.output
    assert "SKUHUB_KAFKA_SASL_PASSWORD" in result.output
    assert "Traceback" not in result.output


def test_a_missing_ca_file_is_named_by_its_variable() -> None:
    env = {"SKUHUB_KAFKA_SECURITY_PROTOCOL": "SSL", "SKUHUB_KAFKA_SSL_CAFILE": "/nonexistent.pem"}

    result = CliRunner().invoke(skuhub_cli, ["topics"], env=env)

    assert result.exit_code == 2, result.output
    assert "SKUHUB_KAFKA_SSL_CAFILE: Path does not point to a file" in result.output
