"""Where randomness, ephemeral keys and the clock come from.

Production code uses `DefaultProvider` (the OS CSPRNG and fresh keys from
`cryptography`). Tests, golden transcripts and fuzzers use
`DeterministicProvider`, which derives everything from a seed so a whole
handshake is reproducible byte for byte.
"""

from __future__ import annotations

import datetime
import os
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from ..enums import NamedGroup
from .dhe import DHEKey, FFDHEGroup
from .kx import EphemeralKey, curve_for

__all__ = ["DefaultProvider", "DeterministicProvider", "Provider"]


class Provider(Protocol):
    def random(self, n: int) -> bytes: ...

    def ephemeral_key(self, group: NamedGroup) -> EphemeralKey: ...

    def dhe_key(self, group: FFDHEGroup) -> DHEKey: ...

    def now(self) -> datetime.datetime: ...


class DefaultProvider:
    def random(self, n: int) -> bytes:
        return os.urandom(n)

    def ephemeral_key(self, group: NamedGroup) -> EphemeralKey:
        return EphemeralKey.generate(group)

    def dhe_key(self, group: FFDHEGroup) -> DHEKey:
        return DHEKey.generate(group)

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def __repr__(self) -> str:
        return "DefaultProvider()"


class DeterministicProvider:
    """Reproducible output from a seed. Never use it outside tests."""

    def __init__(self, seed: bytes = b"tls12", now: datetime.datetime | None = None) -> None:
        self._seed = seed
        self._counter = 0
        self._now = now or datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    def _block(self, algorithm: hashes.HashAlgorithm) -> bytes:
        h = hashes.Hash(algorithm)
        h.update(self._seed)
        h.update(self._counter.to_bytes(8, "big"))
        self._counter += 1
        return h.finalize()

    def random(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += self._block(hashes.SHA256())
        return out[:n]

    def ephemeral_key(self, group: NamedGroup) -> EphemeralKey:
        if group == NamedGroup.X25519:
            return EphemeralKey(group, x25519.X25519PrivateKey.from_private_bytes(self.random(32)))
        if group == NamedGroup.X448:
            return EphemeralKey(group, x448.X448PrivateKey.from_private_bytes(self.random(56)))
        curve = curve_for(group)
        # The scalar is one digest: SHA-256 for P-256, SHA-384 for P-384 (as before: golden
        # transcripts depend on them), SHA-512 for P-521. Dropping the top bit keeps it below
        # the group order.
        algorithm: hashes.HashAlgorithm = hashes.SHA256()
        if curve.key_size > 384:
            algorithm = hashes.SHA512()
        elif curve.key_size > 256:
            algorithm = hashes.SHA384()
        scalar = (int.from_bytes(self._block(algorithm), "big") >> 1) or 1
        return EphemeralKey(group, ec.derive_private_key(scalar, curve))

    def dhe_key(self, group: FFDHEGroup) -> DHEKey:
        # A 512-bit exponent: above RFC 7919 §5.2's minimum for every group here, below q.
        x = int.from_bytes(self._block(hashes.SHA512()), "big") | (1 << 511)
        return DHEKey.from_exponent(group, x)

    def now(self) -> datetime.datetime:
        return self._now
