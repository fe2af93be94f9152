"""The TLS 1.2 handshake messages (RFC 5246 §7.4) as frozen dataclasses.

No crypto and no state: each message parses from, and writes to, the body of
a handshake frame. The transcript hashes the frame bytes as received, never a
re-serialisation.

The key-exchange messages have one wire form per key exchange, and nothing in
their bytes says which: the receiver parses them in the form of the suite it
negotiated (`parse_handshake(..., key_exchange=...)`, "ECDHE" by default):

    ECDHE  ServerKeyExchange       ServerECDHParams + signature   (RFC 8422 §5.4)
           ClientKeyExchange       ECPoint ecdh_Yc                (RFC 8422 §5.7)
    DHE    DHEServerKeyExchange    ServerDHParams + signature     (RFC 5246 §7.4.3)
           DHEClientKeyExchange    dh_Yc                          (RFC 5246 §7.4.7.2)
    RSA    (no ServerKeyExchange)
           RSAClientKeyExchange    EncryptedPreMasterSecret       (RFC 5246 §7.4.7.1)
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
    "KEY_EXCHANGES",
    "MAX_TICKET",
    "CertificateRequest",
    "CertificateVerify",
    "ClientHello",
    "ClientKeyExchange",
    "DHEClientKeyExchange",
    "DHEServerKeyExchange",
    "Finished",
    "HandshakeMessage",
    "HelloRequest",
    "NewSessionTicket",
    "RSAClientKeyExchange",
    "ServerHello",
    "ServerHelloDone",
    "ServerKeyExchange",
    "UnknownHandshake",
    "encode_handshake",
    "max_body_lengths",
    "parse_handshake",
]

RANDOM_LEN = 32
#: The key exchanges whose messages parse differently (crypto/suites.KeyExchange's values).
KEY_EXCHANGES = ("ECDHE", "DHE", "RSA")
#: The largest finite-field prime (and so generator and public value) a ServerDHParams may carry
#: here: 8192 bits, the most crypto/dhe accepts. RFC 5246 allows opaque<1..2^16-1>; a longer value
#: is refused from the message header (the message cannot fit its bound).
MAX_DH_BYTES = 8192 // 8
#: An RFC 5077 ticket: opaque ticket<0..2^16-1> (§3.3), in a NewSessionTicket and in the
#: ClientHello's SessionTicket extension.
MAX_TICKET = 0xFFFF
#: DigitallySigned.signature<0..2^16-1> (RFC 5246 §4.7).
_SIGNATURE_MAX = 0xFFFF


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
            cipher_suites=CipherSuite.members(suites),
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
class DHEServerKeyExchange:
    """§7.4.3: ServerDHParams (dh_p, dh_g, dh_Ys, each opaque<1..2^16-1>) then a DigitallySigned signature.

    The server sends its group's p and g (an RFC 7919 group's, when one was negotiated)."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.SERVER_KEY_EXCHANGE
    #: Bounded by the largest prime tls12 accepts (MAX_DH_BYTES) for p, g and Ys, then the signature.
    max_length: ClassVar[int | None] = 3 * (2 + MAX_DH_BYTES) + 2 + (2 + _SIGNATURE_MAX)
    dh_p: bytes
    dh_g: bytes
    dh_Ys: bytes
    scheme: SignatureScheme
    signature: bytes

    @classmethod
    def parse(cls, r: Reader) -> DHEServerKeyExchange:
        p = r.opaque(2, min=1, max=0xFFFF, what="dh_p")
        g = r.opaque(2, min=1, max=0xFFFF, what="dh_g")
        ys = r.opaque(2, min=1, max=0xFFFF, what="dh_Ys")
        scheme = SignatureScheme(r.u16())
        signature = r.opaque(2, max=_SIGNATURE_MAX, what="signature")
        return cls(dh_p=p, dh_g=g, dh_Ys=ys, scheme=scheme, signature=signature)

    def params_bytes(self) -> bytes:
        """ServerDHParams as sent: the bytes the signature covers (after both randoms)."""
        w = Writer()
        w.opaque(2, self.dh_p, max=0xFFFF)
        w.opaque(2, self.dh_g, max=0xFFFF)
        w.opaque(2, self.dh_Ys, max=0xFFFF)
        return w.getvalue()

    def write(self, w: Writer) -> None:
        w.raw(self.params_bytes())
        w.u16(self.scheme)
        w.opaque(2, self.signature, max=_SIGNATURE_MAX)


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
            supported_signature_algorithms=SignatureScheme.members(schemes),
            certificate_authorities=tuple(cas),
        )

    def write(self, w: Writer) -> None:
        w.opaque(1, self.certificate_types, max=0xFF)
        w.u16_list(2, self.supported_signature_algorithms, max=0xFFFE)
        with w.prefixed(2, max=0xFFFF):
            for dn in self.certificate_authorities:
                w.opaque(2, dn, max=0xFFFF)


@dataclass(frozen=True, slots=True)
class CertificateVerify:
    """§7.4.8: the client's signature over every handshake message before this one."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.CERTIFICATE_VERIFY
    #: SignatureAndHashAlgorithm, then signature<0..2^16-1>.
    max_length: ClassVar[int | None] = 2 + 2 + _SIGNATURE_MAX
    scheme: SignatureScheme
    signature: bytes

    @classmethod
    def parse(cls, r: Reader) -> CertificateVerify:
        scheme = r.u16()
        signature = r.opaque(2, max=_SIGNATURE_MAX, what="signature")
        return cls(scheme=SignatureScheme(scheme), signature=signature)

    def write(self, w: Writer) -> None:
        w.u16(self.scheme)
        w.opaque(2, self.signature, max=_SIGNATURE_MAX)


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
class DHEClientKeyExchange:
    """§7.4.7.2: ClientDiffieHellmanPublic, explicit: opaque dh_Yc<1..2^16-1>."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.CLIENT_KEY_EXCHANGE
    max_length: ClassVar[int | None] = 2 + 0xFFFF
    dh_Yc: bytes

    @classmethod
    def parse(cls, r: Reader) -> DHEClientKeyExchange:
        return cls(r.opaque(2, min=1, max=0xFFFF, what="dh_Yc"))

    def write(self, w: Writer) -> None:
        w.opaque(2, self.dh_Yc, max=0xFFFF)


@dataclass(frozen=True, slots=True)
class RSAClientKeyExchange:
    """§7.4.7.1: EncryptedPreMasterSecret, the PKCS#1 v1.5 ciphertext with its 2-byte length
    (TLS 1.0 and later; only SSLv3 left the length out).

    Any length parses, even an empty one: whatever the server receives, it goes on with the
    handshake (the countermeasure of §7.4.7.1), so a malformed premaster must not be refused
    earlier, and differently, than one that does not decrypt."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.CLIENT_KEY_EXCHANGE
    max_length: ClassVar[int | None] = 2 + 0xFFFF
    encrypted_pre_master_secret: bytes

    @classmethod
    def parse(cls, r: Reader) -> RSAClientKeyExchange:
        return cls(r.opaque(2, max=0xFFFF, what="EncryptedPreMasterSecret"))

    def write(self, w: Writer) -> None:
        w.opaque(2, self.encrypted_pre_master_secret, max=0xFFFF)


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
class NewSessionTicket:
    """RFC 5077 §3.3: uint32 ticket_lifetime_hint, opaque ticket<0..2^16-1>. The server sends it
    before its ChangeCipherSpec when its ServerHello carried the SessionTicket extension; an
    empty ticket means it keeps none for this session after all."""

    msg_type: ClassVar[HandshakeType] = HandshakeType.NEW_SESSION_TICKET
    max_length: ClassVar[int | None] = 4 + 2 + MAX_TICKET
    ticket_lifetime_hint: int
    ticket: bytes

    @classmethod
    def parse(cls, r: Reader) -> NewSessionTicket:
        hint = r.u32()
        return cls(hint, r.opaque(2, max=MAX_TICKET, what="ticket"))

    def write(self, w: Writer) -> None:
        w.u32(self.ticket_lifetime_hint)
        w.opaque(2, self.ticket, max=MAX_TICKET)


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
    | DHEServerKeyExchange
    | CertificateRequest
    | CertificateVerify
    | ServerHelloDone
    | ClientKeyExchange
    | DHEClientKeyExchange
    | RSAClientKeyExchange
    | Finished
    | NewSessionTicket
    | UnknownHandshake
)

_Parsed = type[HelloRequest | ClientHello | ServerHello | Certificate | ServerKeyExchange | DHEServerKeyExchange
               | CertificateRequest | CertificateVerify | ServerHelloDone | ClientKeyExchange
               | DHEClientKeyExchange | RSAClientKeyExchange | Finished | NewSessionTicket]

_PARSERS: dict[int, _Parsed] = {
    cls.msg_type: cls
    for cls in (
        HelloRequest,
        ClientHello,
        ServerHello,
        Certificate,
        ServerKeyExchange,
        CertificateRequest,
        CertificateVerify,
        ServerHelloDone,
        ClientKeyExchange,
        Finished,
        NewSessionTicket,
    )
}


#: The key-exchange messages in the form of each key exchange (ECDHE's are `_PARSERS`' own).
_KEY_EXCHANGE_PARSERS: dict[tuple[str, int], _Parsed | None] = {
    ("DHE", HandshakeType.SERVER_KEY_EXCHANGE): DHEServerKeyExchange,
    ("DHE", HandshakeType.CLIENT_KEY_EXCHANGE): DHEClientKeyExchange,
    ("RSA", HandshakeType.SERVER_KEY_EXCHANGE): None,  # static RSA has none: kept as unknown
    ("RSA", HandshakeType.CLIENT_KEY_EXCHANGE): RSAClientKeyExchange,
}


def max_body_lengths(certificate: int) -> dict[int, int]:
    """The largest body tls12 takes for each message type it parses, by type: the bound of its RFC
    structure (the largest of its key-exchange forms), or `certificate` for a Certificate. Types
    missing here are never expected."""
    limits = {t: certificate if cls.max_length is None else cls.max_length for t, cls in _PARSERS.items()}
    for (_, t), cls in _KEY_EXCHANGE_PARSERS.items():
        if cls is not None and cls.max_length is not None:
            limits[t] = max(limits[t], cls.max_length)
    return limits


def parse_handshake(msg_type: int, body: bytes, key_exchange: str = "ECDHE") -> HandshakeMessage:
    """Parse one handshake body; trailing bytes are a decode_error. `key_exchange` ("ECDHE", "DHE"
    or "RSA": the negotiated suite's) says which form the key-exchange messages take."""
    cls: _Parsed | None
    if key_exchange == "ECDHE" or (key_exchange, msg_type) not in _KEY_EXCHANGE_PARSERS:
        cls = _PARSERS.get(msg_type)
    else:
        cls = _KEY_EXCHANGE_PARSERS[key_exchange, msg_type]
    if cls is None:
        return UnknownHandshake(HandshakeType(msg_type), body)
    r = Reader(body)
    msg = cls.parse(r)
    if r.remaining:
        r.done(HandshakeType(msg_type).name)  # the type's name only for the error it raises
    return msg


def encode_handshake(msg: HandshakeMessage) -> bytes:
    """The full frame: msg_type, uint24 length, body."""
    w = Writer()
    w.u8(msg.msg_type)
    with w.prefixed(3, max=0xFFFFFF):
        msg.write(w)
    return w.getvalue()

