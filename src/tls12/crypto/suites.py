"""The cipher suite table: one row per suite, everything the protocol needs to know about it.

A suite names four things (RFC 5246 §A.5, RFC 5288 §3, RFC 5289 §3.2, RFC 7905 §2):

- the key exchange (ECDHE, DHE or the server's RSA key),
- what the server's certificate must do for it (sign with RSA, sign with ECDSA or
  Ed25519 (RFC 8422 §5.1.3), or decrypt with RSA),
- the record AEAD and its nonce rule: AES-GCM takes a 4-byte implicit salt and an
  8-byte explicit nonce sent in each record (RFC 5288 §3); ChaCha20-Poly1305 takes a
  12-byte implicit IV XORed with the sequence number and sends no nonce (RFC 7905 §2),
- the PRF hash (SHA-256 unless the suite says SHA-384).

A new suite is a new row; the handshake states and the record layer read the row and
never branch on the suite itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cryptography.hazmat.primitives import hashes

from ..enums import CipherSuite

__all__ = ["SUITES", "AEADKind", "Authentication", "KeyExchange", "SuiteSpec"]


class KeyExchange(Enum):
    ECDHE = "ECDHE"  # RFC 8422
    DHE = "DHE"  # RFC 5246 §7.4.3, groups by RFC 7919
    RSA = "RSA"  # RFC 5246 §7.4.7.1: the premaster encrypted to the server's key


class Authentication(Enum):
    """What a suite asks of the server's key."""

    RSA_SIGNATURE = "an RSA key that signs"  # ECDHE_RSA, DHE_RSA
    ECDSA_SIGNATURE = "an ECDSA or Ed25519 key that signs"  # ECDHE_ECDSA (RFC 8422 §5.1.3 adds Ed25519)
    RSA_DECRYPTION = "an RSA key that decrypts"  # static RSA key exchange


class AEADKind(Enum):
    AES_GCM = "AES-GCM"  # RFC 5288: salt(4) ‖ explicit(8), the explicit part sent in each record
    CHACHA20_POLY1305 = "ChaCha20-Poly1305"  # RFC 7905: iv(12) XOR seq, nothing sent


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """One row of the table."""

    suite: CipherSuite
    openssl_name: str
    key_exchange: KeyExchange
    authentication: Authentication
    aead: AEADKind
    prf_hash: hashes.HashAlgorithm
    key_len: int  # enc_key_length
    fixed_iv_len: int  # the implicit part of the nonce, from the key block
    record_iv_len: int  # the explicit nonce carried in each record (0: none)
    tag_len: int = 16
    verify_data_len: int = 12

    @property
    def key_block_len(self) -> int:
        # No MAC keys for AEAD suites: client key, server key, client IV, server IV.
        return 2 * (self.key_len + self.fixed_iv_len)

    @property
    def record_overhead(self) -> int:
        """Bytes a protected record carries beyond its plaintext."""
        return self.record_iv_len + self.tag_len

    @property
    def bits(self) -> int:
        return self.key_len * 8


def _row(suite: CipherSuite, openssl_name: str, aead: AEADKind, key_len: int) -> SuiteSpec:
    """A row whose key exchange, authentication and PRF hash follow from the suite's IANA name."""
    name = suite.name
    kx = (KeyExchange.ECDHE if name.startswith("TLS_ECDHE_")
          else KeyExchange.DHE if name.startswith("TLS_DHE_") else KeyExchange.RSA)
    auth = (Authentication.ECDSA_SIGNATURE if "_ECDSA_" in name
            else Authentication.RSA_DECRYPTION if kx is KeyExchange.RSA else Authentication.RSA_SIGNATURE)
    gcm = aead is AEADKind.AES_GCM
    return SuiteSpec(
        suite=suite,
        openssl_name=openssl_name,
        key_exchange=kx,
        authentication=auth,
        aead=aead,
        prf_hash=hashes.SHA384() if name.endswith("_SHA384") else hashes.SHA256(),
        key_len=key_len,
        fixed_iv_len=4 if gcm else 12,
        record_iv_len=8 if gcm else 0,
    )


_S, _GCM, _CHACHA = CipherSuite, AEADKind.AES_GCM, AEADKind.CHACHA20_POLY1305

#: Every suite tls12 speaks, in Mozilla's "intermediate" TLS 1.2 order (ECDSA before RSA,
#: AES-128 before AES-256 before ChaCha20 within each; DHE after ECDHE; static RSA last).
SUITES: dict[CipherSuite, SuiteSpec] = {spec.suite: spec for spec in (
    _row(_S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", _GCM, 16),
    _row(_S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", _GCM, 16),
    _row(_S.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", _GCM, 32),
    _row(_S.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", _GCM, 32),
    _row(_S.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", _CHACHA, 32),
    _row(_S.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", _CHACHA, 32),
    _row(_S.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, "DHE-RSA-AES128-GCM-SHA256", _GCM, 16),
    _row(_S.TLS_DHE_RSA_WITH_AES_256_GCM_SHA384, "DHE-RSA-AES256-GCM-SHA384", _GCM, 32),
    _row(_S.TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "DHE-RSA-CHACHA20-POLY1305", _CHACHA, 32),
    _row(_S.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", _GCM, 16),
    _row(_S.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", _GCM, 32),
)}
