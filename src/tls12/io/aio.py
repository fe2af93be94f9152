"""An asyncio server over the sans-I/O core, without the ssl module's machinery.

`TLSServerProtocol` owns one `ServerConnection` per TCP connection: bytes from
the transport go into `receive_data()`, whatever the connection queues goes
back out, and the decrypted data is handed to an `Application` callback
object. `start_server()` listens and keeps the set of open connections, with
an optional limit on how many there may be.

This module only moves bytes and keeps time; every protocol decision is the
core's. What it adds is what keeps one hostile client from hurting the others:

- a handshake timeout: a connection that has not completed its handshake this
  long after it was accepted is closed, however slowly it keeps sending;
- an idle timeout (off unless asked for): an established connection on which
  nothing arrives and no queued data drains for this long is closed;
- bounded write buffering: once more than `write_buffer_limit` bytes wait to
  be sent, reading from that peer pauses until the buffer drains to a quarter
  of it, so a peer that never reads stops being read, and an echo cannot make
  the server buffer without bound;
- a close timeout: a connection being closed whose last records (the alert,
  the close_notify) cannot be written within `close_timeout` is aborted;
- a refusal that reaches the peer: after a failure's alert the server shuts
  down its sending side and drops what the peer still sends until it closes
  (at most `LINGER_SECONDS` and `LINGER_BYTES`), so that closing with unread
  input does not turn into a TCP reset that overtakes the alert;
- no exception from the peer's behaviour ever reaches asyncio's exception
  handler: TLS errors, transport errors (ECONNRESET, EPIPE) and exceptions
  raised by the `Application` end that one connection and are reported
  through `on_failure`;
- nothing is kept once a connection is lost: timers are cancelled and the
  server forgets the connection, which reference counting then frees at once
  (the core keeps no reference cycles and no events between calls).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any, Protocol, cast

from ..config import ServerConfig
from ..connection import ServerConnection
from ..errors import TLSError
from ..events import ApplicationDataReceived, ConnectionClosed, HandshakeComplete
from ..trace import Tracer
from .linger import LINGER_BYTES, LINGER_SECONDS

__all__ = [
    "CLOSE_TIMEOUT",
    "HANDSHAKE_TIMEOUT",
    "WRITE_BUFFER_LIMIT",
    "Application",
    "ApplicationError",
    "HandshakeTimeout",
    "IdleTimeout",
    "TLSServer",
    "TLSServerProtocol",
    "start_server",
]

#: Seconds from accepting a connection to the end of its handshake.
HANDSHAKE_TIMEOUT = 30.0
#: Seconds a closing connection gets to deliver its last records before it is aborted.
CLOSE_TIMEOUT = 10.0
#: Bytes waiting in a connection's write buffer above which its peer is no longer read.
WRITE_BUFFER_LIMIT = 64 * 1024
#: Seconds `TLSServer.close()` waits for connections to close before aborting them.
CLOSE_GRACE = 2.0


class Application(Protocol):
    """What runs on top of one established TLS connection."""

    def established(self, tls: TLSServerProtocol) -> None: ...

    def data_received(self, tls: TLSServerProtocol, data: bytes) -> None: ...

    def peer_closed(self, tls: TLSServerProtocol) -> None: ...


class HandshakeTimeout(TimeoutError):
    """The handshake did not complete within the handshake timeout."""


class IdleTimeout(TimeoutError):
    """Nothing moved on an established connection for the idle timeout."""


class ApplicationError(RuntimeError):
    """The `Application` raised; the exception is the `__cause__`."""


class TLSServerProtocol(asyncio.Protocol):
    """One TLS server connection on an asyncio transport.

    `on_failure(tls, exc)` is called at most once, when the connection ends
    because of `exc`: a `TLSError` (the alert was sent), a `HandshakeTimeout`
    or `IdleTimeout`, an `OSError` from the transport (reset, broken pipe) or
    an `ApplicationError`. `on_closed(tls)` is called once, when the transport
    is gone. Timeouts are in seconds; None disables one.
    """

    def __init__(
        self,
        config: ServerConfig,
        app: Application,
        *,
        tracer: Tracer | None = None,
        on_failure: Callable[[TLSServerProtocol, Exception], None] | None = None,
        on_closed: Callable[[TLSServerProtocol], None] | None = None,
        handshake_timeout: float | None = HANDSHAKE_TIMEOUT,
        idle_timeout: float | None = None,
        close_timeout: float = CLOSE_TIMEOUT,
        write_buffer_limit: int = WRITE_BUFFER_LIMIT,
    ) -> None:
        for name, value in (("handshake_timeout", handshake_timeout), ("idle_timeout", idle_timeout),
                            ("close_timeout", close_timeout)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive (or None)")
        if write_buffer_limit < 1:
            raise ValueError("write_buffer_limit must be positive")
        self.conn = ServerConnection(config, tracer=tracer)
        self.app = app
        self.on_failure = on_failure
        self.on_closed = on_closed
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.close_timeout = close_timeout
        self.write_buffer_limit = write_buffer_limit
        self.transport: asyncio.Transport | None = None
        self.failure: Exception | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._linger_left: int | None = None  # while lingering: how much more input may be dropped
        self._last_activity = 0.0
        self._closing = False  # we decided to end the connection
        self._lost = False
        self._server: TLSServer | None = None

    @property
    def closing(self) -> bool:
        """True once the connection is ending (closed, failed, or lost)."""
        return self._closing or self._lost

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        self.transport.set_write_buffer_limits(high=self.write_buffer_limit, low=self.write_buffer_limit // 4)
        self._last_activity = self._loop.time()
        if self.handshake_timeout is not None:
            self._handshake_timer = self._loop.call_later(self.handshake_timeout, self._on_handshake_timeout)

    def data_received(self, data: bytes) -> None:
        if self._linger_left is not None:
            self._linger_left -= len(data)
            if self._linger_left <= 0:
                self._close_transport()
            return
        if self._loop is not None:
            self._last_activity = self._loop.time()
        self._receive(data)

    def eof_received(self) -> bool:
        self._receive(b"")
        # Whatever the core made of the EOF (a failure, or nothing after close_notify),
        # the connection is over once our last records are out.
        self._close_transport()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        for timer in (self._handshake_timer, self._idle_timer, self._close_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._handshake_timer = self._idle_timer = self._close_timer = self._linger_timer = None
        if exc is not None and not self._closing:
            # Reset or broken pipe while the connection was still in use.
            self._report(exc)
        self._closing = True
        server, self._server = self._server, None
        if server is not None:
            server._forget(self)
        if self.on_closed is not None:
            self.on_closed(self)

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._loop is not None:
            self._last_activity = self._loop.time()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # -- for the application ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send application data. Dropped once the connection is closing (the peer
        closed, the connection failed, or `close()` was called)."""
        if self.closing or self.transport is None or self.transport.is_closing():
            return
        if self.conn.close_sent or self.conn.failure is not None:
            return
        try:
            self.conn.send_application_data(data)
        except TLSError as exc:
            self._fail(exc)
            return
        self._flush()

    def close(self) -> None:
        """close_notify, then close the transport once it is written."""
        if self.closing:
            return
        self._closing = True
        self.conn.close()
        self._flush()
        self._close_transport()

    def abort(self) -> None:
        """Drop the connection at once, without close_notify."""
        self._closing = True
        if self.transport is not None and not self._lost:
            self.transport.abort()

    # -- internals --------------------------------------------------------------------

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _receive(self, data: bytes) -> None:
        if self.closing or self.transport is None or self.transport.is_closing():
            return
        try:
            events = self.conn.receive_data(data)
        except TLSError as exc:
            self._fail(exc)
            return
        for event in events:
            try:
                if isinstance(event, HandshakeComplete):
                    self._established()
                elif isinstance(event, ApplicationDataReceived):
                    self.app.data_received(self, event.data)
                elif isinstance(event, ConnectionClosed):
                    self.app.peer_closed(self)
            except Exception as exc:
                error = ApplicationError(f"the application failed: {exc!r}")
                error.__cause__ = exc
                self._fail(error)
                return
            if self.failure is not None:
                return
        self._flush()
        if self.conn.failure is not None:
            self._fail(self.conn.failure)
        elif self.conn.closed:
            self._closing = True
            self._close_transport()

    def _established(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        if self.idle_timeout is not None and self._loop is not None:
            self._idle_timer = self._loop.call_later(self.idle_timeout, self._on_idle_check)
        self.app.established(self)

    def _fail(self, exc: Exception) -> None:
        if self.failure is not None or self._lost:
            return
        self._closing = True
        self._flush()  # the alert, if the core queued one
        self._linger()
        self._report(exc)

    def _linger(self) -> None:
        """Half-close after the alert, and close once the peer has closed too (or the linger bounds are hit)."""
        transport = self.transport
        if transport is None or self._lost or transport.is_closing() or not transport.can_write_eof():
            self._close_transport()
            return
        self._linger_left = LINGER_BYTES
        transport.write_eof()  # once the alert is out
        transport.resume_reading()
        if self._loop is not None:
            self._linger_timer = self._loop.call_later(LINGER_SECONDS, self._close_transport)

    def _report(self, exc: Exception) -> None:
        if self.failure is not None:
            return
        self.failure = exc
        if self.on_failure is not None:
            self.on_failure(self, exc)

    def _close_transport(self) -> None:
        """Close once the write buffer is out, and abort if that takes longer than close_timeout.
        With nothing left to write the transport is gone at once: no timer is needed (the usual
        case, which then costs no timer to set and cancel: 1.3 µs a connection)."""
        transport = self.transport
        if transport is None or self._lost:
            return
        if not transport.is_closing():
            transport.close()
        if self._close_timer is None and self._loop is not None and transport.get_write_buffer_size():
            self._close_timer = self._loop.call_later(self.close_timeout, self._on_close_timeout)

    def _time_out(self, exc: TimeoutError) -> None:
        transport = self.transport
        if transport is not None and transport.get_write_buffer_size() > 0:
            # Nothing drained for the whole timeout: a close_notify would not get out either.
            self._closing = True
            transport.abort()
            self._report(exc)
            return
        self.conn.close()  # close_notify (legal at any time, §7.2.1)
        self._fail(exc)

    def _on_handshake_timeout(self) -> None:
        self._handshake_timer = None
        if not self.conn.handshake_complete and not self.closing:
            self._time_out(HandshakeTimeout(f"no handshake within {self.handshake_timeout:g} s"))

    def _on_idle_check(self) -> None:
        self._idle_timer = None
        if self.closing or self._loop is None or self.idle_timeout is None:
            return
        remaining = self._last_activity + self.idle_timeout - self._loop.time()
        if remaining > 0:
            self._idle_timer = self._loop.call_later(remaining, self._on_idle_check)
            return
        self._time_out(IdleTimeout(f"idle for {self.idle_timeout:g} s"))

    def _on_close_timeout(self) -> None:
        self._close_timer = None
        if self.transport is not None and not self._lost:
            self.transport.abort()


class _Refused(asyncio.Protocol):
    """What an over-the-limit connection gets: it is dropped as soon as it is accepted."""

    def __init__(self, on_refused: Callable[[Any], None] | None) -> None:
        self.on_refused = on_refused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        cast(asyncio.Transport, transport).abort()
        if self.on_refused is not None:
            self.on_refused(peer)


class TLSServer:
    """A listening socket whose connections are `TLSServerProtocol`s (see `start_server`)."""

    def __init__(
        self,
        protocol_factory: Callable[[], TLSServerProtocol],
        *,
        max_connections: int | None = None,
        on_refused: Callable[[Any], None] | None = None,
    ) -> None:
        if max_connections is not None and max_connections < 1:
            raise ValueError("max_connections must be positive (or None)")
        self.protocol_factory = protocol_factory
        self.max_connections = max_connections
        self.on_refused = on_refused
        #: The connections accepted and not yet lost (read it, do not change it).
        self.connections: set[TLSServerProtocol] = set()
        #: How many connections were refused because `max_connections` were open.
        self.refused = 0
        self.server: asyncio.Server | None = None
        self._empty: asyncio.Event | None = None

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self.server.sockets) if self.server is not None else ()

    def _accept(self) -> asyncio.Protocol:
        if self.max_connections is not None and len(self.connections) >= self.max_connections:
            self.refused += 1
            return _Refused(self.on_refused)
        tls = self.protocol_factory()
        tls._server = self
        self.connections.add(tls)
        return tls

    def _forget(self, tls: TLSServerProtocol) -> None:
        self.connections.discard(tls)
        if not self.connections and self._empty is not None:
            self._empty.set()

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Stop listening, close every connection (close_notify), abort those still open after `grace` s."""
        if self.server is not None:
            self.server.close()
        for tls in list(self.connections):
            tls.close()
        if self.connections:
            self._empty = asyncio.Event()
            try:
                await asyncio.wait_for(self._empty.wait(), grace)
            except TimeoutError:
                for tls in list(self.connections):
                    tls.abort()
                # connection_lost() of an aborted transport runs on the next loop iterations.
                for _ in range(3):
                    await asyncio.sleep(0)
            finally:
                self._empty = None
        if self.server is not None:
            await self.server.wait_closed()


async def start_server(
    protocol_factory: Callable[[], TLSServerProtocol],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_connections: int | None = None,
    on_refused: Callable[[Any], None] | None = None,
    backlog: int = 1024,
    sock: socket.socket | None = None,
) -> TLSServer:
    """Listen on host:port (or accept on `sock`, a socket already bound, and then host and port are
    not used); each connection gets a protocol from `protocol_factory`.

    Beyond `max_connections` open connections, new ones are accepted and dropped
    at once (and `on_refused(peername)` is called): the server keeps its file
    descriptors and memory for the connections it serves."""
    server = TLSServer(protocol_factory, max_connections=max_connections, on_refused=on_refused)
    loop = asyncio.get_running_loop()
    if sock is not None:
        server.server = await loop.create_server(server._accept, sock=sock, backlog=backlog)
    else:
        server.server = await loop.create_server(server._accept, host, port, backlog=backlog)
    return server
