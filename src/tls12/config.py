"""Client and server configuration: frozen, validated once at construction.

A configuration is shared by many connections, so everything expensive that
depends only on it (the trust store, the DER of the certificate chain) is
computed here once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .crypto.kx import SUPPORTED_GROUPS
from .crypto.provider import DefaultProvider, Provider
from .crypto.signatures import RSA_SCHEMES
from .crypto.x509 import MIN_RSA_BITS, TrustStore, load_pem_file, load_trust_file, system_trust_anchors
from .enums import CipherSuite, NamedGroup, SignatureScheme
from .messages import Certificate, encode_handshake

__all__ = ["DEFAULT_MAX_CERTIFICATE_SIZE", "ClientConfig", "KeyLogCallback", "ServerConfig"]

#: The default bound on a received Certificate message (the chain). Every other handshake
#: message has a bound that follows from its RFC structure (`messages.handshake`), whatever this is.
DEFAULT_MAX_CERTIFICATE_SIZE = 64 * 1024

DEFAULT_CIPHER_SUITES: tuple[CipherSuite, ...] = (CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,)
#: The rows of the suite table the handshake and record layer speak so far: the ECDHE_RSA rows,
#: whose handshake differs only by the row's PRF hash and key lengths.
SPOKEN_SUITES: tuple[CipherSuite, ...] = (
    *DEFAULT_CIPHER_SUITES,
    CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
)
DEFAULT_GROUPS: tuple[NamedGroup, ...] = SUPPORTED_GROUPS
DEFAULT_SIGNATURE_SCHEMES: tuple[SignatureScheme, ...] = (
    SignatureScheme.RSA_PSS_RSAE_SHA256,
    SignatureScheme.RSA_PSS_RSAE_SHA384,
    SignatureScheme.RSA_PSS_RSAE_SHA512,
    SignatureScheme.RSA_PKCS1_SHA256,
    SignatureScheme.RSA_PKCS1_SHA384,
    SignatureScheme.RSA_PKCS1_SHA512,
)

#: Called once per handshake with one line of the NSS key log format
#: (``CLIENT_RANDOM <client random hex> <master secret hex>``), no newline.
KeyLogCallback = Callable[[str], None]

_DEFAULT_PROVIDER = DefaultProvider()


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
    provider: Provider = field(default=_DEFAULT_PROVIDER, compare=False)
    key_log: KeyLogCallback | None = field(default=None, compare=False)

    def _validate_common(self, max_handshake_size: int | None) -> None:
        set_ = object.__setattr__
        set_(self, "alpn_protocols", _alpn(self.alpn_protocols))
        set_(self, "cipher_suites", _choices("cipher_suites", self.cipher_suites, SPOKEN_SUITES, CipherSuite))
        set_(self, "groups", _choices("groups", self.groups, SUPPORTED_GROUPS, NamedGroup))
        set_(
            self,
            "signature_schemes",
            _choices("signature_schemes", self.signature_schemes, RSA_SCHEMES, SignatureScheme),
        )
        if max_handshake_size is not None:
            set_(self, "max_certificate_size", max_handshake_size)
        set_(self, "max_certificate_size", _max_certificate_size(self.max_certificate_size))
        if self.require_extended_master_secret and not self.extended_master_secret:
            raise ValueError("require_extended_master_secret needs extended_master_secret")


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
        system = self.use_system_trust
        if self.verify_certificates and (system or (system is None and not anchors)):
            anchors += system_trust_anchors()
        object.__setattr__(self, "trust", TrustStore(anchors, partial_chain=self.partial_chain))


@dataclass(frozen=True, kw_only=True)
class ServerConfig(_Common):
    """What a server presents: its chain (leaf first) and the leaf's RSA private key."""

    certificate_chain: Sequence[x509.Certificate]
    private_key: rsa.RSAPrivateKey
    certificate_chain_der: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    #: The Certificate handshake message, encoded once for every connection.
    certificate_message: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self, max_handshake_size: int | None) -> None:
        self._validate_common(max_handshake_size)
        chain = tuple(self.certificate_chain)
        if not chain or not all(isinstance(c, x509.Certificate) for c in chain):
            raise ValueError("certificate_chain must hold at least the leaf x509.Certificate")
        if not isinstance(self.private_key, rsa.RSAPrivateKey):
            raise TypeError("private_key must be an RSA private key (the suite is ECDHE_RSA)")
        if self.private_key.key_size < MIN_RSA_BITS:
            raise ValueError(f"an RSA key of {self.private_key.key_size} bits is too small "
                             f"(at least {MIN_RSA_BITS} are required)")
        leaf_key = chain[0].public_key()
        if not isinstance(leaf_key, rsa.RSAPublicKey) or (
            leaf_key.public_numbers() != self.private_key.public_key().public_numbers()
        ):
            raise ValueError("private_key does not match the leaf certificate")
        object.__setattr__(self, "certificate_chain", chain)
        der = tuple(c.public_bytes(serialization.Encoding.DER) for c in chain)
        object.__setattr__(self, "certificate_chain_der", der)
        object.__setattr__(self, "certificate_message", encode_handshake(Certificate(der)))

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
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("the private key is not an RSA key")
        return cls(certificate_chain=chain, private_key=key, **kwargs)  # type: ignore[arg-type]
