"""Client and server configuration: frozen, validated once at construction.

A configuration is shared by many connections, so everything expensive that
depends only on it (the trust store, the DER of the certificate chain) is
computed here once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .crypto.credentials import Credential, CredentialChoice
from .crypto.dhe import FFDHE_GROUPS
from .crypto.kx import ECDHE_GROUPS
from .crypto.provider import DefaultProvider, Provider
from .crypto.signatures import SCHEMES, PrivateKey
from .crypto.suites import SUITES, KeyExchange
from .crypto.tickets import RotatingTicketKeys, TicketKeySource
from .crypto.x509 import TrustStore, load_pem_file, load_trust_file, system_trust_anchors
from .enums import CipherSuite, NamedGroup, SignatureScheme
from .messages import Certificate, encode_handshake, max_body_lengths
from .session import MemorySessionStore, SessionStore

__all__ = [
    "DEFAULT_CIPHER_SUITES",
    "DEFAULT_GROUPS",
    "DEFAULT_MAX_CERTIFICATE_SIZE",
    "DEFAULT_SIGNATURE_SCHEMES",
    "SPOKEN_SUITES",
    "SUPPORTED_GROUPS",
    "ClientConfig",
    "KeyLogCallback",
    "ServerConfig",
]

#: The default bound on a received Certificate message (the chain). Every other handshake
#: message has a bound that follows from its RFC structure (`messages.handshake`), whatever this is.
DEFAULT_MAX_CERTIFICATE_SIZE = 64 * 1024

#: Every row of the suite table, in the table's order (Mozilla intermediate).
SPOKEN_SUITES: tuple[CipherSuite, ...] = tuple(SUITES)
#: Every spoken suite but static RSA, which is never on unless configured by name (both roles): it
#: has no forward secrecy, and a server that decrypts it is a padding oracle's target (docs/SECURITY.md).
DEFAULT_CIPHER_SUITES: tuple[CipherSuite, ...] = tuple(
    suite for suite in SPOKEN_SUITES if SUITES[suite].key_exchange is not KeyExchange.RSA)
#: Every group the handshake negotiates: ECDHE (RFC 8422, RFC 7748) and finite-field (RFC 7919).
SUPPORTED_GROUPS: tuple[NamedGroup, ...] = (*ECDHE_GROUPS, *FFDHE_GROUPS)
DEFAULT_GROUPS: tuple[NamedGroup, ...] = (
    NamedGroup.X25519,
    NamedGroup.SECP256R1,
    NamedGroup.SECP384R1,
    NamedGroup.SECP521R1,
    NamedGroup.X448,
    NamedGroup.FFDHE2048,
    NamedGroup.FFDHE3072,
    NamedGroup.FFDHE4096,
)
#: Every scheme crypto/signatures signs and verifies, in its order.
DEFAULT_SIGNATURE_SCHEMES: tuple[SignatureScheme, ...] = SCHEMES

#: Called once per handshake with one line of the NSS key log format
#: (``CLIENT_RANDOM <client random hex> <master secret hex>``), no newline.
KeyLogCallback = Callable[[str], None]

_DEFAULT_PROVIDER = DefaultProvider()
#: CertificateRequest.certificate_authorities<0..2^16-1> (RFC 5246 §7.4.4), each name 2 + its DER.
_MAX_CA_NAMES = 0xFFFF


def _choices(name: str, values: Sequence[int], supported: Sequence[int], enum: type) -> tuple[int, ...]:
    out = tuple(enum(v) for v in values)
    if not out:
        raise ValueError(f"{name} must not be empty")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} has duplicates")
    unsupported = [v for v in out if v not in supported]
    if unsupported:
        raise ValueError(f"{name}: unsupported {', '.join(enum(v).name for v in unsupported)}")
    return out


def _alpn(protocols: Sequence[str | bytes]) -> tuple[bytes, ...]:
    out = []
    for p in protocols:
        raw = p.encode("utf-8") if isinstance(p, str) else bytes(p)
        if not 1 <= len(raw) <= 255:
            raise ValueError(f"ALPN protocol {p!r} must be 1 to 255 bytes")
        out.append(raw)
    if len(set(out)) != len(out):
        raise ValueError("alpn_protocols has duplicates")
    return tuple(out)


def _policy(*parts: bytes) -> bytes:
    """A 32-byte fingerprint of a verification policy: SHA-256 over its length-prefixed parts."""
    h = hashes.Hash(hashes.SHA256())
    for part in parts:
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.finalize()


def _max_certificate_size(value: int) -> int:
    if not 1024 <= value <= 0xFFFFFF:
        raise ValueError("max_certificate_size must be between 1024 and 2^24-1")
    return value


@dataclass(frozen=True, kw_only=True)
class _Common:
    alpn_protocols: Sequence[str | bytes] = ()
    cipher_suites: Sequence[CipherSuite] = DEFAULT_CIPHER_SUITES
    groups: Sequence[NamedGroup] = DEFAULT_GROUPS
    signature_schemes: Sequence[SignatureScheme] = DEFAULT_SIGNATURE_SCHEMES
    #: Offer (client) or accept (server) RFC 7627's extended master secret.
    extended_master_secret: bool = True
    #: Refuse peers that do not use the extended master secret.
    require_extended_master_secret: bool = False
    #: The largest Certificate message (the peer's chain) tls12 buffers; RFC 5246 allows 2^24-1.
    #: A longer one is refused from its header with illegal_parameter. Other messages are bounded by
    #: their structure: a ClientHello may take 131,396 bytes whatever this is.
    max_certificate_size: int = DEFAULT_MAX_CERTIFICATE_SIZE
    #: The former name of `max_certificate_size` (what it bounded in effect, but for a ClientHello,
    #: which it no longer bounds): still accepted when a configuration is made or replaced.
    max_handshake_size: InitVar[int | None] = None
    #: The largest body taken for each handshake type (`messages.max_body_lengths` with
    #: `max_certificate_size`), for every connection of this configuration.
    body_limits: Mapping[int, int] = field(init=False, repr=False, compare=False)
    provider: Provider = field(default=_DEFAULT_PROVIDER, compare=False)
    key_log: KeyLogCallback | None = field(default=None, compare=False)
    #: Unix seconds, for sessions: when one is made, and whether it has expired.
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def _validate_common(self, max_handshake_size: int | None) -> None:
        set_ = object.__setattr__
        set_(self, "alpn_protocols", _alpn(self.alpn_protocols))
        set_(self, "cipher_suites", _choices("cipher_suites", self.cipher_suites, SPOKEN_SUITES, CipherSuite))
        set_(self, "groups", _choices("groups", self.groups, SUPPORTED_GROUPS, NamedGroup))
        set_(
            self,
            "signature_schemes",
            _choices("signature_schemes", self.signature_schemes, SCHEMES, SignatureScheme),
        )
        if max_handshake_size is not None:
            set_(self, "max_certificate_size", max_handshake_size)
        set_(self, "max_certificate_size", _max_certificate_size(self.max_certificate_size))
        set_(self, "body_limits", MappingProxyType(max_body_lengths(self.max_certificate_size)))
        if self.require_extended_master_secret and not self.extended_master_secret:
            raise ValueError("require_extended_master_secret needs extended_master_secret")


ClientCredentialCallback = Callable[[tuple[bytes, ...], tuple[SignatureScheme, ...], bytes], Credential | None]


@dataclass(frozen=True, kw_only=True)
class ClientConfig(_Common):
    """How a client connects. With no trust anchors and no cafile, the system store is used."""

    trust_anchors: Sequence[x509.Certificate] = ()
    cafile: str | os.PathLike[str] | None = None
    #: None: the system store when no anchors are given; True: add it; False: never.
    use_system_trust: bool | None = None
    verify_certificates: bool = True
    check_hostname: bool = True
    #: True: any trust anchor may end a path (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN). False: only a
    #: self-signed one does, as in OpenSSL by default; the other anchors serve as intermediates.
    partial_chain: bool = True
    trust: TrustStore = field(init=False, repr=False, compare=False)
    #: Client certificates (chain and key) offered when a server asks for one (RFC 5246 §7.4.6):
    #: the first whose key type, signature scheme and issuer the server's CertificateRequest
    #: accepts is sent; none fits: an empty Certificate.
    client_credentials: Sequence[Credential] = ()
    #: Called instead, with (certificate_authorities DER names, the server's signature schemes,
    #: certificate_types), when a server asks: returns the Credential to send or None (none).
    client_credential_callback: ClientCredentialCallback | None = field(default=None, compare=False)
    #: Offer RFC 5077 session tickets: the SessionTicket extension in every ClientHello (empty when
    #: there is no ticket to present: it asks for one). Sessions are resumed by session ID either way.
    session_tickets: bool = True
    #: The fingerprint of what admits a server (verification on or off, host-name check, trust
    #: anchors, partial chains): a session is offered only under the policy that made it.
    session_policy: bytes = field(init=False, repr=False, compare=False)
    #: ClientHellos built once per server name (all but the random), by the handshake.
    hello_templates: dict[str | None, Any] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self, max_handshake_size: int | None) -> None:
        self._validate_common(max_handshake_size)
        anchors = list(self.trust_anchors)
        if not all(isinstance(c, x509.Certificate) for c in anchors):
            raise TypeError("trust_anchors must be cryptography x509.Certificate objects")
        if self.cafile is not None:
            loaded = load_trust_file(self.cafile)
            if not loaded:
                raise ValueError(f"cafile {os.fspath(self.cafile)!r} holds no usable PEM certificate")
            anchors.extend(loaded)
        object.__setattr__(self, "trust_anchors", tuple(anchors))
        client_credentials = tuple(self.client_credentials)
        if not all(isinstance(c, Credential) for c in client_credentials):
            raise TypeError("client_credentials must be crypto.credentials.Credential objects")
        object.__setattr__(self, "client_credentials", client_credentials)
        system = self.use_system_trust
        if self.verify_certificates and (system or (system is None and not anchors)):
            anchors += system_trust_anchors()
        object.__setattr__(self, "trust", TrustStore(anchors, partial_chain=self.partial_chain))
        object.__setattr__(self, "session_policy", _policy(
            b"tls12 client session policy 1", b"\x01" if self.verify_certificates else b"\x00",
            b"\x01" if self.check_hostname else b"\x00", self.trust.digest()))


@dataclass(frozen=True, kw_only=True)
class ServerConfig(_Common):
    """What a server presents: one or more credentials (a chain, leaf first, and the leaf's key).

    `credentials=[Credential, ...]`: one per key type and/or per name; each handshake picks one
    (crypto/credentials.choose_credential). `certificate_chain=` with `private_key=` is the
    shorthand for one credential (and may be given with `credentials`, in first place).
    `cipher_suites` is the server's order of preference; `prefer_client_order=True` honours the
    client's instead."""

    credentials: Sequence[Credential] = ()
    certificate_chain: Sequence[x509.Certificate] | None = None
    private_key: PrivateKey | None = field(default=None, repr=False)
    #: Choose the suite by the client's order of preference instead of the server's.
    prefer_client_order: bool = False
    #: Client certificates (RFC 5246 §7.4.4): "none" (never asked for), "optional" (asked for; an
    #: empty Certificate makes an anonymous connection) or "required" (an empty one: handshake_failure).
    client_auth: Literal["none", "optional", "required"] = "none"
    #: The anchors a client's chain must reach (clientAuth purpose); separate from any client trust.
    #: None, as in OpenSSL: every client certificate is refused (unknown_ca), and "optional" still
    #: accepts a client that sends none.
    client_trust_anchors: Sequence[x509.Certificate] = ()
    #: Name the client anchors' subjects in CertificateRequest.certificate_authorities (False: an
    #: empty list, for stores too large to list).
    client_ca_names: bool = True
    client_trust: TrustStore = field(init=False, repr=False, compare=False)
    #: The DER subjects of the client anchors, as sent in CertificateRequest.
    client_ca_dns: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    #: The Certificate handshake message of each credential (by `id`), encoded once for every connection.
    certificate_messages: dict[int, bytes] = field(init=False, repr=False, compare=False)
    #: Where sessions are kept by session ID (None: no session IDs; the server sends an empty one).
    session_store: SessionStore | None = field(default_factory=MemorySessionStore, compare=False)
    #: RFC 5077 ticket keys, newest first (None: no tickets). The default derives its keys from a
    #: random secret of this configuration's own; give every process of a fleet the same source.
    ticket_keys: TicketKeySource | None = field(default_factory=RotatingTicketKeys, compare=False)
    #: How long a session may be resumed, in seconds (also the tickets' lifetime hint). RFC 5246
    #: suggests at most 24 hours.
    session_lifetime: int = 7200
    #: The fingerprint of what admits a client (client_auth and the client trust anchors): a
    #: session is resumed only under the policy that made it.
    session_policy: bytes = field(init=False, repr=False, compare=False)
    #: What the handshake chose (credential, suite, scheme, group, and why) for each client offer
    #: (suites, groups, signature schemes, SNI name) it saw lately: the same offer gets the same answer.
    negotiations: dict[tuple[Any, ...], tuple[CredentialChoice, NamedGroup | None, str, str]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self, max_handshake_size: int | None) -> None:
        self._validate_common(max_handshake_size)
        credentials = list(self.credentials)
        if not all(isinstance(c, Credential) for c in credentials):
            raise TypeError("credentials must be crypto.credentials.Credential objects")
        if self.certificate_chain is not None or self.private_key is not None:
            if self.certificate_chain is None or self.private_key is None:
                raise ValueError("certificate_chain and private_key go together")
            chain = tuple(self.certificate_chain)
            if not chain or not all(isinstance(c, x509.Certificate) for c in chain):
                raise ValueError("certificate_chain must hold at least the leaf x509.Certificate")
            if not isinstance(self.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                              | ed25519.Ed25519PrivateKey):
                raise TypeError("private_key must be an RSA, ECDSA or Ed25519 private key")
            credentials.insert(0, Credential.from_chain(chain, self.private_key))
        if not credentials:
            raise ValueError("a server needs at least one credential (certificate_chain and private_key)")
        set_ = object.__setattr__
        set_(self, "credentials", tuple(credentials))
        # The shorthand's names stay readable: the first credential's.
        set_(self, "certificate_chain", credentials[0].chain)
        set_(self, "private_key", credentials[0].private_key)
        set_(self, "certificate_messages",
             {id(c): encode_handshake(Certificate(c.chain_der)) for c in credentials})
        if self.client_auth not in ("none", "optional", "required"):
            raise ValueError("client_auth must be 'none', 'optional' or 'required'")
        client_anchors = tuple(self.client_trust_anchors)
        if not all(isinstance(c, x509.Certificate) for c in client_anchors):
            raise TypeError("client_trust_anchors must be cryptography x509.Certificate objects")
        set_(self, "client_trust_anchors", client_anchors)
        set_(self, "client_trust", TrustStore(client_anchors))
        names = tuple(dict.fromkeys(c.subject.public_bytes() for c in client_anchors)) if self.client_ca_names else ()
        names_size = sum(2 + len(n) for n in names)
        if names_size > _MAX_CA_NAMES:
            raise ValueError(f"the client CAs' names take {names_size} bytes, more than a CertificateRequest "
                             f"holds ({_MAX_CA_NAMES}): pass client_ca_names=False to send none")
        set_(self, "client_ca_dns", names)
        if not 1 <= self.session_lifetime <= 0xFFFFFFFF:
            raise ValueError("session_lifetime must be 1 to 2^32-1 seconds")
        set_(self, "session_policy", _policy(b"tls12 server session policy 1", self.client_auth.encode("ascii"),
                                             self.client_trust.digest()))

    def certificate_message(self, credential: Credential) -> bytes:
        """The Certificate message of one of this configuration's credentials."""
        message = self.certificate_messages.get(id(credential))
        return message if message is not None else encode_handshake(Certificate(credential.chain_der))

    @classmethod
    def from_pem_files(
        cls,
        certfile: str | os.PathLike[str],
        keyfile: str | os.PathLike[str] | None = None,
        password: bytes | str | None = None,
        **kwargs: object,
    ) -> ServerConfig:
        """Load a PEM chain (leaf first) and a PEM private key (it may share the certfile)."""
        chain = load_pem_file(certfile)
        with open(keyfile if keyfile is not None else certfile, "rb") as f:
            key_pem = f.read()
        if isinstance(password, str):
            password = password.encode("utf-8")
        key = serialization.load_pem_private_key(key_pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise TypeError(f"{type(key).__name__} keys are not supported (RSA, ECDSA and Ed25519 are)")
        return cls(certificate_chain=chain, private_key=key, **kwargs)  # type: ignore[arg-type]
