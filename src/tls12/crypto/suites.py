"""The cipher suite table: what each suite needs from the PRF and the record layer."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from ..enums import CipherSuite

__all__ = ["SUITES", "SuiteSpec"]


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """One row of the table (RFC 5246 §6.3, RFC 5288 §3, RFC 5289 §3.2)."""

    suite: CipherSuite
    openssl_name: str
    prf_hash: hashes.HashAlgorithm
    key_len: int  # enc_key_length
    fixed_iv_len: int  # the implicit salt of RFC 5288
    verify_data_len: int = 12

    @property
    def key_block_len(self) -> int:
        # No MAC keys for AEAD suites: client key, server key, client salt, server salt.
        return 2 * (self.key_len + self.fixed_iv_len)

    @property
    def bits(self) -> int:
        return self.key_len * 8


SUITES: dict[CipherSuite, SuiteSpec] = {
    CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: SuiteSpec(
        suite=CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        openssl_name="ECDHE-RSA-AES256-GCM-SHA384",
        prf_hash=hashes.SHA384(),
        key_len=32,
        fixed_iv_len=4,
    ),
}
