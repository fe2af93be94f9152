"""Signatures by TLS SignatureScheme (RFC 5246 §7.4.1.4.1, code points and meanings from RFC 8446 §4.2.3).

- rsa_pkcs1_*: RSASSA-PKCS1-v1_5 with an RSA (rsaEncryption) key.
- rsa_pss_rsae_*: RSASSA-PSS, MGF1 over the same hash, a salt as long as the
  hash, with an rsaEncryption key; rsa_pss_pss_*: the same signature made by an
  RSASSA-PSS key (a certificate whose key is id-RSASSA-PSS, RFC 4055). A
  cryptography key object does not say which of the two it is, so callers say
  `rsa_pss=True` for an RSASSA-PSS key (see `is_rsa_pss_certificate`).
- ecdsa_*: in TLS 1.2 the scheme names the hash only; "the old semantics did
  not constrain the signing curve" (RFC 8446 §4.2.3), so a P-384 key may sign
  with ecdsa_secp256r1_sha256 and verify() accepts it. Whether the key's curve is
  one the client offered (RFC 8422 §5.1, §5.3) is the handshake's check, not this
  module's. OpenSSL does the same: it checks the curve against the scheme only
  for TLS 1.3 and Suite B, and in TLS 1.2 only that the curve is in the client's
  supported groups. `schemes_for` lists the curve's own scheme first, so a peer
  applying TLS 1.3's stricter rule is served too.
- ed25519: PureEdDSA over the data itself (RFC 8422 §5.1.3, RFC 8032).

Failures: a signature that does not verify is decrypt_error; a scheme that
does not fit the key's type (an ECDSA scheme with an RSA certificate,
rsa_pss_pss_* with an rsaEncryption key, an unknown scheme) is
illegal_parameter: RFC 5246 §7.4.3 requires the signature algorithm to be
compatible with the certificate's key, and a value that is well-formed but
unacceptable is illegal_parameter (OpenSSL sends the same for this case).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import PublicKeyAlgorithmOID

from ..enums import SignatureScheme
from ..errors import DecryptError, IllegalParameter, InternalError

__all__ = [
    "ECDSA_SCHEMES",
    "RSA_PSS_PSS_SCHEMES",
    "RSA_SCHEMES",
    "SCHEMES",
    "PrivateKey",
    "PublicKey",
    "is_rsa_pss_certificate",
    "schemes_for",
    "sign",
    "usable_with",
    "verify",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_S = SignatureScheme

_PSS_RSAE: dict[SignatureScheme, hashes.HashAlgorithm] = {
    _S.RSA_PSS_RSAE_SHA256: hashes.SHA256(),
    _S.RSA_PSS_RSAE_SHA384: hashes.SHA384(),
    _S.RSA_PSS_RSAE_SHA512: hashes.SHA512(),
}
_PKCS1: dict[SignatureScheme, hashes.HashAlgorithm] = {
    _S.RSA_PKCS1_SHA256: hashes.SHA256(),
    _S.RSA_PKCS1_SHA384: hashes.SHA384(),
    _S.RSA_PKCS1_SHA512: hashes.SHA512(),
}
_PSS_PSS: dict[SignatureScheme, hashes.HashAlgorithm] = {
    _S.RSA_PSS_PSS_SHA256: hashes.SHA256(),
    _S.RSA_PSS_PSS_SHA384: hashes.SHA384(),
    _S.RSA_PSS_PSS_SHA512: hashes.SHA512(),
}
# ECDSA scheme -> (hash, the curve it names: TLS 1.3's constraint, TLS 1.2's preference).
_ECDSA: dict[SignatureScheme, tuple[hashes.HashAlgorithm, str]] = {
    _S.ECDSA_SECP256R1_SHA256: (hashes.SHA256(), ec.SECP256R1.name),
    _S.ECDSA_SECP384R1_SHA384: (hashes.SHA384(), ec.SECP384R1.name),
    _S.ECDSA_SECP521R1_SHA512: (hashes.SHA512(), ec.SECP521R1.name),
}

# An rsaEncryption key's schemes in preference order (also the configuration's default today).
RSA_SCHEMES: tuple[SignatureScheme, ...] = (*_PSS_RSAE, *_PKCS1)
RSA_PSS_PSS_SCHEMES: tuple[SignatureScheme, ...] = tuple(_PSS_PSS)
ECDSA_SCHEMES: tuple[SignatureScheme, ...] = tuple(_ECDSA)
# Every scheme this module signs and verifies, in the order tls12 prefers them.
SCHEMES: tuple[SignatureScheme, ...] = (*ECDSA_SCHEMES, _S.ED25519, *RSA_SCHEMES, *RSA_PSS_PSS_SCHEMES)

_HASHES: dict[SignatureScheme, hashes.HashAlgorithm] = {**_PSS_RSAE, **_PKCS1, **_PSS_PSS}


def is_rsa_pss_certificate(certificate: x509.Certificate) -> bool:
    """Whether the certificate's key is an RSASSA-PSS key (id-RSASSA-PSS, RFC 4055), not rsaEncryption."""
    return certificate.public_key_algorithm_oid == PublicKeyAlgorithmOID.RSASSA_PSS


def usable_with(key_size: int, scheme: SignatureScheme) -> bool:
    """Whether an RSA key of `key_size` bits can make this signature (PSS needs room for two hashes)."""
    if scheme in _PSS_RSAE or scheme in _PSS_PSS:
        return (key_size + 7) // 8 >= 2 * _HASHES[scheme].digest_size + 2
    return scheme in _PKCS1


def schemes_for(key: PrivateKey | PublicKey, *, rsa_pss: bool = False) -> tuple[SignatureScheme, ...]:
    """The schemes this key can make (or check), best first. `rsa_pss`: the key is an RSASSA-PSS key."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        candidates = RSA_PSS_PSS_SCHEMES if rsa_pss else RSA_SCHEMES
        return tuple(scheme for scheme in candidates if usable_with(key.key_size, scheme))
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        own = tuple(scheme for scheme, (_, curve) in _ECDSA.items() if curve == key.curve.name)
        return own + tuple(scheme for scheme in ECDSA_SCHEMES if scheme not in own)
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return (_S.ED25519,)
    return ()


def _fits(key: PrivateKey | PublicKey, scheme: SignatureScheme, rsa_pss: bool) -> bool:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return scheme in (_PSS_PSS if rsa_pss else RSA_SCHEMES)
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return scheme in _ECDSA
    return isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) and scheme == _S.ED25519


def _rsa_padding(scheme: SignatureScheme) -> tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]:
    algorithm = _HASHES[scheme]
    if scheme in _PKCS1:
        return padding.PKCS1v15(), algorithm
    return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size), algorithm


def sign(key: PrivateKey, scheme: SignatureScheme, data: bytes, *, rsa_pss: bool = False) -> bytes:
    """`data` signed with `scheme`; a scheme the key cannot make is our own mistake (internal_error)."""
    if not _fits(key, scheme, rsa_pss):
        raise InternalError(f"a {type(key).__name__} cannot sign with {scheme.name.lower()}")
    if isinstance(key, rsa.RSAPrivateKey):
        pad, algorithm = _rsa_padding(scheme)
        return key.sign(data, pad, algorithm)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_ECDSA[scheme][0]))
    return key.sign(data)


def verify(
    key: PublicKey, scheme: SignatureScheme, signature: bytes, data: bytes, *, rsa_pss: bool = False
) -> None:
    """Return if `signature` is `scheme`'s signature of `data` by `key`; raise otherwise (see the docstring)."""
    if not _fits(key, scheme, rsa_pss):
        raise IllegalParameter(f"{scheme.name.lower()} does not fit the certificate's {type(key).__name__}")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pad, algorithm = _rsa_padding(scheme)
            key.verify(signature, data, pad, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(_ECDSA[scheme][0]))
        else:
            key.verify(signature, data)
    except (InvalidSignature, ValueError):
        raise DecryptError(f"{scheme.name.lower()} signature does not verify") from None
