"""Credentials: a certificate chain, its private key, and the signature schemes it can sign with.

A server holds several (an RSA and an ECDSA chain, an Ed25519 one, one per
name) and `choose_credential` picks one per handshake, the way nginx and
OpenSSL do:

1. Names. When the client sent SNI, the credentials whose leaf names it come
   first; the others are tried only if none of those can serve this client.
2. Suites. The candidate suites are walked in negotiation order (whoever's
   preference wins has already ordered them). A suite's authentication says
   which key it needs (RFC 5246 §7.4.2, RFC 8422 §2, RFC 8422 §5.1.3):
   ECDHE_RSA and DHE_RSA an RSA key that signs (rsaEncryption or RSASSA-PSS),
   ECDHE_ECDSA an ECDSA or Ed25519 key that signs, static RSA an rsaEncryption
   key that decrypts.
3. Signature schemes. The credential's own order, first one the client's
   signature_algorithms lists. A client without the extension means SHA-1
   (RFC 5246 §7.4.1.4.1), which tls12 never signs with (RFC 9155), so such a
   client can only be served a suite that signs nothing (static RSA).
4. Curves. An ECDSA key's curve must be one the client lists in
   supported_groups, when it sends the extension (RFC 8422 §5.1).

The first credential, suite and scheme that fit win; the choice carries the
reason the glass box shows, and a refusal says, per credential, what did not fit.

Which schemes a key signs with, and what an RSASSA-PSS key's parameters allow,
is crypto/signatures' fact (`schemes_for`, `rsa_pss_key`). Which key a suite
needs (`SUITE_AUTHENTICATION`) is a plain table handed to the code that uses
it: the suite table owns that fact once it covers every suite, and passes it in here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes, PrivateKeyTypes

from ..enums import CipherSuite, NamedGroup, SignatureScheme
from ..errors import HandshakeFailure, TLSError
from .signatures import PrivateKey, RSAPSSKey, is_rsa_pss_certificate, rsa_pss_key, schemes_for
from .suites import SUITES, Authentication
from .x509 import check_key_sizes

__all__ = [
    "SUITE_AUTHENTICATION",
    "Authentication",
    "Credential",
    "CredentialChoice",
    "KeyType",
    "PrivateKey",
    "choose_credential",
    "key_type_of",
    "key_type_of_key",
]


class KeyType(StrEnum):
    """What kind of key a certificate holds, as far as TLS 1.2 cares."""

    RSA = "rsa"  # rsaEncryption: signs (PSS or PKCS#1 v1.5) and decrypts
    RSA_PSS = "rsa-pss"  # id-RSASSA-PSS (RFC 4055): signs with PSS only
    ECDSA_P256 = "ecdsa-p256"
    ECDSA_P384 = "ecdsa-p384"
    ECDSA_P521 = "ecdsa-p521"
    ED25519 = "ed25519"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            lowered = value.lower()
            if lowered == "ecdsa":
                return cls.ECDSA_P256
            for member in cls:
                if member.value == lowered:
                    return member
        return None

    @property
    def group(self) -> NamedGroup | None:
        """The curve of an ECDSA key, as the supported_groups code point (RFC 8422 §5.1.1)."""
        return _CURVE_GROUPS.get(self)


_CURVE_GROUPS = {
    KeyType.ECDSA_P256: NamedGroup.SECP256R1,
    KeyType.ECDSA_P384: NamedGroup.SECP384R1,
    KeyType.ECDSA_P521: NamedGroup.SECP521R1,
}
_CURVE_KEY_TYPES = {
    "secp256r1": KeyType.ECDSA_P256,
    "secp384r1": KeyType.ECDSA_P384,
    "secp521r1": KeyType.ECDSA_P521,
}


#: Which key each suite needs, from the suite table (kept as a mapping the chooser may be handed).
SUITE_AUTHENTICATION: Mapping[CipherSuite, Authentication] = {
    suite: spec.authentication for suite, spec in SUITES.items()
}


def key_type_of(cert: x509.Certificate) -> KeyType:
    """The kind of key `cert` holds; ValueError for keys TLS 1.2 here cannot use."""
    # cryptography reads an id-RSASSA-PSS key as an RSA key; the OID tells them apart.
    return KeyType.RSA_PSS if is_rsa_pss_certificate(cert) else key_type_of_key(cert.public_key())


def key_type_of_key(key: PrivateKeyTypes | CertificatePublicKeyTypes) -> KeyType:
    """The kind of a bare key (an RSA key is rsaEncryption: only a certificate can say RSASSA-PSS);
    ValueError for keys TLS 1.2 here cannot use."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return KeyType.RSA
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        found = _CURVE_KEY_TYPES.get(key.curve.name)
        if found is None:
            raise ValueError(f"ECDSA keys on {key.curve.name} are not supported (P-256, P-384 and P-521 are)")
        return found
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return KeyType.ED25519
    raise ValueError(f"{type(key).__name__} keys are not supported (RSA, ECDSA and Ed25519 are)")


def _pss_restricted(
    schemes: tuple[SignatureScheme, ...], key: PrivateKey, rsa_pss: RSAPSSKey
) -> tuple[SignatureScheme, ...]:
    """`schemes` less those an RSASSA-PSS key's parameters forbid; ValueError if they allow none at all."""
    allowed = schemes_for(key, rsa_pss=rsa_pss)
    if not allowed:
        if schemes_for(key, rsa_pss=RSAPSSKey(rsa_pss.hash, rsa_pss.mgf1_hash)):  # only the salt is in the way
            raise ValueError(f"the RSA-PSS key requires a salt of {rsa_pss.min_salt} bytes; TLS uses the hash's length")
        raise ValueError("the RSA-PSS key's parameters allow no TLS signature scheme "
                         "(TLS needs SHA-256, SHA-384 or SHA-512 with MGF1 over the same hash)")
    return tuple(s for s in schemes if s in allowed)


def _names(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = [name.lower().rstrip(".") for name in san.get_values_for_type(x509.DNSName)]
    return (*dns, *(str(ip) for ip in san.get_values_for_type(x509.IPAddress)))


def _name_matches(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    # RFC 6125 §6.4.3: a wildcard is the whole left-most label and stands for exactly one label.
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:] and not _is_ip(name)
    return False


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _spki(key: Any) -> bytes:
    data: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


@dataclass(frozen=True)
class Credential:
    """A chain (leaf first) and the leaf's private key, validated once.

    Refused with ValueError: a key that is not the leaf's, an RSA key under
    2048 bits anywhere in the chain (crypto/x509's rule), a key TLS 1.2 cannot
    use, and a leaf whose keyUsage allows neither signing nor decryption.
    `signature_schemes` defaults to all the key can sign with, best first
    (crypto/signatures' `schemes_for`: an RSA-PSS key whose parameters name
    one hash keeps only that scheme)."""

    chain: Sequence[x509.Certificate]
    private_key: PrivateKey = field(compare=False, repr=False)
    signature_schemes: InitVar[Sequence[SignatureScheme] | None] = None
    #: What the key signs with, best first.
    schemes: tuple[SignatureScheme, ...] = field(init=False)
    chain_der: tuple[bytes, ...] = field(init=False, repr=False)
    key_type: KeyType = field(init=False)
    #: RFC 5280 §4.2.1.3 keyUsage (absent: any use): digitalSignature, needed to sign
    #: (EC)DHE parameters, and keyEncipherment, needed to decrypt a static-RSA premaster.
    digital_signature: bool = field(init=False)
    key_encipherment: bool = field(init=False)
    #: The leaf's subjectAltName DNS names (lowercase) and IP addresses.
    names: tuple[str, ...] = field(init=False)
    #: An RSASSA-PSS leaf key's parameters (None for any other key): what `signatures.sign` needs.
    rsa_pss: RSAPSSKey | None = field(init=False, repr=False)

    def __post_init__(self, signature_schemes: Sequence[SignatureScheme] | None) -> None:
        set_ = object.__setattr__
        chain = tuple(self.chain)
        if not chain or not all(isinstance(c, x509.Certificate) for c in chain):
            raise ValueError("a credential's chain must hold at least the leaf x509.Certificate")
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                          | ed25519.Ed25519PrivateKey):
            raise TypeError("the private key must be an RSA, ECDSA or Ed25519 private key")
        leaf = chain[0]
        try:
            check_key_sizes(chain)
            key_type = key_type_of(leaf)
            leaf_spki = _spki(leaf.public_key())
            rsa_pss = rsa_pss_key(leaf)
        except TLSError as exc:
            raise ValueError(str(exc)) from None
        if _spki(self.private_key.public_key()) != leaf_spki:
            raise ValueError("the private key does not match the leaf certificate")
        # What this kind of key signs with; an RSASSA-PSS key's own parameters may narrow it below.
        schemes = schemes_for(self.private_key, rsa_pss=None if rsa_pss is None else RSAPSSKey())
        if signature_schemes is not None:
            foreign = [s.name.lower() for s in signature_schemes if s not in schemes]
            if foreign:
                raise ValueError(f"{key_type} keys cannot sign with {', '.join(foreign)}")
            schemes = tuple(signature_schemes)
        if rsa_pss is not None:
            schemes = _pss_restricted(schemes, self.private_key, rsa_pss)
        sign = encipher = True
        try:
            usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            pass
        else:
            sign, encipher = usage.digital_signature, usage.key_encipherment
        encipher = encipher and key_type is KeyType.RSA  # only rsaEncryption keys decrypt
        if not sign and not encipher:
            raise ValueError("the leaf's keyUsage allows neither digitalSignature nor keyEncipherment")
        set_(self, "chain", chain)
        set_(self, "schemes", schemes)
        set_(self, "chain_der", tuple(c.public_bytes(serialization.Encoding.DER) for c in chain))
        set_(self, "key_type", key_type)
        set_(self, "digital_signature", sign)
        set_(self, "key_encipherment", encipher)
        set_(self, "names", _names(leaf))
        set_(self, "rsa_pss", rsa_pss)

    @classmethod
    def from_chain(
        cls,
        chain: Sequence[x509.Certificate],
        private_key: PrivateKey,
        *,
        schemes: Sequence[SignatureScheme] | None = None,
    ) -> Credential:
        return cls(chain, private_key, schemes)

    @classmethod
    def from_pem(cls, chain_pem: bytes, key_pem: bytes, password: bytes | None = None) -> Credential:
        """A PEM chain (leaf first) and a PEM private key (PKCS#8 or traditional)."""
        chain = x509.load_pem_x509_certificates(chain_pem)
        key = serialization.load_pem_private_key(key_pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise TypeError(f"{type(key).__name__} keys are not supported (RSA, ECDSA and Ed25519 are)")
        return cls(chain, key)

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def description(self) -> str:
        """How the glass box names it: key type and first name, e.g. ``ecdsa-p256 certificate for localhost``."""
        return f"{self.key_type} certificate for {self.names[0] if self.names else self.leaf.subject.rfc4514_string()}"

    def matches(self, server_name: str) -> bool:
        """Whether the leaf names `server_name` (a DNS name from SNI)."""
        name = server_name.lower().rstrip(".")
        return any(_name_matches(pattern, name) for pattern in self.names)

    def serves(self, authentication: Authentication) -> bool:
        """Whether this key is the kind `authentication` asks for (key usage aside)."""
        if authentication is Authentication.RSA_DECRYPTION:
            return self.key_type is KeyType.RSA
        if authentication is Authentication.RSA_SIGNATURE:
            return self.key_type in (KeyType.RSA, KeyType.RSA_PSS)
        return self.key_type not in (KeyType.RSA, KeyType.RSA_PSS)


@dataclass(frozen=True, slots=True)
class CredentialChoice:
    credential: Credential
    suite: CipherSuite
    #: None for static RSA: the server signs nothing.
    scheme: SignatureScheme | None
    #: Why this certificate, for the glass box.
    reason: str


def _fit(
    credential: Credential,
    authentication: Authentication,
    client_schemes: Sequence[SignatureScheme] | None,
    client_groups: Sequence[NamedGroup] | None,
) -> tuple[SignatureScheme | None, str | None]:
    """(scheme, None) when `credential` can serve a suite asking for `authentication`, else (None, why not)."""
    if not credential.serves(authentication):
        return None, f"the suite needs {authentication.value}"
    if authentication is Authentication.RSA_DECRYPTION:
        if not credential.key_encipherment:
            return None, "its keyUsage does not allow keyEncipherment (RFC 5246 §7.4.2)"
        return None, None
    if not credential.digital_signature:
        return None, "its keyUsage does not allow digitalSignature (RFC 5246 §7.4.2)"
    group = credential.key_type.group
    if group is not None and client_groups is not None and group not in client_groups:
        return None, f"its curve {group.name.lower()} is not in the client's supported_groups (RFC 8422 §5.1)"
    if client_schemes is None:
        return None, ("the client sent no signature_algorithms, which means SHA-1 (RFC 5246 §7.4.1.4.1), "
                      "and tls12 does not sign with SHA-1 (RFC 9155)")
    for scheme in credential.schemes:
        if scheme in client_schemes:
            return scheme, None
    signs = ", ".join(s.name.lower() for s in credential.schemes)
    return None, f"it signs with {signs}, none of which the client's signature_algorithms lists"


def choose_credential(
    credentials: Sequence[Credential],
    *,
    suites: Sequence[CipherSuite],
    client_schemes: Sequence[SignatureScheme] | None,
    server_name: str | None,
    client_groups: Sequence[NamedGroup] | None = None,
    suite_authentication: Mapping[CipherSuite, Authentication] = SUITE_AUTHENTICATION,
) -> CredentialChoice:
    """The credential, suite and signature scheme for this handshake (see the module docstring).

    `suites`: the suites both sides enable, in negotiation order. `client_schemes`
    and `client_groups`: the client's signature_algorithms and supported_groups
    (None: the extension is absent). Raises HandshakeFailure when nothing fits."""
    if not credentials:
        raise HandshakeFailure("the server has no certificate")
    if server_name is not None:
        named = [c for c in credentials if c.matches(server_name)]
        others = [c for c in credentials if not c.matches(server_name)]
        if named:
            tiers = [(named, f"it names {server_name!r}"),
                     (others, f"none of the certificates that name {server_name!r} can serve this client")]
        else:
            tiers = [(others, f"no certificate names {server_name!r}")]
    else:
        tiers = [(list(credentials), "the client sent no server_name")]
    for tier, name_why in tiers:
        passed_over: list[str] = []
        for suite in suites:
            authentication = suite_authentication.get(suite)
            if authentication is None:
                passed_over.append(f"{suite.name} (unknown authentication)")
                continue
            for credential in tier:
                scheme, why_not = _fit(credential, authentication, client_schemes, client_groups)
                if why_not is None:
                    how = f", signing with {scheme.name.lower()}" if scheme is not None else ", which signs nothing"
                    skipped = f"; passed over {', '.join(passed_over)}" if passed_over else ""
                    return CredentialChoice(credential, suite, scheme,
                                            f"{credential.description}: {name_why}; it serves {suite.name}, "
                                            f"the first suite in order it can serve{how}{skipped}")
            if any(c.serves(authentication) for c in tier):
                passed_over.append(f"{suite.name} (no certificate fits)")
    raise HandshakeFailure("no certificate can serve this client: " + "; ".join(
        f"{c.description}: {_refusal(c, suites, client_schemes, client_groups, suite_authentication)}"
        for c in credentials))


def _refusal(
    credential: Credential,
    suites: Sequence[CipherSuite],
    client_schemes: Sequence[SignatureScheme] | None,
    client_groups: Sequence[NamedGroup] | None,
    suite_authentication: Mapping[CipherSuite, Authentication],
) -> str:
    for suite in suites:
        authentication = suite_authentication.get(suite)
        if authentication is not None and credential.serves(authentication):
            why_not = _fit(credential, authentication, client_schemes, client_groups)[1]
            return f"{why_not} (for {suite.name})"
    return "no suite both sides enable uses this kind of key"
