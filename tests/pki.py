"""A throwaway private CA with a broker and a client certificate, made with openssl.

For TLS tests: nothing is kept (the files live in a test's temporary directory) and
no key is ever committed.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CLIENT_KEY_PASSWORD = "client-key-pass"
BROKER_NAMES = "DNS:kafka.test,DNS:localhost,IP:127.0.0.1"


@dataclass(frozen=True)
class Pki:
    ca: Path
    broker_cert: Path
    broker_key: Path
    client_cert: Path
    client_key: Path
    """Encrypted with :data:`CLIENT_KEY_PASSWORD`."""

    @property
    def broker_keystore(self) -> Path:
        """The broker's key and certificate in one PEM file (Kafka's PEM keystore)."""
        return self.broker_cert.with_name("broker-keystore.pem")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_pki(directory: Path) -> Pki:
    """A CA, a broker certificate for :data:`BROKER_NAMES` and a client certificate
    (CN skuhub-client); skips the test where openssl is not installed."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = directory
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
    _openssl("req", "-x509", *ec, "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=skuhub test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)  # fmt: skip
    for name, extra in (
        ("broker", ("-nodes", "-addext", f"subjectAltName={BROKER_NAMES}")),
        ("client", ("-passout", f"pass:{CLIENT_KEY_PASSWORD}")),
    ):
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=skuhub-{name}", *extra, cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-copy_extensions",
                 "copy", cwd=d)  # fmt: skip
    pki = Pki(
        ca=d / "ca.pem",
        broker_cert=d / "broker.pem",
        broker_key=d / "broker.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
    )
    pki.broker_keystore.write_text(pki.broker_key.read_text() + pki.broker_cert.read_text())
    return pki
