"""Port picking for stacks started side by side (libs/skuhub_cli/ports.py)."""

from __future__ import annotations

import socket
from pathlib import Path

from skuhub_cli.ports import free_port, free_port_block


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_a_port_block_is_free_consecutive_and_clear_of_what_to_avoid() -> None:
    kafka = free_port()
    base = free_port_block(4, avoid={kafka})
    block = range(base, base + 4)
    assert kafka not in block
    for port in block:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))  # raises if something holds it
    assert all(free_port() not in block for _ in range(50))


def test_ports_handed_out_are_never_ones_an_outgoing_connection_could_take() -> None:
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    low = int(ephemeral[0])
    handed_out = [free_port() for _ in range(50)] + [free_port_block(4) + 3 for _ in range(10)]
    assert max(handed_out) < low, "a port in the ephemeral range can be taken before the bind"
