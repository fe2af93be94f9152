"""Throwaway certificates for demos and tests: a CA and the certificates it issues.

Never use these for anything real: the keys live in memory and the CA signs
whatever it is asked to.

Key types (`KeyType`, or its value): "rsa" (RSA-2048, the default), "ecdsa"
(P-256; also "ecdsa-p256", "ecdsa-p384", "ecdsa-p521"), "ed25519", and
"rsa-pss" (an RSA key whose certificate carries the id-RSASSA-PSS algorithm of
RFC 4055, for the rsa_pss_pss_* schemes). A CA signs with its own key: RSA with
PKCS#1 v1.5 and SHA-256, RSA-PSS with PSS and SHA-256, ECDSA with its curve's
hash, Ed25519 as Ed25519. `CertificateAuthority.intermediate()` makes a chain
such as Let's Encrypt's: an ECDSA leaf under an ECDSA intermediate under an RSA root.

`cryptography` cannot write an id-RSASSA-PSS public key, so for "rsa-pss" the
CA writes the certificate as for RSA, puts the RSASSA-PSS algorithm identifier
(without parameters: any PSS hash) in its SubjectPublicKeyInfo, and signs the
result again; `IssuedCertificate.key_pem()` writes the PKCS#8 key the same way.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, overload

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .crypto import der
from .crypto.credentials import Credential, KeyType, PrivateKey, key_type_of_key

__all__ = ["CertificateAuthority", "IssuedCertificate", "KeyType", "generate_key"]

_ONE_DAY = datetime.timedelta(days=1)
_CURVES: dict[KeyType, ec.EllipticCurve] = {
    KeyType.ECDSA_P256: ec.SECP256R1(),
    KeyType.ECDSA_P384: ec.SECP384R1(),
    KeyType.ECDSA_P521: ec.SECP521R1(),
}
_CURVE_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512,
}
# RFC 4055 §3.1: rsaEncryption (with its NULL parameters) and id-RSASSA-PSS without parameters.
_RSA_ENCRYPTION = bytes.fromhex("300d06092a864886f70d0101010500")
_RSASSA_PSS = bytes.fromhex("300b06092a864886f70d01010a")
_PSS_SHA256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)

Key_co = TypeVar("Key_co", bound=PrivateKey, covariant=True)


def generate_key(key_type: KeyType | str = KeyType.RSA, *, key_size: int = 2048) -> PrivateKey:
    """A fresh private key of `key_type` (`key_size` is for RSA keys)."""
    kind = KeyType(key_type)
    if kind in (KeyType.RSA, KeyType.RSA_PSS):
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    if kind is KeyType.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(_CURVES[kind])


def _key_type(key_type: KeyType | str | None, private_key: PrivateKey | None) -> KeyType:
    if private_key is None:
        return KeyType(key_type) if key_type is not None else KeyType.RSA
    natural = key_type_of_key(private_key)
    wanted = KeyType(key_type) if key_type is not None else natural
    if wanted is not natural and {wanted, natural} != {KeyType.RSA, KeyType.RSA_PSS}:
        raise ValueError(f"key_type {wanted} does not match the {natural} private key")
    return wanted


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tls12 throwaway"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _san(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _key_usage(*, sign: bool = True, encipher: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=encipher,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )


def _with_pss_algorithm(element: bytes, index: int) -> bytes:
    """`element` (a SEQUENCE) with its child at `index`, rsaEncryption, made id-RSASSA-PSS."""
    parts = der.children(element)
    if parts[index] != _RSA_ENCRYPTION:
        raise ValueError("expected an rsaEncryption algorithm identifier")
    parts[index] = _RSASSA_PSS
    return der.encode(der.SEQUENCE, b"".join(parts))


def _pss_public_key(tbs: bytes) -> bytes:
    """A TBSCertificate with its RSA SubjectPublicKeyInfo marked id-RSASSA-PSS."""
    parts = der.children(tbs)
    spki = der.spki_index(parts)
    parts[spki] = _with_pss_algorithm(parts[spki], 0)
    return der.encode(der.SEQUENCE, b"".join(parts))


@dataclass(frozen=True)
class IssuedCertificate(Generic[Key_co]):
    certificate: x509.Certificate
    private_key: Key_co
    chain: tuple[x509.Certificate, ...]  # leaf first, without the root
    key_type: KeyType = KeyType.RSA

    def cert_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def credential(self) -> Credential:
        """This chain and key as a server's (or client's) credential."""
        return Credential.from_chain(self.chain, self.private_key)

    def key_pem(self) -> bytes:
        """The key as PKCS#8 PEM (for "rsa-pss", with the id-RSASSA-PSS algorithm, as OpenSSL writes it)."""
        if self.key_type is not KeyType.RSA_PSS:
            return self.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        info = self.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # PrivateKeyInfo: version, privateKeyAlgorithm, privateKey (RFC 5208 §5).
        return _pem("PRIVATE KEY", _with_pss_algorithm(info, 1))


def _pem(label: str, data: bytes) -> bytes:
    text = base64.b64encode(data).decode("ascii")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode("ascii")


class CertificateAuthority:
    """A CA that issues server and client certificates (Web PKI profile).

    A root by default; `intermediate()` makes a CA under this one, whose issued
    chains carry the intermediates up to (not including) the root."""

    def __init__(
        self,
        common_name: str = "tls12 throwaway CA",
        *,
        key_type: KeyType | str | None = None,
        key_size: int = 2048,
        now: datetime.datetime | None = None,
        private_key: PrivateKey | None = None,
        issuer: CertificateAuthority | None = None,
    ) -> None:
        self.now: datetime.datetime = now or (issuer.now if issuer is not None else datetime.datetime.now(datetime.UTC))
        self.key_type = _key_type(key_type, private_key)
        self.private_key: PrivateKey = private_key or generate_key(self.key_type, key_size=key_size)
        public = self.private_key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(issuer.certificate.subject if issuer is not None else _name(common_name))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - _ONE_DAY)
            .not_valid_after(self.now + 3650 * _ONE_DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()), critical=False
            )
        self.certificate: x509.Certificate = (issuer or self)._sign(builder, self.key_type)
        #: The CA certificates an issued chain carries after its leaf: this one and those above it, not the root.
        self.intermediates: tuple[x509.Certificate, ...] = (
            (self.certificate, *issuer.intermediates) if issuer is not None else ()
        )
        #: The root at the top of this CA's chain: the trust anchor for what it issues.
        self.root: x509.Certificate = issuer.root if issuer is not None else self.certificate

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def intermediate(
        self,
        common_name: str = "tls12 throwaway intermediate CA",
        *,
        key_type: KeyType | str | None = None,
        key_size: int = 2048,
        private_key: PrivateKey | None = None,
    ) -> CertificateAuthority:
        """A CA certified by this one (e.g. key_type="ecdsa" under an RSA root, as Let's Encrypt issues)."""
        return CertificateAuthority(common_name, key_type=key_type, key_size=key_size, private_key=private_key,
                                    issuer=self)

    @overload
    def issue(
        self,
        names: Sequence[str] = ...,
        *,
        key_type: Literal[KeyType.RSA, KeyType.RSA_PSS, "rsa", "rsa-pss"] | None = ...,
        key_size: int = ...,
        not_before: datetime.datetime | None = ...,
        not_after: datetime.datetime | None = ...,
        private_key: rsa.RSAPrivateKey | None = ...,
        client: bool = ...,
    ) -> IssuedCertificate[rsa.RSAPrivateKey]: ...

    @overload
    def issue(
        self,
        names: Sequence[str] = ...,
        *,
        key_type: KeyType | str | None = ...,
        key_size: int = ...,
        not_before: datetime.datetime | None = ...,
        not_after: datetime.datetime | None = ...,
        private_key: PrivateKey | None = ...,
        client: bool = ...,
    ) -> IssuedCertificate[PrivateKey]: ...

    def issue(
        self,
        names: Sequence[str] = ("localhost", "127.0.0.1"),
        *,
        key_type: KeyType | str | None = None,
        key_size: int = 2048,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        private_key: PrivateKey | None = None,
        client: bool = False,
    ) -> IssuedCertificate[PrivateKey]:
        """A certificate for `names` (DNS names or IP addresses): a server's (serverAuth),
        or with `client` a client's (clientAuth). Only an RSA server key may also encipher."""
        kind = _key_type(key_type, private_key)
        key = private_key or generate_key(kind, key_size=key_size)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.now - _ONE_DAY)
            .not_valid_after(not_after or self.now + 90 * _ONE_DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(encipher=kind is KeyType.RSA and not client), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(_san(names)), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key.public_key()), critical=False
            )
        )
        cert = self._sign(builder, kind)
        return IssuedCertificate(cert, key, (cert, *self.intermediates), kind)

    def _sign(self, builder: x509.CertificateBuilder, subject_key_type: KeyType) -> x509.Certificate:
        """Sign `builder` with this CA's key; for an RSA-PSS subject, mark its key id-RSASSA-PSS and sign again."""
        key = self.private_key
        pss = _PSS_SHA256 if self.key_type is KeyType.RSA_PSS else None
        algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None
        if isinstance(key, rsa.RSAPrivateKey):
            algorithm = hashes.SHA256()
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            algorithm = _CURVE_HASHES[key.curve.name]()
        cert = builder.sign(key, algorithm, rsa_padding=pss)
        if subject_key_type is not KeyType.RSA_PSS:
            return cert
        tbs = _pss_public_key(cert.tbs_certificate_bytes)
        if isinstance(key, rsa.RSAPrivateKey):
            assert algorithm is not None
            signature = key.sign(tbs, pss or padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            assert algorithm is not None
            signature = key.sign(tbs, ec.ECDSA(algorithm))
        else:
            signature = key.sign(tbs)
        # Certificate: tbsCertificate, signatureAlgorithm (unchanged), signatureValue (RFC 5280 §4.1).
        signature_algorithm = der.children(cert.public_bytes(serialization.Encoding.DER))[1]
        bit_string = der.encode(0x03, b"\x00" + signature)
        return x509.load_der_x509_certificate(der.encode(der.SEQUENCE, tbs + signature_algorithm + bit_string))
