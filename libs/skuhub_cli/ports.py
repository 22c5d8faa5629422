"""TCP ports on 127.0.0.1: picking free ones, and telling whether one is taken or answers."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Collection
from pathlib import Path

from skuhub_cli.processes import StackError

_HANDED_OUT: set[int] = set()
_LOWEST = 10_000
_PICK = random.Random(os.getpid())  # two test sessions at once pick different ports


def _below_ephemeral() -> range:
    """Ports no outgoing connection takes: below the kernel's ephemeral range.

    A port handed out here is bound later by another process (a broker, a service),
    seconds later; an ephemeral port could meanwhile become the local end of any
    outgoing connection on the machine, and the bind would fail (seen in CI).
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768  # Linux's default start; other systems start higher
    return range(_LOWEST, max(low, _LOWEST + 1_000))


def free_port(*, avoid: Collection[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range.

    Never the same port twice in one process: the caller binds it later, so two
    calls in a row must not both get a port that is still free. ``avoid``: ports handed
    out elsewhere (another process) and not bound yet.
    """
    return free_port_block(1, avoid=avoid)


def free_port_block(count: int, *, avoid: Collection[int] = ()) -> int:
    """The first of ``count`` consecutive free ports (none in ``avoid``, none handed out
    before), e.g. for ``skuhub dev --http-port-base``."""
    candidates = _below_ephemeral()
    for _ in range(1_000):
        base = _PICK.randrange(candidates.start, candidates.stop - count)
        block = set(range(base, base + count))
        if block & set(avoid) or block & _HANDED_OUT:
            continue
        if all(map(_bindable, block)):
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
