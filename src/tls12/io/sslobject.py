"""`SSLObject`: the stdlib `ssl.SSLObject` interface over two `ssl.MemoryBIO`s.

This is what asyncio drives (`SSLContext.wrap_bio()`): it writes what arrived
from the transport into `incoming`, calls `do_handshake()`/`read()`/`write()`/
`unwrap()`, and sends whatever appears in `outgoing`. "Need more input" is
`SSLWantReadError`; `read()` returns b"" (or 0) after the peer's close_notify.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Callable
from typing import Any

from ..config import ServerConfig
from ..connection import ClientConnection, ServerConnection
from ..errors import ApplicationAlert, HandshakeFailure, InternalError
from .engine import Engine, SessionInfo
from .settings import ContextSettings
from .ssl_errors import SSLError, want_read
from .sslsession import CacheKey, check_session

__all__ = ["SSLObject"]


def _hostname(server_hostname: str | bytes | None) -> str | None:
    if server_hostname is None:
        return None
    if isinstance(server_hostname, bytes):
        return server_hostname.decode("ascii")
    if not server_hostname or server_hostname.startswith("."):
        raise ValueError("server_hostname cannot be an empty string or start with a leading dot.")
    return server_hostname


def _ssl_error(message: str) -> ssl.SSLError:
    exc = ssl.SSLError(1, message)
    exc.library, exc.reason = "SSL", "BAD_STATE"
    return exc


def new_engine(context: ContextSettings, server_side: bool, server_hostname: str | None, sslobj: Any,
               session: Any = None, cache_key: CacheKey | None = None) -> Engine:
    """A core connection configured from the context, for either side.

    `sslobj` is the socket or object the connection belongs to: an
    `sni_callback` gets it, and may switch its `context`; from then on the
    connection is served by that context's settings, its key log and its
    sessions included (a session is resumed only by the context that made it).

    A client offers `session` (an `SSLSession` of this context), or else the
    one its context's cache holds under `cache_key`; its session goes there
    once the handshake is complete."""
    if server_side and context.protocol == ssl.PROTOCOL_TLS_CLIENT:
        raise _ssl_error("Cannot create a server socket with a PROTOCOL_TLS_CLIENT context")
    if not server_side and context.protocol == ssl.PROTOCOL_TLS_SERVER:
        raise _ssl_error("Cannot create a client socket with a PROTOCOL_TLS_SERVER context")
    if server_side:
        if session is not None:
            check_session(session, context, server_side)
        config = context._server_config()
        choose = None
        if context.sni_callback is not None:
            config = _sni_config(config, sslobj)
            choose = _sni_chooser(context, sslobj)
        conn: ClientConnection | ServerConnection = ServerConnection(config, config_for_name=choose)
        # A server keeps a client's chain only once it verified it: the handshake fails otherwise.
        return Engine(conn, None, verified=True)
    if context.check_hostname and server_hostname is None:
        raise ValueError("check_hostname requires server_hostname")
    requested = None if session is None else check_session(session, context, server_side)
    cached = None
    if requested is None and cache_key is not None:
        cached = context._cached_session(cache_key)
    client_config = context._client_config()
    conn = ClientConnection(client_config, server_name=server_hostname,
                            session=requested._session if requested is not None else cached)
    return Engine(conn, server_hostname, verified=client_config.verify_certificates, requested=requested,
                  cache_key=cache_key, cached=cached)


def _sni_config(config: ServerConfig, sslobj: Any) -> ServerConfig:
    """The server configuration of a connection whose context an sni_callback may switch.

    The key log line is written once the keys exist, after the callback ran:
    it goes to the key log of the context the connection has then."""

    def key_log(line: str) -> None:
        write = sslobj.context._server_config().key_log
        if write is not None:
            write(line)

    return dataclasses.replace(config, key_log=key_log)


def _sni_chooser(context: ContextSettings, sslobj: Any) -> Callable[[str | None], ServerConfig | None]:
    def choose(name: str | None) -> ServerConfig | None:
        callback = context.sni_callback
        if callback is None:
            return None
        try:
            result = callback(sslobj, name, context)
        except Exception as exc:
            # As the ssl module documents: an exception in the callback is handshake_failure.
            raise HandshakeFailure(f"the sni_callback raised {exc!r}") from exc
        if result is not None:
            if not isinstance(result, int) or not 0 <= result <= 255:
                # The peer gets internal_error, as OpenSSL sends when the callback misbehaves.
                raise InternalError(f"the sni_callback returned an invalid alert description {result!r} "
                                    f"(expected None or an int from 0 to 255)")
            raise ApplicationAlert(result, "the sni_callback refused the connection")
        return sslobj.context._server_config()  # type: ignore[no-any-return]

    return choose


class SSLObject(SessionInfo):
    """Drives one tls12 connection over stdlib MemoryBIOs."""

    _engine: Engine  # never None here, unlike on a socket not yet connected
    _incoming: ssl.MemoryBIO
    _outgoing: ssl.MemoryBIO

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{type(self).__name__} does not have a public constructor; use SSLContext.wrap_bio()")

    @classmethod
    def _create(
        cls,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: Any = None,
        context: ContextSettings | None = None,
    ) -> SSLObject:
        if context is None:  # pragma: no cover - only SSLContext calls this
            raise TypeError("context is required")
        self = cls.__new__(cls)
        self._incoming = incoming
        self._outgoing = outgoing
        self._server_side = server_side
        self._context = context
        self._server_hostname = _hostname(server_hostname)
        self._session = session
        self._engine = self._new_engine()
        return self

    def _new_engine(self) -> Engine:
        # The port is not to be seen from here (asyncio's transport knows it, and does not say): a
        # client's session is cached by its server name alone. That is safe: only a server holding the
        # session's master secret (one sharing the store or ticket keys of the server verified for this
        # name, under the same verification policy) can resume it; another port of the name gets a full
        # handshake. Without a name nothing ties a session to a server: nothing is cached.
        hostname = self._server_hostname
        key = None if self._server_side or hostname is None else (hostname, None)
        return new_engine(self._context, self._server_side, hostname, self, session=self._session, cache_key=key)

    # -- moving bytes -------------------------------------------------------------

    def _push(self) -> None:
        data = self._engine.outgoing()
        if data:
            self._outgoing.write(data)

    def _pull(self) -> bool:
        """Feed what the transport delivered; False if there was nothing (want read)."""
        data = self._incoming.read()
        if data:
            self._feed(data)
            return True
        if self._incoming.eof:
            if self._context._ignore_unexpected_eof and self._engine.handshake_complete:
                self._engine.peer_closed = True
                return True
            self._feed(b"")
            return True
        return False

    def _feed(self, data: bytes) -> None:
        try:
            self._engine.feed(data)
        finally:
            self._push()

    # -- the SSLObject API ------------------------------------------------------------

    def do_handshake(self) -> None:
        engine = self._engine
        engine.start(self._context)
        self._push()
        try:
            while not engine.handshake_complete:
                engine.raise_pending_failure()
                if not self._pull():
                    raise want_read()
        except SSLError:
            engine.failed(self._context)
            raise
        engine.finish(self._context)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        if not self._engine.handshake_complete:
            self.do_handshake()
        engine = self._engine
        while not engine.plain:
            if engine.peer_closed:
                return 0 if buffer is not None else b""
            engine.raise_pending_failure()
            if not self._pull():
                raise want_read()
        if buffer is not None:
            return engine.take_into(buffer, len)
        if len <= 0:
            return b""
        return engine.take(len)

    def write(self, data: Any) -> int:
        if not self._engine.handshake_complete:
            self.do_handshake()
        with memoryview(data) as view:
            n = view.nbytes
            self._engine.send(view.cast("B"))
        self._push()
        return n

    def unwrap(self) -> None:
        """Send close_notify and wait for the peer's (SSLWantReadError until it arrives)."""
        engine = self._engine
        conn = engine.conn
        if not conn.close_sent and conn.failure is None:
            conn.close()
        self._push()
        while not engine.peer_closed and conn.failure is None:
            data = self._incoming.read()
            if data:
                try:
                    self._feed(data)
                except SSLError:
                    break
                continue
            if self._incoming.eof:
                break
            raise want_read()
        self._push()
