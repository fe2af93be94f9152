"""The TLS 1.2 PRF and everything derived with it.

RFC 5246 §5 defines PRF(secret, label, seed) = P_<hash>(secret, label ‖ seed)
with P_hash(secret, seed) = HMAC(secret, A(1) ‖ seed) ‖ HMAC(secret, A(2) ‖ seed) ‖ …
and A(i) = HMAC(secret, A(i-1)), A(0) = seed. The HMAC is keyed once per
secret and copied for each block.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

__all__ = [
    "extended_master_secret",
    "key_block",
    "master_secret",
    "prf",
    "verify_data",
]

MASTER_SECRET_LEN = 48


def prf(secret: bytes, label: bytes, seed: bytes, length: int, algorithm: hashes.HashAlgorithm) -> bytes:
    keyed = hmac.HMAC(secret, algorithm)
    seed = label + seed
    out = bytearray()
    a = seed
    while len(out) < length:
        step = keyed.copy()
        step.update(a)
        a = step.finalize()
        block = keyed.copy()
        block.update(a)
        block.update(seed)
        out += block.finalize()
    return bytes(out[:length])


def master_secret(
    pre_master_secret: bytes, client_random: bytes, server_random: bytes, algorithm: hashes.HashAlgorithm
) -> bytes:
    """RFC 5246 §8.1."""
    return prf(pre_master_secret, b"master secret", client_random + server_random, MASTER_SECRET_LEN, algorithm)


def extended_master_secret(pre_master_secret: bytes, session_hash: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    """RFC 7627 §4: the seed is the hash of the handshake up to and including ClientKeyExchange."""
    return prf(pre_master_secret, b"extended master secret", session_hash, MASTER_SECRET_LEN, algorithm)


def key_block(
    master: bytes, client_random: bytes, server_random: bytes, length: int, algorithm: hashes.HashAlgorithm
) -> bytes:
    """RFC 5246 §6.3: note the seed order, server random first."""
    return prf(master, b"key expansion", server_random + client_random, length, algorithm)


def verify_data(
    master: bytes, label: bytes, handshake_hash: bytes, length: int, algorithm: hashes.HashAlgorithm
) -> bytes:
    """RFC 5246 §7.4.9: label is b"client finished" or b"server finished"."""
    return prf(master, label, handshake_hash, length, algorithm)
