"""An asyncio server over the sans-I/O core, without the ssl module's machinery.

`TLSServerProtocol` owns one `ServerConnection` per TCP connection: bytes from
the transport go into `receive_data()`, whatever the connection queues goes
back out, and the decrypted data is handed to an `Application` callback
object. Flow control: when the transport's write buffer is full, reading from
the peer pauses. A handshake that does not finish in time is abandoned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from ..config import ServerConfig
from ..connection import ServerConnection
from ..errors import TLSError
from ..events import ApplicationDataReceived, ConnectionClosed, HandshakeComplete
from ..trace import Tracer

__all__ = ["Application", "TLSServerProtocol"]

HANDSHAKE_TIMEOUT = 30.0


class Application(Protocol):
    """What runs on top of one established TLS connection."""

    def established(self, tls: TLSServerProtocol) -> None: ...

    def data_received(self, tls: TLSServerProtocol, data: bytes) -> None: ...

    def peer_closed(self, tls: TLSServerProtocol) -> None: ...


class TLSServerProtocol(asyncio.Protocol):
    def __init__(
        self,
        config: ServerConfig,
        app: Application,
        *,
        tracer: Tracer | None = None,
        on_failure: Callable[[TLSServerProtocol, Exception], None] | None = None,
        on_closed: Callable[[TLSServerProtocol], None] | None = None,
    ) -> None:
        self.conn = ServerConnection(config, tracer=tracer)
        self.app = app
        self.on_failure = on_failure
        self.on_closed = on_closed
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.failure: Exception | None = None

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, self._handshake_timeout)

    def data_received(self, data: bytes) -> None:
        self._receive(data)

    def eof_received(self) -> bool:
        self._receive(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.on_closed is not None:
            self.on_closed(self)

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # -- for the application ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.conn.send_application_data(data)
        self._flush()

    def close(self) -> None:
        """close_notify, then close the transport once it is written."""
        self.conn.close()
        self._flush()
        if self.transport is not None:
            self.transport.close()

    # -- internals --------------------------------------------------------------------

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _receive(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        try:
            events = self.conn.receive_data(data)
        except TLSError as exc:
            self._fail(exc)
            return
        for event in events:
            if isinstance(event, HandshakeComplete):
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self.app.established(self)
            elif isinstance(event, ApplicationDataReceived):
                self.app.data_received(self, event.data)
            elif isinstance(event, ConnectionClosed):
                self.app.peer_closed(self)
        self._flush()
        if self.conn.failure is not None:
            self._fail(self.conn.failure)
        elif self.conn.closed and self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        self.failure = exc
        self._flush()  # the alert
        if self.transport is not None:
            self.transport.close()
        if self.on_failure is not None:
            self.on_failure(self, exc)

    def _handshake_timeout(self) -> None:
        self._timer = None
        if not self.conn.handshake_complete and self.transport is not None:
            self._fail(TimeoutError(f"no handshake within {HANDSHAKE_TIMEOUT:.0f} s"))
