"""RFC 5077 session tickets: a session sealed under a named key only the servers know.

    ticket = key_name (16) || nonce (12) || AES-256-GCM(key, nonce, session, aad=key_name)

RFC 5077 §4 recommends this shape (a key name, then authenticated encryption);
tls12 uses one AEAD instead of its AES-CBC + HMAC. The name travels in clear so
that a server knows which of its keys to try; a ticket under a name it does not
hold, too short, or whose tag fails is simply not opened (the handshake goes
full).

Keys come from a `TicketKeySource`, newest first: the first seals, every one
opens. `RotatingTicketKeys` derives them from one secret per time slot, so
every process given the same secret (the same file, or the same object across
fork) agrees without talking to the others.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "KEY_LEN",
    "NAME_LEN",
    "NONCE_LEN",
    "OVERHEAD",
    "RotatingTicketKeys",
    "TicketKey",
    "TicketKeySource",
    "open_ticket",
    "seal_ticket",
]

NAME_LEN = 16
KEY_LEN = 32
NONCE_LEN = 12
_TAG_LEN = 16
#: What sealing adds to the plaintext.
OVERHEAD = NAME_LEN + NONCE_LEN + _TAG_LEN
_INFO = b"tls12 ticket key"
#: A secret file holds 64 hex digits (and perhaps a newline); nothing longer is read.
_MAX_SECRET_FILE = 256


@dataclass(frozen=True, slots=True)
class TicketKey:
    name: bytes
    key: bytes = field(repr=False)
    #: The key's AES-256-GCM, made once with it: not again (1 µs) for every ticket it seals or opens.
    aead: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.name) != NAME_LEN:
            raise ValueError("a ticket key name is 16 bytes")
        if len(self.key) != KEY_LEN:
            raise ValueError("a ticket key is 32 bytes (AES-256-GCM)")
        object.__setattr__(self, "aead", AESGCM(self.key))


def seal_ticket(key: TicketKey, plaintext: bytes, nonce: bytes) -> bytes:
    """name || nonce || ciphertext and tag. `nonce`: 12 bytes, never repeated under one key (random
    ones are: a key seals for one rotation period only)."""
    if len(nonce) != NONCE_LEN:
        raise ValueError("a ticket nonce is 12 bytes")
    return key.name + nonce + key.aead.encrypt(nonce, plaintext, key.name)


def open_ticket(keys: Sequence[TicketKey], ticket: bytes) -> tuple[bytes, int] | None:
    """(the plaintext, the index in `keys` of the key that opened it); None if no key has the
    ticket's name, the ticket is too short, or its tag does not verify."""
    if len(ticket) < OVERHEAD:
        return None
    name = ticket[:NAME_LEN]
    for index, key in enumerate(keys):
        if key.name == name:
            nonce = ticket[NAME_LEN : NAME_LEN + NONCE_LEN]
            try:
                return key.aead.decrypt(nonce, ticket[NAME_LEN + NONCE_LEN :], name), index
            except InvalidTag:
                return None
    return None


def why_not_opened(keys: Sequence[TicketKey], ticket: bytes) -> str:
    """Why `open_ticket(keys, ticket)` gave None, in words (for traces; never sent to the peer)."""
    if len(ticket) < OVERHEAD:
        return f"shorter than any ticket of ours ({OVERHEAD} bytes at least)"
    if all(key.name != ticket[:NAME_LEN] for key in keys):
        return "sealed under a key name the server does not hold (rotated out, or another server's)"
    return "its authentication tag does not verify (tampered or truncated)"


class TicketKeySource(Protocol):
    def ticket_keys(self) -> tuple[TicketKey, ...]:
        """The keys now, newest first: [0] seals, every one opens."""
        ...


class RotatingTicketKeys:
    """Ticket keys derived per time slot from one secret: slot n = floor(clock() / rotation), its key
    HKDF-SHA256(secret, info=b"tls12 ticket key" || n as 8 signed big-endian bytes), 48 bytes:
    name (16), then AES-256 key (32). The current slot's key seals; it and the `keep` before it open,
    so a ticket stays openable for `rotation * keep` to `rotation * (keep + 1)` seconds."""

    __slots__ = ("_cache", "_clock", "_secret", "keep", "rotation")

    def __init__(self, secret: bytes | None = None, rotation: int = 3600, keep: int = 2,
                 clock: Callable[[], float] = time.time) -> None:
        if secret is None:
            secret = os.urandom(32)
        if len(secret) < 16:
            raise ValueError("a ticket key secret needs at least 16 bytes")
        if rotation < 1:
            raise ValueError("rotation must be at least one second")
        if keep < 0:
            raise ValueError("keep must not be negative")
        self._secret = bytes(secret)
        self.rotation = rotation
        self.keep = keep
        self._clock = clock
        self._cache: tuple[int, tuple[TicketKey, ...]] | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], rotation: int = 3600, keep: int = 2) -> RotatingTicketKeys:
        """The secret from a file of 64 hex digits (32 bytes), e.g. made with `openssl rand -hex 32`."""
        with open(path, "rb") as f:
            text = f.read(_MAX_SECRET_FILE + 1)
        digits = text.strip()
        if len(text) > _MAX_SECRET_FILE or len(digits) != 64:
            raise ValueError(f"{os.fspath(path)!r} must hold 64 hex digits (a 32-byte secret)")
        try:
            secret = bytes.fromhex(digits.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError(f"{os.fspath(path)!r} must hold 64 hex digits (a 32-byte secret)") from None
        return cls(secret, rotation, keep)

    def _derive(self, slot: int) -> TicketKey:
        block = HKDF(hashes.SHA256(), NAME_LEN + KEY_LEN, salt=None,
                     info=_INFO + slot.to_bytes(8, "big", signed=True)).derive(self._secret)
        return TicketKey(block[:NAME_LEN], block[NAME_LEN:])

    def ticket_keys(self) -> tuple[TicketKey, ...]:
        slot = int(self._clock() // self.rotation)
        cache = self._cache
        if cache is not None and cache[0] == slot:
            return cache[1]
        keys = tuple(self._derive(slot - i) for i in range(self.keep + 1))
        self._cache = (slot, keys)
        return keys

    def __repr__(self) -> str:
        return f"RotatingTicketKeys(rotation={self.rotation}, keep={self.keep})"
