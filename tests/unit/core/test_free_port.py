"""Ports handed to services must stay free until the service binds them."""

from __future__ import annotations

import socket

from claimstream.local.broker import _ephemeral_range, free_port


def test_free_ports_lie_below_the_ephemeral_range_and_are_never_handed_out_twice() -> None:
    # The services' own outgoing connections take local ports from the ephemeral range; a
    # port from there could be taken between free_port() and the service's bind.
    low, _ = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(port < low for port in ports)
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # each one is bindable
