"""Where the running dev stack is, and the token to call it with: ``.skuhub/endpoints.json``.

``skuhub dev`` writes the file when everything is ready (readable by its owner only: it
holds the dev token) and removes it on stop. Commands that talk to a stack read it here,
and fall back to the default ports and ``SKUHUB_*`` settings without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from skuhub_runtime.access_tokens import bearer
from skuhub_runtime.settings import ServiceSettings

STATE_DIR = Path(".skuhub")
DEFAULT_PORTS = {"catalog": 8101, "stock": 8102, "lifecycle": 8103, "sync_gateway": 8104}


def read(state_dir: Path = STATE_DIR) -> dict[str, Any]:
    """The endpoints file's content, or an empty dict when no dev stack runs here."""
    path = state_dir / "endpoints.json"
    if not path.exists():
        return {}
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


def service_url(service: str, state_dir: Path = STATE_DIR) -> str:
    """A service's base URL: the dev stack's, else its default port on this machine."""
    services: dict[str, str] = read(state_dir).get("services", {})
    return services.get(service) or f"http://127.0.0.1:{DEFAULT_PORTS[service]}"


def instance_urls(state_dir: Path = STATE_DIR) -> dict[str, str]:
    """Every instance of the dev stack by name, else each service on its default port."""
    written = read(state_dir)
    found: dict[str, str] = written.get("instances") or written.get("services") or {}
    return dict(found) or {name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()}


def kafka_bootstrap(state_dir: Path = STATE_DIR) -> str:
    """The dev stack's Kafka, else SKUHUB_KAFKA_BOOTSTRAP."""
    return str(read(state_dir).get("kafka_bootstrap") or ServiceSettings().kafka_bootstrap)


def database(state_dir: Path = STATE_DIR) -> tuple[str, str]:
    """``(database_url, schema_prefix)``: SKUHUB_DATABASE_URL if set, else the dev stack's."""
    settings = ServiceSettings()
    url = os.environ.get("SKUHUB_DATABASE_URL") or read(state_dir).get("database_url")
    return str(url or settings.database_url), settings.schema_prefix


def api_token(state_dir: Path = STATE_DIR) -> str | None:
    """SKUHUB_TOKEN if set, else the dev stack's token."""
    return os.environ.get("SKUHUB_TOKEN") or read(state_dir).get("token")


def auth_headers(state_dir: Path = STATE_DIR) -> dict[str, str]:
    """``Authorization`` for calls to the services, when a token is known."""
    return bearer(api_token(state_dir))
