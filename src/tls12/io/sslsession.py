"""`SSLSession`, the stdlib's session object over a tls12 `Session`, and a client context's
session cache.

A `tls12.SSLSession` answers what an `ssl.SSLSession` answers (`id`, `time`,
`timeout`, `ticket_lifetime_hint`, `has_ticket`), compares equal to another by
`id`, and, like the stdlib's, can be neither hashed, pickled nor made by hand:
it comes from a connection's `session` and goes back into `wrap_socket(...,
session=)`, `wrap_bio(..., session=)` or a socket's `session` of the same
context. Its `id` is OpenSSL's: the session ID, or for a session the server
sealed in a ticket, the SHA-256 of the ticket.

A handshake that made nothing resumable (no extended master secret, or a
server that gave neither a session ID nor a ticket) still has a session, as
in OpenSSL: one that offers nothing.

`ClientSessionCache` is what a client context resumes from when no session is
given: the sessions of its last handshakes by (server name, port), the most
recently used `max_entries`, each until it expires.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Callable
from typing import Any, NoReturn

from ..session import MemorySessionStore, Session

__all__ = ["CLIENT_CACHE_SIZE", "CacheKey", "ClientSessionCache", "SSLSession", "SettableClock", "check_session"]

#: How many sessions a client context keeps for automatic resumption.
CLIENT_CACHE_SIZE = 1000

#: (server name, port): the port is None for a connection whose port the context cannot see
#: (`wrap_bio()`, as asyncio uses it), and the name the peer's IP address for a socket without one.
CacheKey = tuple[str, int | None]


class SSLSession:
    """A session a client context may resume: the stdlib's `ssl.SSLSession` interface."""

    __slots__ = ("_context", "_session", "_time", "_timeout")

    _context: object
    _session: Session | None
    _time: int
    _timeout: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("cannot create 'tls12.SSLSession' instances")

    @classmethod
    def _create(cls, context: object, session: Session | None, created: int, lifetime: int) -> SSLSession:
        """`session`: None for a handshake that made nothing resumable (then `created` and `lifetime`
        describe it); otherwise the session's own times are used."""
        self = cls.__new__(cls)
        self._context = context
        self._session = session
        self._time, self._timeout = (created, lifetime) if session is None else (session.created, session.lifetime)
        return self

    @property
    def id(self) -> bytes:
        session = self._session
        if session is None:
            return b""
        if session.ticket:
            return hashlib.sha256(session.ticket).digest()
        return session.session_id

    @property
    def time(self) -> int:
        """When the session was made, in unix seconds."""
        return self._time

    @property
    def timeout(self) -> int:
        """How long it may be resumed from `time`, in seconds."""
        return self._timeout

    @property
    def ticket_lifetime_hint(self) -> int:
        return 0 if self._session is None else self._session.ticket_lifetime_hint

    @property
    def has_ticket(self) -> bool:
        return self._session is not None and bool(self._session.ticket)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SSLSession):
            return NotImplemented
        return other is self or other.id == self.id

    __hash__ = None  # type: ignore[assignment]  # unhashable, as the stdlib's

    def __reduce__(self) -> NoReturn:
        raise TypeError("cannot pickle 'tls12.SSLSession' object")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("cannot pickle 'tls12.SSLSession' object")

    def __repr__(self) -> str:
        return f"<tls12.SSLSession id={self.id.hex() or '(none)'} time={self._time} timeout={self._timeout}>"


def check_session(value: object, context: object, server_side: bool) -> SSLSession:
    """The session a connection of `context` is given, refused as the ssl module refuses it."""
    if not isinstance(value, SSLSession):
        if isinstance(value, ssl.SSLSession):
            raise TypeError("Value is not a SSLSession: not a tls12 one (an ssl.SSLSession resumes only with the "
                            "ssl module's contexts)")
        raise TypeError("Value is not a SSLSession.")
    if value._context is not context:
        raise ValueError("Session refers to a different SSLContext.")
    if server_side:
        raise ValueError("Cannot set session for server-side SSLSocket.")
    return value


class SettableClock:
    """Unix seconds from `source` (time.time): one clock for a context's configurations, stores,
    ticket keys and cache, which a test can move."""

    __slots__ = ("source",)

    def __init__(self) -> None:
        self.source: Callable[[], float] = time.time

    def __call__(self) -> float:
        return self.source()


class ClientSessionCache:
    """Sessions by `CacheKey`: the `max_entries` most recently used, each until it expires (by
    `clock`). A `MemorySessionStore` holds them (encoded, with the time each has left to live), so a
    client's cache is the same bounded LRU as a server's store. Thread-safe."""

    __slots__ = ("_clock", "_store")

    def __init__(self, max_entries: int = CLIENT_CACHE_SIZE, clock: Callable[[], float] = time.time) -> None:
        self._store = MemorySessionStore(max_entries, clock)
        self._clock = clock

    @property
    def max_entries(self) -> int:
        return self._store.max_entries

    @property
    def evicted(self) -> int:
        """How many sessions were dropped to make room."""
        return self._store.evicted

    @staticmethod
    def _key(key: CacheKey) -> bytes:
        name, port = key
        return f"{'' if port is None else port}/{name}".encode("utf-8", "surrogatepass")

    def get(self, key: CacheKey) -> Session | None:
        value = self._store.get(self._key(key))
        return None if value is None else Session.from_bytes(value)

    def put(self, key: CacheKey, session: Session) -> None:
        self._store.put(self._key(key), session.to_bytes(), session.created + session.lifetime - int(self._clock()))

    def discard(self, key: CacheKey, session: Session) -> None:
        """Forget `key`'s session if it is still `session` (not one a later handshake put there)."""
        if self._store.get(self._key(key)) == session.to_bytes():
            self._store.delete(self._key(key))

    def __len__(self) -> int:
        return len(self._store)
