"""TCP ports on 127.0.0.1: picking free ones, and telling whether one is taken or answers."""

from __future__ import annotations

import socket
from collections.abc import Collection

from skuhub_cli.processes import StackError

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Never the same port twice in one process: the caller binds it later, so two
    calls in a row must not both get a port that is still free.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def free_port_block(count: int, *, avoid: Collection[int] = ()) -> int:
    """The first of ``count`` consecutive free ports (none in ``avoid``), e.g. for
    ``skuhub dev --http-port-base``: the OS hands out ephemeral ports in sequence, so
    a single free port is often followed by one that another part just took."""
    for _ in range(100):
        base = free_port()
        block = range(base, base + count)
        others = set(block[1:])  # the base itself was just handed out by free_port()
        clash = base in avoid or others & set(avoid) or others & _HANDED_OUT
        if block[-1] <= 65535 and not clash and all(map(_bindable, block)):
            _HANDED_OUT.update(block)
            return base
    raise StackError(f"found no {count} consecutive free ports on 127.0.0.1")


def _bindable(port: int, *, reuse_address: bool = False) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_in_use(port: int) -> bool:
    """Whether another socket holds ``port`` (connections in TIME_WAIT do not count)."""
    return not _bindable(port, reuse_address=True)


def tcp_connects(port: int) -> bool:
    """Whether something accepts TCP connections on ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
