"""`SSLSocket`: an `ssl.SSLSocket` subclass speaking TLS through tls12.

Third-party code tests `isinstance(sock, ssl.SSLSocket)` (httpx decides on it
whether to speak HTTP/2, `websockets.sync` asserts it), so the class derives
from the stdlib's. It inherits nothing of it, though: every member of
`ssl.SSLSocket` is defined again here (or in `SessionInfo`), and `_sslobj`,
where the ssl module keeps its OpenSSL object, answers with this socket
itself while TLS is on (None otherwise) and refuses anything else.

It takes over the wrapped socket's file descriptor (as the stdlib does), so
`makefile()`, `close()` reference counting, timeouts and `select()` behave as
they do for any socket. Blocking, timeout and non-blocking modes are all
supported; in non-blocking mode an operation that needs the network raises
`SSLWantReadError` or `SSLWantWriteError`, and in timeout mode one that takes
too long raises `TimeoutError`; either way it must be retried with the same
arguments, as with OpenSSL. Records already sealed stay queued until the
socket takes them, so a retry never loses or repeats a byte.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from typing import Any

from .engine import Engine, SessionInfo
from .linger import linger
from .settings import ContextSettings
from .ssl_errors import SSLEOFError, SSLError, SSLWantWriteError, want_read, want_write
from .sslobject import _hostname, new_engine
from .sslsession import CacheKey, check_session

__all__ = ["SSLSocket"]

_READ_SIZE = 4 * (2**14 + 2048 + 5)  # a few records per system call
_SENDALL_CHUNK = 2**16
#: In timeout mode the socket module polls before every recv() and send(), even when the socket is
#: ready; on POSIX the descriptor (non-blocking in that mode) is tried first, and polled only when it
#: is not: one system call instead of two (256 B sends with a timeout: 2.49 -> 2.18 µs).
_TRY_FIRST = os.name == "posix"


class SSLSocket(SessionInfo, ssl.SSLSocket):  # type: ignore[misc]  # session: a tls12.SSLSession
    """A TLS 1.2 socket. Create it with `tls12.SSLContext.wrap_socket()`."""

    _engine: Engine | None
    _context: ContextSettings
    _out: bytearray
    _partial_send: int | None
    _after_unwrap: bytearray
    _connected: bool
    do_handshake_on_connect: bool
    suppress_ragged_eofs: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{type(self).__name__} does not have a public constructor; use SSLContext.wrap_socket()")

    @classmethod
    def _create(
        cls,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        context: ContextSettings | None = None,
        session: Any = None,
    ) -> SSLSocket:
        if context is None:  # pragma: no cover - only SSLContext calls this
            raise TypeError("context is required")
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        if server_side and server_hostname:
            raise ValueError("server_hostname can only be specified in client mode")
        if server_side and session is not None:
            raise ValueError("session can only be specified in client mode")
        hostname = _hostname(server_hostname)
        if not server_side and context.check_hostname and not hostname:
            raise ValueError("check_hostname requires server_hostname")

        kwargs = {"family": sock.family, "type": sock.type, "proto": sock.proto, "fileno": sock.fileno()}
        self = cls.__new__(cls, **kwargs)
        socket.socket.__init__(self, **kwargs)
        timeout = sock.gettimeout()
        sock.detach()
        self._context = context
        self._server_side = server_side
        self._server_hostname = hostname
        self._session = session
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._engine = None
        self._out = bytearray()
        self._partial_send = None
        self._after_unwrap = bytearray()
        self._connected = False
        self.settimeout(timeout)
        try:
            self.getpeername()
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise
            return self
        self._connected = True
        try:
            self._start()
        except (OSError, ValueError, TypeError):
            self.close()  # as the ssl module does: a failed handshake does not leak the socket
            raise
        return self

    def _new_engine(self) -> Engine:
        return new_engine(self._context, self._server_side, self._server_hostname, self, session=self._session,
                          cache_key=None if self._server_side else self._cache_key())

    def _cache_key(self) -> CacheKey | None:
        """Where the context caches this client's session: (server name, port). Without a server
        name, the peer's IP address stands for it; a socket without a port caches by name alone."""
        peer = self.getpeername()
        if self.family in (socket.AF_INET, socket.AF_INET6):
            return (self._server_hostname or str(peer[0]), int(peer[1]))
        return None if self._server_hostname is None else (self._server_hostname, None)

    def _start(self) -> None:
        self._engine = self._new_engine()
        if self.do_handshake_on_connect:
            if self.gettimeout() == 0.0:
                raise ValueError("do_handshake_on_connect should not be specified for non-blocking sockets")
            self.do_handshake()

    # -- attributes the ssl module lets one assign ---------------------------------------

    @property
    def server_side(self) -> bool:
        return self._server_side

    @server_side.setter
    def server_side(self, value: bool) -> None:
        raise AttributeError("server_side is fixed when the socket is wrapped")

    @property
    def server_hostname(self) -> str | None:
        return self._server_hostname

    @server_hostname.setter
    def server_hostname(self, value: str | None) -> None:
        raise AttributeError("server_hostname is fixed when the socket is wrapped")

    # -- where the ssl module keeps OpenSSL ----------------------------------------------

    @property
    def _sslobj(self) -> SSLSocket | None:
        """The TLS object while TLS is on: this socket, which answers the `ssl.SSLObject` questions
        (httpcore reads `selected_alpn_protocol()` from it); None before and after, as in the ssl module."""
        return self if self._engine is not None else None

    @_sslobj.setter
    def _sslobj(self, value: None) -> None:
        if value is not None:
            raise TypeError("a tls12 SSLSocket runs on tls12 only; it takes no other TLS object")
        self._engine = None

    def _checkClosed(self, msg: str | None = None) -> None:
        pass

    def _check_connected(self) -> None:
        if not self._connected:
            self.getpeername()  # ENOTCONN unless connected after all

    def _tls(self, what: str) -> Engine:
        engine = self._engine
        if engine is None:
            raise ValueError(f"{what} on closed or unwrapped SSL socket.")
        return engine

    # -- raw I/O ------------------------------------------------------------------------

    def _flush(self) -> None:
        """Send what earlier calls left queued, then whatever the engine has for the peer, in order.

        Blocking mode sends everything (or fails for good). In timeout and non-blocking mode the
        socket may take only part in time: the rest of the sealed records stays queued, first in
        line for the next call, and TimeoutError or SSLWantWriteError is raised."""
        engine = self._engine
        data = engine.conn.data_to_send() if engine is not None else b""
        out = self._out
        if data and not out:
            if self.gettimeout() is None:
                socket.socket.sendall(self, data)  # no staging copy on the common path
                return
            try:
                sent = self._send_some(data)
            except BlockingIOError:
                out += data
                raise want_write() from None
            except TimeoutError:
                out += data
                raise
            if sent == len(data):
                return
            with memoryview(data) as view:
                out += view[sent:]
        elif data:
            out += data
        while out:
            try:
                n = self._send_some(out)
            except BlockingIOError:
                raise want_write() from None
            del out[:n]

    def _send_some(self, data: bytes | bytearray) -> int:
        """socket.send() outside blocking mode, trying the descriptor first (`_TRY_FIRST`)."""
        if _TRY_FIRST and self.gettimeout():
            try:
                return os.write(self.fileno(), data)
            except BlockingIOError:
                pass  # not ready: the socket module waits for it, as long as the timeout allows
        return socket.socket.send(self, data)

    def _flush_quietly(self) -> None:
        try:  # noqa: SIM105  # contextlib.suppress costs 0.7 µs per read
            self._flush()
        except OSError:
            pass

    def _fill(self, engine: Engine, size: int = _READ_SIZE) -> None:
        """One read (of at most `size` bytes) from the network into the engine."""
        try:
            if _TRY_FIRST and self.gettimeout():  # timeout mode: try the descriptor first
                try:
                    data = os.read(self.fileno(), size)
                except BlockingIOError:
                    data = socket.socket.recv(self, size)  # waits, as long as the timeout allows
            else:
                data = socket.socket.recv(self, size)
        except BlockingIOError:
            raise want_read() from None
        if not data and self._context._ignore_unexpected_eof and engine.conn.handshake_complete:
            engine.peer_closed = True
            return
        try:
            engine.feed(data)
        finally:
            self._flush_quietly()

    # -- the SSLSocket API ----------------------------------------------------------------

    def do_handshake(self, block: bool = False) -> None:
        self._check_connected()
        engine = self._tls("Handshake")
        engine.start(self._context)
        timeout = self.gettimeout()
        try:
            if timeout == 0.0 and block:
                self.settimeout(None)
            self._flush()
            while not engine.handshake_complete:
                engine.raise_pending_failure()
                self._fill(engine)
                self._flush()
        except SSLError:
            engine.failed(self._context)
            if self._server_side and engine.conn.failure is not None:
                # The refusal (its alert is out) must reach the client rather than a TCP reset.
                linger(self)
            raise
        finally:
            self.settimeout(timeout)
        engine.finish(self._context)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        engine = self._tls("Read")
        conn, plain = engine.conn, engine.plain
        try:
            if not conn.handshake_complete:
                self.do_handshake()
            self._flush()
            if not plain:
                wanted = max(len if len > 0 or buffer is None else memoryview(buffer).nbytes, 1)
                while not plain:
                    if engine.peer_closed:
                        return 0 if buffer is not None else b""
                    engine.raise_pending_failure()
                    # Only as far as `len` bytes of data need: the rest stays in the kernel, where
                    # select() still sees it (the connection's receive_size()).
                    self._fill(engine, min(_READ_SIZE, conn.receive_size(wanted)))
        except SSLEOFError:
            if self.suppress_ragged_eofs:
                return 0 if buffer is not None else b""
            raise
        if buffer is not None:
            return engine.take_into(buffer, len)
        if len <= 0:
            return b""
        return plain.take_across(len)

    def write(self, data: Any) -> int:
        self._tls("Write")
        return self.send(data)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if self._engine is None:
            if self._after_unwrap:
                data = bytes(self._after_unwrap[:buflen])
                del self._after_unwrap[:buflen]
                return data
            return socket.socket.recv(self, buflen, flags)
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to recv() on SSLSocket")
        result: bytes = self.read(buflen)
        return result

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        if self._engine is None:
            if self._after_unwrap:
                with memoryview(buffer) as view:
                    n = min(nbytes or view.nbytes, view.nbytes, len(self._after_unwrap))
                    view.cast("B")[:n] = self._after_unwrap[:n]
                del self._after_unwrap[:n]
                return n
            return socket.socket.recv_into(self, buffer, nbytes or 0, flags)
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to recv_into() on SSLSocket")
        if not nbytes:
            with memoryview(buffer) as view:
                nbytes = view.nbytes
        result: int = self.read(nbytes, buffer)
        return result

    def send(self, data: Any, flags: int = 0) -> int:
        engine = self._engine
        if engine is None:
            return socket.socket.send(self, data, flags)
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to send() on SSLSocket")
        if not engine.conn.handshake_complete:
            self.do_handshake()
        if self._partial_send is not None:
            # A retry after SSLWantWriteError or TimeoutError: the data is already sealed and queued.
            self._flush()
            n, self._partial_send = self._partial_send, None
            return n
        if type(data) is bytes:  # flat bytes already: no views (with sendall's, -1 µs CPU per 256 B write)
            n = len(data)
            engine.send(data)
        else:
            with memoryview(data) as view:
                n = view.nbytes
                engine.send(view.cast("B"))
        try:
            self._flush()
        except (SSLWantWriteError, TimeoutError):
            # Sealed and queued already: the retry (with the same data) only completes the sending.
            self._partial_send = n
            raise
        return n

    def sendall(self, data: Any, flags: int = 0) -> None:
        if self._engine is None:
            socket.socket.sendall(self, data, flags)
            return
        if flags != 0:
            raise ValueError("non-zero flags not allowed in calls to sendall() on SSLSocket")
        if type(data) is bytes and 0 < len(data) <= _SENDALL_CHUNK:  # one send(), no views: 2.97 -> 1.98 µs per 256 B
            self.send(data)
            return
        with memoryview(data) as view, view.cast("B") as flat:
            for start in range(0, flat.nbytes, _SENDALL_CHUNK):
                self.send(flat[start : start + _SENDALL_CHUNK])

    def sendto(self, data: Any, flags_or_addr: Any, addr: Any = None) -> int:
        if self._engine is not None:
            raise ValueError("sendto not allowed on instances of SSLSocket")
        if addr is None:
            return socket.socket.sendto(self, data, flags_or_addr)
        return socket.socket.sendto(self, data, flags_or_addr, addr)

    def recvfrom(self, buflen: int = 1024, flags: int = 0) -> tuple[bytes, Any]:
        if self._engine is not None:
            raise ValueError("recvfrom not allowed on instances of SSLSocket")
        return socket.socket.recvfrom(self, buflen, flags)

    def recvfrom_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> tuple[int, Any]:
        if self._engine is not None:
            raise ValueError("recvfrom_into not allowed on instances of SSLSocket")
        return socket.socket.recvfrom_into(self, buffer, nbytes or 0, flags)

    def recvmsg(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("recvmsg not allowed on instances of SSLSocket")

    def recvmsg_into(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("recvmsg_into not allowed on instances of SSLSocket")

    def sendmsg(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("sendmsg not allowed on instances of SSLSocket")

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        if self._engine is None:
            return socket.socket.sendfile(self, file, offset, count)
        return self._sendfile_use_send(file, offset, count)  # type: ignore[attr-defined, no-any-return]

    def dup(self) -> SSLSocket:
        raise NotImplementedError(f"Can't dup() {type(self).__name__} instances")

    def unwrap(self) -> SSLSocket:
        """close_notify both ways; afterwards the socket carries plain bytes again."""
        engine = self._engine
        if engine is None:
            raise ValueError(f"No SSL wrapper around {self}")
        conn = engine.conn
        if not conn.close_sent and conn.failure is None:
            conn.close()
        self._flush()
        while not engine.peer_closed and conn.failure is None:
            try:
                self._fill(engine)
            except SSLEOFError:
                break
        # Plain bytes the peer sent right behind its close_notify belong to what comes next.
        self._after_unwrap += conn.take_data_after_close()
        self._engine = None
        return self

    def shutdown(self, how: int) -> None:
        self._engine = None
        socket.socket.shutdown(self, how)

    def _real_close(self) -> None:
        self._engine = None
        socket.socket._real_close(self)  # type: ignore[attr-defined]

    def connect(self, address: Any) -> None:
        self._real_connect(address, False)

    def connect_ex(self, address: Any) -> int:
        return self._real_connect(address, True)

    def _real_connect(self, address: Any, connect_ex: bool) -> int:
        if self._server_side:
            raise ValueError("can't connect in server-side mode")
        if self._connected or self._engine is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        if self._session is not None:
            # As the ssl module does: a session set on the socket before it connected is checked first.
            check_session(self._session, self._context, self._server_side)
        if connect_ex:
            result = socket.socket.connect_ex(self, address)
            if result != 0:
                return result
        else:
            socket.socket.connect(self, address)
            result = 0
        self._connected = True
        self._start()
        return result

    def accept(self) -> tuple[SSLSocket, Any]:
        sock, address = socket.socket.accept(self)
        wrapped: SSLSocket = self._context.wrap_socket(
            sock,
            do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs,
            server_side=True,
        )
        return wrapped, address

    def __repr__(self) -> str:
        return f"<tls12.SSLSocket fd={self.fileno()}, server_side={self._server_side}>"
