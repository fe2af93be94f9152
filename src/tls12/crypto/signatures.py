"""Signatures by TLS SignatureScheme (RFC 5246 §7.4.1.4.1, code points and meanings from RFC 8446 §4.2.3).

- rsa_pkcs1_*: RSASSA-PKCS1-v1_5 with an RSA (rsaEncryption) key.
- rsa_pss_rsae_*: RSASSA-PSS, MGF1 over the same hash, a salt as long as the
  hash, with an rsaEncryption key; rsa_pss_pss_*: the same signature made by an
  RSASSA-PSS key (a certificate whose key is id-RSASSA-PSS, RFC 4055). A
  cryptography key object does not say which of the two it is, nor carry the
  restrictions an RSASSA-PSS key may have (RFC 4055 §3.1: a hash, an MGF1 hash,
  a minimum salt length), so callers pass `rsa_pss=RSAPSSKey(...)` for such a
  key, read from its certificate by `rsa_pss_key(certificate)`. A restricted
  key makes only the rsa_pss_pss_* scheme its parameters allow (RFC 8446
  §4.2.3: MGF1 with the scheme's hash, a salt as long as the hash).
- ecdsa_*: in TLS 1.2 the scheme names the hash only; "the old semantics did
  not constrain the signing curve" (RFC 8446 §4.2.3), so a P-384 key may sign
  with ecdsa_secp256r1_sha256 and verify() accepts it. Whether the key's curve is
  one the client offered (RFC 8422 §5.1, §5.3) is the handshake's check, not this
  module's. OpenSSL does the same: it checks the curve against the scheme only
  for TLS 1.3 and Suite B, and in TLS 1.2 only that the curve is in the client's
  supported groups. `schemes_for` lists the curve's own scheme first, so a peer
  applying TLS 1.3's stricter rule is served too.
- ed25519: PureEdDSA over the data itself (RFC 8422 §5.1.3, RFC 8032).

ECDSA signatures are made with RFC 6979 deterministic nonces; PKCS#1 v1.5 and
Ed25519 are deterministic by construction; RSA-PSS signatures take a random salt.

Failures: a signature that does not verify is decrypt_error; a scheme that
does not fit the key (an ECDSA scheme with an RSA certificate, rsa_pss_pss_*
with an rsaEncryption key or one its PSS parameters forbid, an ECDSA key on a
curve other than P-256, P-384 and P-521, an unknown scheme) is
illegal_parameter: RFC 5246 §7.4.3 requires the signature algorithm to be
compatible with the certificate's key, and a value that is well-formed but
unacceptable is illegal_parameter (OpenSSL sends the same for this case).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import PublicKeyAlgorithmOID

from ..enums import SignatureScheme
from ..errors import BadCertificate, DecryptError, IllegalParameter, InternalError
from . import der

__all__ = [
    "ECDSA_SCHEMES",
    "RSA_PSS_PSS_SCHEMES",
    "RSA_SCHEMES",
    "SCHEMES",
    "PrivateKey",
    "PublicKey",
    "RSAPSSKey",
    "is_rsa_pss_certificate",
    "rsa_pss_key",
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

_ECDSA_CURVES = frozenset(curve for _, curve in _ECDSA.values())

# An rsaEncryption key's schemes in preference order (also the configuration's default today).
RSA_SCHEMES: tuple[SignatureScheme, ...] = (*_PSS_RSAE, *_PKCS1)
RSA_PSS_PSS_SCHEMES: tuple[SignatureScheme, ...] = tuple(_PSS_PSS)
ECDSA_SCHEMES: tuple[SignatureScheme, ...] = tuple(_ECDSA)
# Every scheme this module signs and verifies, in the order tls12 prefers them.
SCHEMES: tuple[SignatureScheme, ...] = (*ECDSA_SCHEMES, _S.ED25519, *RSA_SCHEMES, *RSA_PSS_PSS_SCHEMES)

_HASHES: dict[SignatureScheme, hashes.HashAlgorithm] = {**_PSS_RSAE, **_PKCS1, **_PSS_PSS}


@dataclass(frozen=True, slots=True)
class RSAPSSKey:
    """An RSASSA-PSS key's restrictions (RFC 4055 §3.1); the defaults mean a key without parameters.

    `hash` and `mgf1_hash` are names ("sha256", ...; "sha1" is RFC 4055's default when the
    parameters are present but leave them out), `min_salt` the minimum salt length in bytes."""

    hash: str | None = None
    mgf1_hash: str | None = None
    min_salt: int = 0

    def allows(self, scheme: SignatureScheme) -> bool:
        algorithm = _PSS_PSS.get(scheme)
        if algorithm is None:
            return False
        if self.hash is None:
            return True
        return self.hash == self.mgf1_hash == algorithm.name and self.min_salt <= algorithm.digest_size


def is_rsa_pss_certificate(certificate: x509.Certificate) -> bool:
    """Whether the certificate's key is an RSASSA-PSS key (id-RSASSA-PSS, RFC 4055), not rsaEncryption."""
    return certificate.public_key_algorithm_oid == PublicKeyAlgorithmOID.RSASSA_PSS


# DER encodings of the object identifiers RSASSA-PSS-params name (RFC 4055 §2.1, §3.1; RFC 8017 App. B.2.1).
_HASH_OIDS: dict[bytes, str] = {
    bytes.fromhex("06052b0e03021a"): "sha1",
    bytes.fromhex("0609608648016503040201"): "sha256",
    bytes.fromhex("0609608648016503040202"): "sha384",
    bytes.fromhex("0609608648016503040203"): "sha512",
}
_MGF1_OID = bytes.fromhex("06092a864886f70d010108")


def _hash_name(algorithm_identifier: bytes) -> str:
    return _HASH_OIDS.get(der.children(algorithm_identifier)[0], "unknown")


def rsa_pss_key(certificate: x509.Certificate) -> RSAPSSKey | None:
    """The restrictions of the certificate's RSASSA-PSS key; None if its key is not an RSASSA-PSS key.

    Read from the certificate's SubjectPublicKeyInfo, which cryptography parses but does not expose.
    A malformed certificate is a bad_certificate: the caller has already parsed it, so that is not expected."""
    if not is_rsa_pss_certificate(certificate):
        return None
    try:
        tbs = der.children(certificate.tbs_certificate_bytes)
        algorithm = der.children(der.children(tbs[der.spki_index(tbs)])[0])
        if len(algorithm) < 2:
            return RSAPSSKey()  # parameters absent: no restriction (RFC 4055 §1.2)
        key = RSAPSSKey(hash="sha1", mgf1_hash="sha1", min_salt=20)  # RFC 4055 §3.1 defaults
        for field in der.children(algorithm[1]):
            (inner,) = der.children(field)  # every field is EXPLICIT tagged
            if field[0] == 0xA0:
                key = RSAPSSKey(_hash_name(inner), key.mgf1_hash, key.min_salt)
            elif field[0] == 0xA1:
                mgf = der.children(inner)
                mgf1_hash = _hash_name(mgf[1]) if mgf[0] == _MGF1_OID and len(mgf) > 1 else "unknown"
                key = RSAPSSKey(key.hash, mgf1_hash, key.min_salt)
            elif field[0] == 0xA2:
                key = RSAPSSKey(key.hash, key.mgf1_hash, int.from_bytes(der.contents(inner), "big"))
        return key
    except (ValueError, IndexError):
        raise BadCertificate("the RSASSA-PSS key parameters could not be read") from None


def usable_with(key_size: int, scheme: SignatureScheme) -> bool:
    """Whether an RSA key of `key_size` bits can make this signature (PSS needs room for two hashes)."""
    if scheme in _PSS_RSAE or scheme in _PSS_PSS:
        return (key_size + 7) // 8 >= 2 * _HASHES[scheme].digest_size + 2
    return scheme in _PKCS1


def schemes_for(key: PrivateKey | PublicKey, *, rsa_pss: RSAPSSKey | None = None) -> tuple[SignatureScheme, ...]:
    """The schemes this key can make (or check), best first. `rsa_pss`: the key is an RSASSA-PSS key.

    An ECDSA key lists its curve's own scheme first (see the module docstring); a key on a curve
    tls12 does not speak (anything but P-256, P-384, P-521) has none."""
    fitting = tuple(scheme for scheme in SCHEMES if _fits(key, scheme, rsa_pss))
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return tuple(scheme for scheme in fitting if usable_with(key.key_size, scheme))
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        own = tuple(scheme for scheme in fitting if _ECDSA[scheme][1] == key.curve.name)
        return own + tuple(scheme for scheme in fitting if scheme not in own)
    return fitting


def _fits(key: PrivateKey | PublicKey, scheme: SignatureScheme, rsa_pss: RSAPSSKey | None) -> bool:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return scheme in RSA_SCHEMES if rsa_pss is None else rsa_pss.allows(scheme)
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return scheme in _ECDSA and key.curve.name in _ECDSA_CURVES
    return isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) and scheme == _S.ED25519


def _rsa_padding(scheme: SignatureScheme) -> tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]:
    algorithm = _HASHES[scheme]
    if scheme in _PKCS1:
        return padding.PKCS1v15(), algorithm
    return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size), algorithm


# Each scheme's padding and ECDSA parameters, made once rather than for every signature (they are
# immutable values; 1 µs per signature made or checked).
_RSA_PADDINGS = {scheme: _rsa_padding(scheme) for scheme in _HASHES}
_ECDSA_SIGNING = {scheme: ec.ECDSA(algorithm, deterministic_signing=True) for scheme, (algorithm, _) in _ECDSA.items()}
_ECDSA_VERIFYING = {scheme: ec.ECDSA(algorithm) for scheme, (algorithm, _) in _ECDSA.items()}


def sign(key: PrivateKey, scheme: SignatureScheme, data: bytes, *, rsa_pss: RSAPSSKey | None = None) -> bytes:
    """`data` signed with `scheme`; a scheme the key cannot make is our own mistake (internal_error)."""
    if not _fits(key, scheme, rsa_pss):
        raise InternalError(f"a {type(key).__name__} cannot sign with {scheme.name.lower()}")
    if isinstance(key, rsa.RSAPrivateKey):
        pad, algorithm = _RSA_PADDINGS[scheme]
        return key.sign(data, pad, algorithm)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # RFC 6979 deterministic nonces: no dependence on the RNG at signing time, and a signature a
        # deterministic test (golden transcripts) can reproduce. Verifiers cannot tell the difference.
        return key.sign(data, _ECDSA_SIGNING[scheme])
    return key.sign(data)


def verify(
    key: PublicKey, scheme: SignatureScheme, signature: bytes, data: bytes, *, rsa_pss: RSAPSSKey | None = None
) -> None:
    """Return if `signature` is `scheme`'s signature of `data` by `key`; raise otherwise (see the docstring)."""
    if not _fits(key, scheme, rsa_pss):
        raise IllegalParameter(f"{scheme.name.lower()} does not fit the certificate's {type(key).__name__}")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pad, algorithm = _RSA_PADDINGS[scheme]
            key.verify(signature, data, pad, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, _ECDSA_VERIFYING[scheme])
        else:
            key.verify(signature, data)
    except (InvalidSignature, ValueError):
        raise DecryptError(f"{scheme.name.lower()} signature does not verify") from None
