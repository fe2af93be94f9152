"""What `SSLObject` and `SSLSocket` share: a core connection, its plaintext
buffer, and the stdlib-shaped answers about the session.

The engine never does I/O. Its owner moves bytes: `feed()` what the peer
sent, `outgoing()` what must go to the peer (always flushed, even after a
failure, so the alert reaches the peer).

It also keeps the context's books, as OpenSSL keeps them for
`session_stats()`: a handshake is counted when it starts (`start()`), and once
it completes (`finish()`) whether a session was resumed, missed or found
expired; a client's session then goes into its context's cache, and one
offered from the cache is forgotten if the handshake fails (`failed()`).
"""

from __future__ import annotations

import errno
from collections import deque
from typing import Any

from cryptography.hazmat.primitives import serialization

from ..connection import ClientConnection, ServerConnection
from ..crypto.suites import SUITES
from ..errors import NoClientCertificate, TLSError
from ..events import ApplicationDataReceived, ConnectionClosed
from ..session import CLIENT_SESSION_LIFETIME, Session
from .certdict import certificate_dict
from .settings import ContextSettings
from .ssl_errors import SSLError, missing_client_certificate, to_ssl_error
from .sslsession import CacheKey, SSLSession, check_session

__all__ = ["Engine", "SessionInfo"]


class Plaintext:
    """Decrypted application data waiting to be read, kept as the records' own byte strings:
    a read that takes a whole record's data gets that object itself, not a copy."""

    __slots__ = ("_chunks", "_offset", "_size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # how much of the first chunk was read already
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        if data:
            self._chunks.append(data)
            self._size += len(data)

    def take(self, n: int) -> bytes:
        """Up to `n` bytes, from one record at most (as an SSL read returns)."""
        first, offset = self._chunks[0], self._offset
        available = len(first) - offset
        if n >= available:
            self._chunks.popleft()
            self._offset = 0
            self._size -= available
            return first if offset == 0 else first[offset:]
        self._offset = offset + n
        self._size -= n
        return first[offset : offset + n]

    def take_across(self, n: int) -> bytes:
        """Up to `n` bytes across records; one record's own bytes when it alone has enough."""
        chunks = self._chunks
        if n >= self._size and len(chunks) > 1:  # all of it: one join, not a take() per record (256 B: -0.2 µs each)
            if self._offset:
                chunks[0] = chunks[0][self._offset :]
                self._offset = 0
            data = b"".join(chunks)
            chunks.clear()
            self._size = 0
            return data
        first = self.take(n)
        if len(first) == n or not self._chunks:
            return first
        parts, got = [first], len(first)
        while got < n and self._chunks:
            chunk = self.take(n - got)
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def take_into(self, view: memoryview, n: int) -> int:
        """Up to `n` bytes into `view` (a byte-format memoryview), across records."""
        done = 0
        while done < n and self._chunks:
            chunk = self.take(n - done)
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
        return done


#: session_stats() keys counted when a handshake completes, by what became of an offered session.
_CLIENT_OUTCOMES = {"resumed": "hits", "declined": "misses"}
_SERVER_OUTCOMES = {"resumed": "hits", "unknown": "misses", "expired": "timeouts"}


class Engine:
    __slots__ = ("cache_key", "cached", "completed", "conn", "peer_closed", "plain", "requested", "server_hostname",
                 "started", "verified")

    def __init__(self, conn: ClientConnection | ServerConnection, server_hostname: str | None, verified: bool,
                 requested: SSLSession | None = None, cache_key: CacheKey | None = None,
                 cached: Session | None = None) -> None:
        self.conn = conn
        self.plain = Plaintext()
        self.peer_closed = False
        self.server_hostname = server_hostname
        self.verified = verified
        #: The session given with `session=` (or set before the handshake), offered if it may be.
        self.requested = requested
        #: Where a client's session goes in its context's cache (None: it is not cached), and the
        #: session taken from there to offer, if any.
        self.cache_key = cache_key
        self.cached = cached
        self.started = False
        #: The connection's session, once the handshake is complete.
        self.completed: SSLSession | None = None

    @property
    def handshake_complete(self) -> bool:
        return self.conn.handshake_complete

    def start(self, context: ContextSettings) -> None:
        """The first step of the handshake: counted as OpenSSL counts it (connect, accept)."""
        if not self.started:
            self.started = True
            context._count("accept" if isinstance(self.conn, ServerConnection) else "connect")

    def finish(self, context: ContextSettings) -> None:
        """Once, when the handshake has completed: the counts, the client's cache, the session."""
        if self.completed is not None:
            return
        conn = self.conn
        session = conn.session
        if isinstance(conn, ServerConnection):
            outcome = _SERVER_OUTCOMES.get(conn.resumption)
            context._count("accept_good", *(() if outcome is None else (outcome,)))
            lifetime = context._server_config().session_lifetime
        else:
            outcome = _CLIENT_OUTCOMES.get(conn.resumption)
            context._count("connect_good", *(() if outcome is None else (outcome,)))
            lifetime = CLIENT_SESSION_LIFETIME
            if session is not None and self.cache_key is not None:
                context._keep_session(self.cache_key, session)
        self.completed = SSLSession._create(context, session, int(context._now()), lifetime)

    def failed(self, context: ContextSettings) -> None:
        """The handshake failed: a session offered from the cache is not offered again."""
        if self.cached is not None and self.cache_key is not None and self.conn.failure is not None:
            context._forget_session(self.cache_key, self.cached)

    def ssl_session(self) -> SSLSession | None:
        """The connection's session once the handshake is complete; before, the one it was given."""
        return self.completed if self.conn.handshake_complete else self.requested

    def feed(self, data: bytes) -> None:
        """Bytes from the peer (b"" for EOF). Raises the stdlib-shaped error on failure."""
        try:
            events = self.conn.receive_data(data)
        except TLSError as exc:
            raise self.error(exc) from exc
        plain = self.plain
        for event in events:
            if isinstance(event, ApplicationDataReceived):
                plain.append(event.data)
            elif isinstance(event, ConnectionClosed):
                self.peer_closed = True

    def raise_pending_failure(self) -> None:
        """A failure the core recorded after delivering data: raise it once the data is read."""
        failure = self.conn.failure
        if failure is not None:
            raise self.error(failure) from failure

    def error(self, exc: TLSError) -> SSLError:
        if isinstance(exc, NoClientCertificate):
            return missing_client_certificate(exc)
        return to_ssl_error(exc, self.server_hostname)

    def outgoing(self) -> bytes:
        return self.conn.data_to_send()

    def take(self, n: int) -> bytes:
        """Up to `n` bytes of what was received, across records (as a reader expects after select())."""
        return self.plain.take_across(n)

    def take_into(self, buffer: Any, n: int) -> int:
        """Up to `n` bytes into `buffer`; as in the ssl module, n <= 0 means the buffer's size."""
        with memoryview(buffer) as view, view.cast("B") as flat:
            if n <= 0 or n > flat.nbytes:
                n = flat.nbytes
            return self.plain.take_into(flat, n)

    def send(self, data: Any) -> None:
        try:
            self.conn.send_application_data(data)
        except TLSError as exc:
            raise self.error(exc) from exc


class SessionInfo:
    """The read-only `ssl.SSLObject`/`SSLSocket` members about the session.

    Like the ssl module: before the handshake (or on a socket not yet
    connected) the answers are None, but `session_reused` (False before the
    handshake, None on a socket not connected) and `session` (the one given,
    if any); `getpeercert()` raises."""

    _engine: Engine | None
    _context: ContextSettings
    _server_side: bool
    _server_hostname: str | None
    _session: Any  # what `session=` gave or `session` was set to, checked when the engine is made

    @property
    def context(self) -> Any:
        return self._context

    @context.setter
    def context(self, value: ContextSettings) -> None:
        """Settable, as in the ssl module: an sni_callback may switch the server's context."""
        if not hasattr(value, "_server_config"):
            raise TypeError("the context must be a tls12.SSLContext")
        self._context = value

    @property
    def server_side(self) -> bool:
        return self._server_side

    @property
    def server_hostname(self) -> str | None:
        return self._server_hostname

    def _established(self) -> Engine | None:
        engine = self._engine
        return engine if engine is not None and engine.handshake_complete else None

    def _require_handshake(self) -> Engine:
        if self._engine is None:
            raise OSError(errno.ENOTCONN, "the socket is not connected")
        engine = self._established()
        if engine is None:
            raise ValueError("handshake not done yet")
        return engine

    def cipher(self) -> tuple[str, str, int] | None:
        engine = self._established()
        suite = engine.conn.cipher_suite if engine is not None else None
        if suite is None:
            return None
        spec = SUITES[suite]
        return (spec.openssl_name, "TLSv1.2", spec.bits)

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """The suites the client offered that this server enables, in the server's order (as the ssl
        module lists them); None on the client side, as there."""
        engine = self._established()
        if engine is None or not isinstance(engine.conn, ServerConnection):
            return None
        offered = set(engine.conn.offered_cipher_suites)
        enabled = self._context._server_config().cipher_suites
        return [(SUITES[s].openssl_name, "TLSv1.2", SUITES[s].bits) for s in enabled if s in offered]

    def version(self) -> str | None:
        return "TLSv1.2" if self._established() is not None else None

    def compression(self) -> None:
        return None

    def selected_alpn_protocol(self) -> str | None:
        engine = self._established()
        return engine.conn.alpn_protocol if engine is not None else None

    def selected_npn_protocol(self) -> None:
        return None

    def getpeercert(self, binary_form: bool = False) -> Any:
        """As in the ssl module: None without a peer certificate (a server that asked for none, or
        got none); {} for a client's unverified one (CERT_NONE); a server only ever holds a verified
        one, as the handshake fails otherwise."""
        engine = self._require_handshake()
        chain = engine.conn.peer_certificate_chain
        if not chain:
            return None
        if binary_form:
            return chain[0].public_bytes(serialization.Encoding.DER)
        if not engine.verified:
            return {}
        return certificate_dict(chain[0])

    def get_verified_chain(self) -> list[bytes]:
        engine = self._require_handshake()
        if not engine.verified:
            return []
        return [c.public_bytes(serialization.Encoding.DER) for c in engine.conn.verified_certificate_chain]

    def get_unverified_chain(self) -> list[bytes]:
        engine = self._require_handshake()
        return [c.public_bytes(serialization.Encoding.DER) for c in engine.conn.peer_certificate_chain]

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        if cb_type != "tls-unique":
            raise ValueError(f"{cb_type} channel binding type not implemented")
        engine = self._established()
        # RFC 5929 §3.1: the first Finished of the latest handshake; the client's in a full handshake.
        return engine.conn.client_finished if engine is not None else None

    @property
    def session(self) -> SSLSession | None:
        """As in the ssl module: after the handshake, its session (on a server too); before, the one
        given with `session=` or set, if any; None on a socket not connected, or closed."""
        engine = self._engine
        return None if engine is None else engine.ssl_session()

    @session.setter
    def session(self, value: Any) -> None:
        """Checked and refused as the ssl module does: not a tls12 `SSLSession` (TypeError), one of
        another context, on a server, after the handshake (ValueError). Set before the handshake
        starts, the session is offered; set while it is under way, it changes nothing. On a socket
        not connected it is only kept, and checked when the socket connects."""
        self._session = value
        engine = self._engine
        if engine is None:
            return
        check_session(value, self._context, self._server_side)
        if engine.handshake_complete:
            raise ValueError("Cannot set session after handshake.")
        if not engine.started:
            self._engine = self._new_engine()

    @property
    def session_reused(self) -> bool | None:
        """Whether the handshake resumed a session; None on a socket not connected, or closed."""
        engine = self._engine
        return None if engine is None else engine.conn.session_reused

    def _new_engine(self) -> Engine:
        """A new engine for this object, with `_session` (to offer before the handshake starts)."""
        raise NotImplementedError

    def verify_client_post_handshake(self) -> None:
        raise NotImplementedError("post-handshake authentication is a TLS 1.3 feature")

    def pending(self) -> int:
        return len(self._engine.plain) if self._engine is not None else 0
