"""A minimal blocking driver: one sans-I/O connection over one connected socket.

Used by the command line; the `ssl`-compatible socket layer is the general tool.
"""

from __future__ import annotations

import contextlib
import socket

from ..connection import ClientConnection, ServerConnection
from ..errors import TLSError
from ..events import ApplicationDataReceived, ConnectionClosed, Event

__all__ = ["BlockingTLS"]

_READ_SIZE = 65536


class BlockingTLS:
    """Handshake, send, receive and close over a blocking socket."""

    def __init__(self, sock: socket.socket, conn: ClientConnection | ServerConnection) -> None:
        self.sock = sock
        self.conn = conn
        self._pending = bytearray()
        self.peer_closed = False

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _pump(self) -> list[Event]:
        """Read once from the socket and feed the connection; flush any reply (or alert)."""
        data = self.sock.recv(_READ_SIZE)
        try:
            events = self.conn.receive_data(data)
        except TLSError:
            self._flush_quietly()
            raise
        self._flush()
        for event in events:
            if isinstance(event, ApplicationDataReceived):
                self._pending += event.data
            elif isinstance(event, ConnectionClosed):
                self.peer_closed = True
        return events

    def _flush_quietly(self) -> None:
        with contextlib.suppress(OSError):
            self._flush()

    def handshake(self) -> None:
        self._flush()
        while not self.conn.handshake_complete:
            self._pump()

    def send(self, data: bytes) -> None:
        self.conn.send_application_data(data)
        self._flush()

    def recv(self) -> bytes:
        """Some application data, or b"" once the peer has sent close_notify."""
        while not self._pending and not self.peer_closed:
            self._pump()
        data = bytes(self._pending)
        self._pending.clear()
        return data

    def close(self) -> None:
        """Send close_notify and wait for the peer's (a clean bidirectional close)."""
        if not self.conn.close_sent:
            self.conn.close()
            self._flush()
        while not self.peer_closed:
            self._pump()
