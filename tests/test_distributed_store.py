"""The rendezvous store (dark/distributed/_store.py): a rank's client never keeps a TCP
connection to itself (what a connect to a free port in the ephemeral range can give: it then
holds the port rank 0 is about to listen on, and both ranks fail)."""
from __future__ import annotations

import socket

import pytest

from dark.distributed import _store


def _self_connected():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.connect(("127.0.0.1", port))  # TCP's simultaneous open with itself
    return sock, port


def test_client_drops_a_connection_to_itself_and_retries(monkeypatch):
    sock, port = _self_connected()
    assert sock.getsockname() == sock.getpeername()
    calls = []

    def create_connection(address, timeout=None):
        calls.append(address)
        if len(calls) == 1:
            return sock
        raise ConnectionRefusedError("nobody listening")

    monkeypatch.setattr(_store.socket, "create_connection", create_connection)
    with pytest.raises(RuntimeError, match="could not reach rank 0 at 127.0.0.1"):
        _store.Client("127.0.0.1", port, 1, 2, timeout=0.3)
    assert len(calls) > 1  # retried
    assert sock.fileno() == -1  # and the self-connection was closed, freeing the port


def test_free_port_is_below_the_ephemeral_range_and_free():
    from dark.distributed.run import _ephemeral_low, free_port

    low = _ephemeral_low()
    ports = {free_port() for _ in range(5)}
    assert all(1024 <= port < low for port in ports) and len(ports) > 1
    for port in ports:  # nobody holds it: rank 0 can listen there
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen(1)
