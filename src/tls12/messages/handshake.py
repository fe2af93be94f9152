"""The TLS 1.2 handshake messages (RFC 5246 §7.4) as frozen dataclasses.

No crypto and no state: each message parses from, and writes to, the body of
a handshake frame. The transcript hashes the frame bytes as received, never a
re-serialisation. The key-exchange messages are parsed in their ECDHE form
(RFC 8422 §5.4, §5.7), the only key exchange tls12 speaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..codec import Reader, Writer
from ..enums import (
    CipherSuite,
    ECCurveType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from ..errors import IllegalParameter
from .extensions import Extension, parse_extensions, write_extensions

__all__ = [
    "Certificate",
    "CertificateRequest",
    "ClientHello",
    "ClientKeyExchange",
    "Finished",
    "HandshakeMessage",
    "HelloRequest",
    "ServerHello",
    "ServerHelloDone",
    "ServerKeyExchange",
    "UnknownHandshake",
    "encode_handshake",
    "max_body_lengths",
    "parse_handshake",
]

RANDOM_LEN = 32


@dataclass(frozen=True, slots=True)
class HelloRequest:
    """§7.4.1.1: empty; the server asks the client to start a new handshake."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.HELLO_REQUEST
    max_length: ClassVar[int | None] = 0

    @classmethod
    def parse(cls, r: Reader) -> HelloRequest:
        return cls()

    def write(self, w: Writer) -> None:
        pass


@dataclass(frozen=True, slots=True)
class ClientHello:
    """§7.4.1.2."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.CLIENT_HELLO
    #: version, random, session_id<0..32>, cipher_suites<2..2^16-2>, compression_methods<1..2^8-1>,
    #: extensions<0..2^16-1>: 131,396 bytes (OpenSSL accepts up to this too).
    max_length: ClassVar[int | None] = 2 + RANDOM_LEN + (1 + 32) + (2 + 0xFFFE) + (1 + 0xFF) + (2 + 0xFFFF)
    client_version: ProtocolVersion
    random: bytes
    session_id: bytes
    cipher_suites: tuple[CipherSuite, ...]
    compression_methods: bytes = b"\x00"
    extensions: tuple[Extension, ...] = ()

    @classmethod
    def parse(cls, r: Reader) -> ClientHello:
        version = ProtocolVersion(r.u16())
        random = r.take(RANDOM_LEN)
        session_id = r.opaque(1, max=32, what="session_id")
        suites = r.u16_list(2, min=2, max=0xFFFE, what="cipher_suites")
        compression = r.opaque(1, min=1, max=0xFF, what="compression_methods")
        extensions = parse_extensions(r, from_client=True)
        return cls(
            client_version=version,
            random=random,
            session_id=session_id,
            cipher_suites=tuple(CipherSuite(s) for s in suites),
            compression_methods=compression,
            extensions=extensions,
        )

    def write(self, w: Writer) -> None:
        w.u16(self.client_version)
        w.raw(self.random)
        w.opaque(1, self.session_id, max=32)
        w.u16_list(2, self.cipher_suites, max=0xFFFE)
        w.opaque(1, self.compression_methods, max=0xFF)
        write_extensions(w, self.extensions)


@dataclass(frozen=True, slots=True)
class ServerHello:
    """§7.4.1.3."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.SERVER_HELLO
    #: version, random, session_id<0..32>, cipher_suite, compression_method, extensions<0..2^16-1>.
    max_length: ClassVar[int | None] = 2 + RANDOM_LEN + (1 + 32) + 2 + 1 + (2 + 0xFFFF)
    server_version: ProtocolVersion
    random: bytes
    session_id: bytes
    cipher_suite: CipherSuite
    compression_method: int = 0
    extensions: tuple[Extension, ...] = ()

    @classmethod
    def parse(cls, r: Reader) -> ServerHello:
        version = ProtocolVersion(r.u16())
        random = r.take(RANDOM_LEN)
        session_id = r.opaque(1, max=32, what="session_id")
        suite = CipherSuite(r.u16())
        compression = r.u8()
        extensions = parse_extensions(r, from_client=False)
        return cls(
            server_version=version,
            random=random,
            session_id=session_id,
            cipher_suite=suite,
            compression_method=compression,
            extensions=extensions,
        )

    def write(self, w: Writer) -> None:
        w.u16(self.server_version)
        w.raw(self.random)
        w.opaque(1, self.session_id, max=32)
        w.u16(self.cipher_suite)
        w.u8(self.compression_method)
        write_extensions(w, self.extensions)


@dataclass(frozen=True, slots=True)
class Certificate:
    """§7.4.2: ASN.1Cert certificate_list<0..2^24-1>, each ASN.1Cert<1..2^24-1> (DER)."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.CERTIFICATE
    #: Up to 2^24-1 by structure: the receiver's configuration bounds it (max_certificate_size).
    max_length: ClassVar[int | None] = None
    certificate_list: tuple[bytes, ...]

    @classmethod
    def parse(cls, r: Reader) -> Certificate:
        certs_r = r.vec(3, max=0xFFFFFF, what="certificate_list")
        certs: list[bytes] = []
        while certs_r.remaining:
            certs.append(certs_r.opaque(3, min=1, max=0xFFFFFF, what="ASN.1Cert"))
        return cls(tuple(certs))

    def write(self, w: Writer) -> None:
        with w.prefixed(3, max=0xFFFFFF):
            for der in self.certificate_list:
                w.opaque(3, der, max=0xFFFFFF)


@dataclass(frozen=True, slots=True)
class ServerKeyExchange:
    """§7.4.3 with RFC 8422 §5.4: ServerECDHParams then a DigitallySigned signature.

    Only named curves exist since RFC 8422; explicit curves are refused."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.SERVER_KEY_EXCHANGE
    #: curve_type, named curve, ECPoint<1..2^8-1>, then DigitallySigned: scheme, signature<0..2^16-1>.
    max_length: ClassVar[int | None] = 1 + 2 + (1 + 0xFF) + 2 + (2 + 0xFFFF)
    named_curve: NamedGroup
    public: bytes
    scheme: SignatureScheme
    signature: bytes

    @classmethod
    def parse(cls, r: Reader) -> ServerKeyExchange:
        curve_type = r.u8()
        if curve_type != ECCurveType.NAMED_CURVE:
            raise IllegalParameter(f"ECParameters curve_type {curve_type} is not named_curve")
        group = NamedGroup(r.u16())
        public = r.opaque(1, min=1, max=0xFF, what="ECPoint")
        scheme = SignatureScheme(r.u16())
        signature = r.opaque(2, max=0xFFFF, what="signature")
        return cls(named_curve=group, public=public, scheme=scheme, signature=signature)

    def params_bytes(self) -> bytes:
        """ServerECDHParams as sent: the bytes the signature covers (after both randoms)."""
        w = Writer()
        w.u8(ECCurveType.NAMED_CURVE)
        w.u16(self.named_curve)
        w.opaque(1, self.public, max=0xFF)
        return w.getvalue()

    def write(self, w: Writer) -> None:
        w.raw(self.params_bytes())
        w.u16(self.scheme)
        w.opaque(2, self.signature, max=0xFFFF)


@dataclass(frozen=True, slots=True)
class CertificateRequest:
    """§7.4.4: the server asks for a client certificate."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.CERTIFICATE_REQUEST
    #: certificate_types<1..2^8-1>, supported_signature_algorithms<2..2^16-2>,
    #: certificate_authorities<0..2^16-1>.
    max_length: ClassVar[int | None] = (1 + 0xFF) + (2 + 0xFFFE) + (2 + 0xFFFF)
    certificate_types: bytes
    supported_signature_algorithms: tuple[SignatureScheme, ...]
    certificate_authorities: tuple[bytes, ...] = ()

    @classmethod
    def parse(cls, r: Reader) -> CertificateRequest:
        types = r.opaque(1, min=1, max=0xFF, what="certificate_types")
        schemes = r.u16_list(2, min=2, max=0xFFFE, what="supported_signature_algorithms")
        cas_r = r.vec(2, max=0xFFFF, what="certificate_authorities")
        cas: list[bytes] = []
        while cas_r.remaining:
            cas.append(cas_r.opaque(2, min=1, max=0xFFFF, what="DistinguishedName"))
        return cls(
            certificate_types=types,
            supported_signature_algorithms=tuple(SignatureScheme(s) for s in schemes),
            certificate_authorities=tuple(cas),
        )

    def write(self, w: Writer) -> None:
        w.opaque(1, self.certificate_types, max=0xFF)
        w.u16_list(2, self.supported_signature_algorithms, max=0xFFFE)
        with w.prefixed(2, max=0xFFFF):
            for dn in self.certificate_authorities:
                w.opaque(2, dn, max=0xFFFF)


@dataclass(frozen=True, slots=True)
class ServerHelloDone:
    """§7.4.5: empty."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.SERVER_HELLO_DONE
    max_length: ClassVar[int | None] = 0

    @classmethod
    def parse(cls, r: Reader) -> ServerHelloDone:
        return cls()

    def write(self, w: Writer) -> None:
        pass


@dataclass(frozen=True, slots=True)
class ClientKeyExchange:
    """§7.4.7 with RFC 8422 §5.7: ClientECDiffieHellmanPublic, ECPoint ecdh_Yc<1..2^8-1>."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.CLIENT_KEY_EXCHANGE
    max_length: ClassVar[int | None] = 1 + 0xFF
    public: bytes

    @classmethod
    def parse(cls, r: Reader) -> ClientKeyExchange:
        return cls(r.opaque(1, min=1, max=0xFF, what="ecdh_Yc"))

    def write(self, w: Writer) -> None:
        w.opaque(1, self.public, max=0xFF)


@dataclass(frozen=True, slots=True)
class Finished:
    """§7.4.9: verify_data, 12 bytes for every TLS 1.2 suite tls12 knows."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.FINISHED
    #: verify_data_length is 12 for every suite tls12 knows (RFC 5246 §7.4.9, RFC 5288).
    max_length: ClassVar[int | None] = 12
    verify_data: bytes

    @classmethod
    def parse(cls, r: Reader) -> Finished:
        return cls(r.rest())

    def write(self, w: Writer) -> None:
        w.raw(self.verify_data)


@dataclass(frozen=True, slots=True)
class UnknownHandshake:
    """A handshake message tls12 never expects in TLS 1.2 (kept for diagnostics)."""

    msg_type: HandshakeType
    body: bytes = field(repr=False)

    def write(self, w: Writer) -> None:
        w.raw(self.body)


HandshakeMessage = (
    HelloRequest
    | ClientHello
    | ServerHello
    | Certificate
    | ServerKeyExchange
    | CertificateRequest
    | ServerHelloDone
    | ClientKeyExchange
    | Finished
    | UnknownHandshake
)

_PARSERS: dict[int, type[HelloRequest | ClientHello | ServerHello | Certificate | ServerKeyExchange
                          | CertificateRequest | ServerHelloDone | ClientKeyExchange | Finished]] = {
    cls.msg_type: cls
    for cls in (
        HelloRequest,
        ClientHello,
        ServerHello,
        Certificate,
        ServerKeyExchange,
        CertificateRequest,
        ServerHelloDone,
        ClientKeyExchange,
        Finished,
    )
}


def max_body_lengths(certificate: int) -> dict[int, int]:
    """The largest body tls12 takes for each message type it parses, by type: the bound of its RFC
    structure, or `certificate` for a Certificate. Types missing here are never expected."""
    return {t: certificate if cls.max_length is None else cls.max_length for t, cls in _PARSERS.items()}


def parse_handshake(msg_type: int, body: bytes) -> HandshakeMessage:
    """Parse one handshake body; trailing bytes are a decode_error."""
    cls = _PARSERS.get(msg_type)
    if cls is None:
        return UnknownHandshake(HandshakeType(msg_type), body)
    r = Reader(body)
    msg = cls.parse(r)
    r.done(HandshakeType(msg_type).name)
    return msg


def encode_handshake(msg: HandshakeMessage) -> bytes:
    """The full frame: msg_type, uint24 length, body."""
    w = Writer()
    w.u8(msg.msg_type)
    with w.prefixed(3, max=0xFFFFFF):
        msg.write(w)
    return w.getvalue()

