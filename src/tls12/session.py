"""Sessions to resume (RFC 5246 §7.3, RFC 5077), and where a server keeps them.

A `Session` is one frozen value: the master secret and everything the handshake
that made it settled and that a resumption must not change (suite, extended
master secret, SNI name, ALPN choice, the peer's chain and the policy that
admitted it). `to_bytes()` is its one encoding, versioned and strict: what a
store holds and what a ticket seals. `from_bytes()` refuses anything else with
`DecodeError`, so a store or a ticket that went bad is a miss, never a crash.

    VERSION (1)                     u8
    session_id<0..32>               opaque, u8 length
    master_secret[48]
    cipher_suite                    u16, a suite tls12 speaks
    flags                           u8: bit 0 extended master secret, the rest zero
    server_name<0..255>             ASCII, u8 length (empty: none)
    alpn_protocol<0..255>           u8 length (empty: none)
    peer_chain_der                  three chains, each ASN.1Cert<1..2^24-1> list<0..2^24-1>
    verified_chain_der
    local_chain_der
    policy[32]
    created                         u64, unix seconds
    lifetime                        u32, seconds
    ticket<0..2^16-1>               u16 length
    ticket_lifetime_hint            u32

tls12 makes a session only when the extended master secret was used (RFC 7627
§5.3): the handshake code owns that rule; a Session itself may say either.

A `SessionStore` maps bytes to bytes with a time to live; the handshake treats
any exception from one as a miss. `MemorySessionStore` is the in-process one:
a bounded LRU with expiry, safe to share between threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from .codec import Reader, Writer
from .crypto.suites import SUITES
from .enums import CipherSuite
from .errors import DecodeError

__all__ = [
    "CLIENT_SESSION_LIFETIME",
    "MAX_CLIENT_SESSION_LIFETIME",
    "MemorySessionStore",
    "Resumption",
    "Session",
    "SessionStore",
]

#: The encoding's version byte; any other is refused.
VERSION = 1
MASTER_SECRET_LEN = 48
POLICY_LEN = 32
MAX_SESSION_ID = 32
MAX_NAME = 255
MAX_TICKET = 0xFFFF
_MAX_CHAIN = 0xFFFFFF
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_EMS = 0x01

#: How long a client keeps a session whose server gave no ticket lifetime hint (seconds): the
#: two hours OpenSSL gives a TLS 1.2 session.
CLIENT_SESSION_LIFETIME = 7200
#: The longest a client keeps a session, whatever the server's hint (a week, RFC 8446 §4.6.1's bound).
MAX_CLIENT_SESSION_LIFETIME = 7 * 24 * 3600


#: What became of a session offered for resumption, as one side saw it (`conn.resumption`): "none"
#: (none was offered), "resumed"; on a server, "unknown" (a session ID not in the store, a ticket
#: that did not open), "expired" (found, but past its lifetime) or "declined" (found, but it may
#: not be resumed here: another suite, name, ALPN choice or policy); on a client, "declined" (the
#: server answered with a full handshake). A client that finds its session no longer fits does not
#: offer it: "none".
Resumption = Literal["none", "resumed", "unknown", "expired", "declined"]


def _check_chain(chain: tuple[bytes, ...], what: str) -> None:
    if not all(isinstance(der, bytes) and 1 <= len(der) <= _MAX_CHAIN for der in chain):
        raise ValueError(f"{what}: each certificate is 1 to 2^24-1 bytes of DER")
    if sum(3 + len(der) for der in chain) > _MAX_CHAIN:
        raise ValueError(f"{what}: at most 2^24-1 bytes in all")


@dataclass(frozen=True, slots=True)
class Session:
    """A session to resume. On a server, the peer is the client; on a client, the server.

    `server_name`: on a server, the SNI name of the handshake that made it; on a client, the name
    the connection was for (its SNI name, or the IP address the certificate was checked against).
    `policy`: the fingerprint of the verification policy that admitted the peer
    (`ClientConfig.session_policy`, `ServerConfig.session_policy`). `created` and `lifetime`: unix
    seconds, by the configuration's clock. `ticket` and `ticket_lifetime_hint` are a client's: the
    RFC 5077 ticket to present, and the server's hint for it."""

    session_id: bytes
    master_secret: bytes
    cipher_suite: CipherSuite
    extended_master_secret: bool
    server_name: str | None
    alpn_protocol: bytes | None
    peer_chain_der: tuple[bytes, ...]
    verified_chain_der: tuple[bytes, ...]
    local_chain_der: tuple[bytes, ...]
    policy: bytes
    created: int
    lifetime: int
    ticket: bytes = b""
    ticket_lifetime_hint: int = 0

    def __post_init__(self) -> None:
        if len(self.session_id) > MAX_SESSION_ID:
            raise ValueError("session_id is at most 32 bytes")
        if len(self.master_secret) != MASTER_SECRET_LEN:
            raise ValueError("master_secret is 48 bytes")
        if len(self.policy) != POLICY_LEN:
            raise ValueError("policy is 32 bytes")
        if self.server_name is not None and not (
                0 < len(self.server_name) <= MAX_NAME and self.server_name.isascii()):
            raise ValueError("server_name is 1 to 255 ASCII characters")
        if self.alpn_protocol is not None and not 0 < len(self.alpn_protocol) <= MAX_NAME:
            raise ValueError("alpn_protocol is 1 to 255 bytes")
        for chain, what in ((self.peer_chain_der, "peer_chain_der"), (self.verified_chain_der, "verified_chain_der"),
                            (self.local_chain_der, "local_chain_der")):
            _check_chain(chain, what)
        if not 0 <= self.created <= _U64:
            raise ValueError("created is unix seconds, 0 to 2^64-1")
        if not 0 <= self.lifetime <= _U32 or not 0 <= self.ticket_lifetime_hint <= _U32:
            raise ValueError("lifetime and ticket_lifetime_hint are 0 to 2^32-1 seconds")
        if len(self.ticket) > MAX_TICKET:
            raise ValueError("ticket is at most 2^16-1 bytes (RFC 5077 §3.3)")

    def expired(self, now: float) -> bool:
        """True from `created + lifetime` on (`now`: unix seconds)."""
        return now >= self.created + self.lifetime

    def to_bytes(self) -> bytes:
        w = Writer()
        w.u8(VERSION)
        w.opaque(1, self.session_id, max=MAX_SESSION_ID)
        w.raw(self.master_secret)
        w.u16(self.cipher_suite)
        w.u8(_EMS if self.extended_master_secret else 0)
        w.opaque(1, b"" if self.server_name is None else self.server_name.encode("ascii"), max=MAX_NAME)
        w.opaque(1, self.alpn_protocol or b"", max=MAX_NAME)
        for chain in (self.peer_chain_der, self.verified_chain_der, self.local_chain_der):
            with w.prefixed(3, max=_MAX_CHAIN):
                for der in chain:
                    w.opaque(3, der, max=_MAX_CHAIN)
        w.raw(self.policy)
        w.u64(self.created)
        w.u32(self.lifetime)
        w.opaque(2, self.ticket, max=MAX_TICKET)
        w.u32(self.ticket_lifetime_hint)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Session:
        """The session `to_bytes()` wrote; anything else (another version, a length out of range,
        a flag or suite tls12 does not know, trailing data) raises `DecodeError`."""
        r = Reader(data)
        version = r.u8()
        if version != VERSION:
            raise DecodeError(f"session encoding version {version}, not {VERSION}")
        session_id = r.opaque(1, max=MAX_SESSION_ID, what="session_id")
        master_secret = r.take(MASTER_SECRET_LEN)
        suite = CipherSuite(r.u16())
        if suite not in SUITES:
            raise DecodeError(f"session of a cipher suite tls12 does not speak ({suite.name})")
        flags = r.u8()
        if flags & ~_EMS:
            raise DecodeError(f"session flags {flags:#04x}")
        name = r.opaque(1, max=MAX_NAME, what="server_name")
        if not name.isascii():
            raise DecodeError("session server_name is not ASCII")
        alpn = r.opaque(1, max=MAX_NAME, what="alpn_protocol")
        chains: list[tuple[bytes, ...]] = []
        for what in ("peer_chain_der", "verified_chain_der", "local_chain_der"):
            chain_r = r.vec(3, max=_MAX_CHAIN, what=what)
            chain: list[bytes] = []
            while chain_r.remaining:
                chain.append(chain_r.opaque(3, min=1, max=_MAX_CHAIN, what="ASN.1Cert"))
            chains.append(tuple(chain))
        policy = r.take(POLICY_LEN)
        created = r.u64()
        lifetime = r.u32()
        ticket = r.opaque(2, max=MAX_TICKET, what="ticket")
        hint = r.u32()
        r.done("session")
        try:
            return cls(session_id, master_secret, suite, bool(flags & _EMS), name.decode("ascii") or None,
                       alpn or None, chains[0], chains[1], chains[2], policy, created, lifetime, ticket, hint)
        except ValueError as exc:  # pragma: no cover - every bound is checked above
            raise DecodeError(f"session: {exc}") from None

    def __repr__(self) -> str:
        # Never the master secret or the ticket.
        return (f"Session(session_id={self.session_id.hex()!r}, cipher_suite={self.cipher_suite.name}, "
                f"server_name={self.server_name!r}, created={self.created}, lifetime={self.lifetime}, "
                f"ticket={len(self.ticket)} bytes)")


class SessionStore(Protocol):
    """Where a server keeps sessions by session ID. Values are `Session.to_bytes()`; `ttl` is in
    seconds. Any exception from a store is a miss for the handshake, never its failure."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes, ttl: int) -> None: ...

    def delete(self, key: bytes) -> None: ...


class MemorySessionStore:
    """An in-process `SessionStore`: the `max_entries` most recently used entries, each until its
    time to live runs out (by `clock`, unix seconds). Thread-safe. `evicted` counts the entries
    dropped to make room (the least recently used first)."""

    __slots__ = ("_clock", "_entries", "_lock", "evicted", "max_entries")

    def __init__(self, max_entries: int = 20_000, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.evicted = 0
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: bytes, value: bytes, ttl: int) -> None:
        with self._lock:
            if ttl <= 0:
                self._entries.pop(key, None)
                return
            self._entries[key] = (self._clock() + ttl, bytes(value))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evicted += 1

    def delete(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"MemorySessionStore(max_entries={self.max_entries})"
