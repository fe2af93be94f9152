"""Letting a fatal alert reach the peer before the connection is closed.

A server that refuses a client early (a bad or oversized hello) has usually
not read all the client sent. Closing a TCP socket with unread input makes
the kernel answer with a reset instead of a FIN, and a reset can reach the
peer before it has read our alert: it sees ECONNRESET, not the reason. So,
after the alert: shut down our sending side (the alert and a FIN go out),
read and drop what the peer still sends until it closes, for a bounded time
and number of bytes, and only then close.
"""

from __future__ import annotations

import contextlib
import socket
import time

__all__ = ["LINGER_BYTES", "LINGER_SECONDS", "linger"]

#: The longest a refused peer is waited for to close its side.
LINGER_SECONDS = 1.0
#: The most that is read (and dropped) from a refused peer.
LINGER_BYTES = 256 * 1024

_CHUNK = 64 * 1024


def linger(sock: socket.socket, seconds: float = LINGER_SECONDS, limit: int = LINGER_BYTES) -> None:
    """Shut down `sock` for writing, then read and drop its input until the peer closes, `seconds`
    pass or `limit` bytes were read. A non-blocking socket only gets what is already there.

    Plain socket calls only (an `SSLSocket` passes through its own TLS); the timeout is restored."""
    timeout = sock.gettimeout()
    try:
        socket.socket.shutdown(sock, socket.SHUT_WR)
    except OSError:
        return  # not connected any more: nothing to wait for
    deadline = time.monotonic() + seconds
    read = 0
    try:
        while read < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if timeout != 0.0:
                socket.socket.settimeout(sock, remaining if timeout is None else min(remaining, timeout))
            try:
                data = socket.socket.recv(sock, min(_CHUNK, limit - read))
            except OSError:  # nothing in time (or at once, when non-blocking), or a reset
                return
            if not data:
                return
            read += len(data)
    finally:
        with contextlib.suppress(OSError):
            socket.socket.settimeout(sock, timeout)
