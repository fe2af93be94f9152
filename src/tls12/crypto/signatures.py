"""RSA signatures by TLS SignatureScheme (RFC 8446 §4.2.3, used by TLS 1.2 via RFC 5246 §7.4.1.4.1).

rsa_pss_rsae_*: RSASSA-PSS with MGF1 over the same hash and a salt as long
as the hash; rsa_pkcs1_*: RSASSA-PKCS1-v1_5. A bad signature is decrypt_error.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..enums import SignatureScheme
from ..errors import DecryptError

__all__ = ["RSA_SCHEMES", "sign", "usable_with", "verify"]

_HASHES: dict[SignatureScheme, hashes.HashAlgorithm] = {
    SignatureScheme.RSA_PSS_RSAE_SHA256: hashes.SHA256(),
    SignatureScheme.RSA_PSS_RSAE_SHA384: hashes.SHA384(),
    SignatureScheme.RSA_PSS_RSAE_SHA512: hashes.SHA512(),
    SignatureScheme.RSA_PKCS1_SHA256: hashes.SHA256(),
    SignatureScheme.RSA_PKCS1_SHA384: hashes.SHA384(),
    SignatureScheme.RSA_PKCS1_SHA512: hashes.SHA512(),
}

RSA_SCHEMES: tuple[SignatureScheme, ...] = tuple(_HASHES)


def _padding(scheme: SignatureScheme) -> tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]:
    algorithm = _HASHES[scheme]
    if scheme in (
        SignatureScheme.RSA_PSS_RSAE_SHA256,
        SignatureScheme.RSA_PSS_RSAE_SHA384,
        SignatureScheme.RSA_PSS_RSAE_SHA512,
    ):
        return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size), algorithm
    return padding.PKCS1v15(), algorithm


def usable_with(key_size: int, scheme: SignatureScheme) -> bool:
    """Whether an RSA key of `key_size` bits can make this signature (PSS needs room for two hashes)."""
    pad, algorithm = _padding(scheme)
    if isinstance(pad, padding.PSS):
        return (key_size + 7) // 8 >= 2 * algorithm.digest_size + 2
    return True


def sign(key: rsa.RSAPrivateKey, scheme: SignatureScheme, data: bytes) -> bytes:
    pad, algorithm = _padding(scheme)
    return key.sign(data, pad, algorithm)


def verify(key: rsa.RSAPublicKey, scheme: SignatureScheme, signature: bytes, data: bytes) -> None:
    pad, algorithm = _padding(scheme)
    try:
        key.verify(signature, data, pad, algorithm)
    except (InvalidSignature, ValueError):
        raise DecryptError(f"{scheme.name.lower()} signature does not verify") from None
