"""Docker HEALTHCHECK of a skuhub service container: exit 0 once ``/health/ready`` answers 200.

The port is SKUHUB_HTTP_PORT when set, else the default port of the service the container
runs (``skuhub run SERVICE`` is PID 1). Standard library only: it runs every few seconds
and must not import the service.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

# The services' default HTTP ports (their settings classes; tests/unit/test_compose_file.py
# checks these agree).
DEFAULT_PORTS = {"catalog": 8101, "stock": 8102, "lifecycle": 8103, "sync_gateway": 8104}


def service_of(argv: list[str]) -> str | None:
    """The service named by ``... run SERVICE`` in a command line, or None."""
    if "run" in argv[:-1]:
        return argv[argv.index("run") + 1].strip().lower().replace("-", "_")
    return None


def port_of(environ: dict[str, str], argv: list[str]) -> int | None:
    """The port the container's service listens on, or None when it runs no service."""
    if environ.get("SKUHUB_HTTP_PORT"):
        return int(environ["SKUHUB_HTTP_PORT"])
    service = service_of(argv)
    return DEFAULT_PORTS.get(service) if service else None


def main() -> int:
    cmdline = Path("/proc/1/cmdline").read_bytes().decode().split("\0")
    port = port_of(dict(os.environ), [arg for arg in cmdline if arg])
    if port is None:
        print("not a skuhub service container (no `run SERVICE`)", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as reply:
            return 0 if reply.status == 200 else 1
    except OSError as exc:
        print(f"/health/ready on port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
