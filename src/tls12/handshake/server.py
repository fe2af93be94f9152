"""The server side of the TLS 1.2 full handshake (RFC 5246 §7.3), one class per state.

    ExpectClientHello        <-  ClientHello
                                 ServerHello, Certificate,
                                 ServerKeyExchange, ServerHelloDone  ->
    ExpectClientKeyExchange  <-  ClientKeyExchange
    ExpectChangeCipherSpec   <-  [ChangeCipherSpec]
    ExpectFinished           <-  Finished
                                 [ChangeCipherSpec], Finished        ->
    ServerTraffic           <->  application data

Negotiation is by the server's preference among what the client offers;
anything unknown in the ClientHello is ignored (§7.4.1.2, §7.4.1.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ServerConfig
from ..crypto import signatures
from ..crypto.kx import EphemeralKey
from ..crypto.suites import SUITES, SuiteSpec
from ..enums import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ECPointFormat,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from ..errors import (
    HandshakeFailure,
    IllegalParameter,
    NoApplicationProtocol,
    ProtocolVersionError,
)
from ..events import HandshakeComplete
from ..messages import (
    ALPN,
    Certificate,
    ChangeCipherSpec,
    ClientHello,
    ClientKeyExchange,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    Finished,
    RenegotiationInfo,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    ServerName,
    SignatureAlgorithms,
    SupportedGroups,
    SupportedVersions,
    encode_handshake,
    find_extension,
)
from .base import (
    CHANGE_CIPHER_SPEC,
    Message,
    Output,
    State,
    TrafficKeys,
    Transcript,
    check_finished,
    decide,
    derive_keys,
    derive_master_secret,
    send_finished,
    unexpected,
)

__all__ = [
    "ExpectChangeCipherSpec",
    "ExpectClientHello",
    "ExpectClientKeyExchange",
    "ExpectFinished",
    "ServerTraffic",
]


_SERVER_HELLO_DONE = encode_handshake(ServerHelloDone())


def _choose_suite(config: ServerConfig, hello: ClientHello) -> CipherSuite:
    for suite in config.cipher_suites:
        if suite in hello.cipher_suites:
            return suite
    raise HandshakeFailure("no cipher suite in common")


def _choose_group(config: ServerConfig, hello: ClientHello) -> tuple[NamedGroup, str]:
    ext = find_extension(hello.extensions, SupportedGroups)
    if ext is None:
        # RFC 8422 §4: a client without supported_groups supports secp256r1.
        if NamedGroup.SECP256R1 in config.groups:
            return NamedGroup.SECP256R1, "no supported_groups from the client: secp256r1 (RFC 8422 §4)"
        raise HandshakeFailure("client sent no supported_groups and secp256r1 is disabled")
    for group in config.groups:
        if group in ext.groups:
            return group, "the server's first preference among the client's supported_groups"
    raise HandshakeFailure("no ECDHE group in common")


def _choose_scheme(config: ServerConfig, hello: ClientHello) -> SignatureScheme:
    ext = find_extension(hello.extensions, SignatureAlgorithms)
    if ext is None:
        # RFC 9155 §3 forbids the SHA-1 default of RFC 5246 §7.4.1.4.1.
        raise HandshakeFailure("client sent no signature_algorithms")
    key_size = config.private_key.key_size
    for scheme in config.signature_schemes:
        if scheme in ext.schemes and signatures.usable_with(key_size, scheme):
            return scheme
    raise HandshakeFailure("no RSA signature scheme in common")


def _choose_alpn(config: ServerConfig, hello: ClientHello) -> bytes | None:
    ext = find_extension(hello.extensions, ALPN)
    if ext is None or not config.alpn_protocols:
        return None
    for protocol in config.alpn_protocols:
        if protocol in ext.protocols:
            return protocol
    # RFC 7301 §3.2.
    raise NoApplicationProtocol("no ALPN protocol in common")


@dataclass(frozen=True, slots=True)
class ExpectClientHello:
    expects: ClassVar[str] = "ClientHello"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.CLIENT_HELLO})
    config: ServerConfig

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ClientHello):
            raise unexpected(self, message)
        config, hello, neg = self.config, message, out.negotiated
        neg.client_random = hello.random
        neg.offered_cipher_suites = hello.cipher_suites
        sni = find_extension(hello.extensions, ServerName)
        neg.server_name = sni.host_names[0] if sni is not None and sni.host_names else None
        # The application may serve this name with another configuration (another certificate).
        config = out.config_for_name(neg.server_name) or config

        # Version: TLS 1.2, or a client that offers 1.2 among higher ones (RFC 5246 E.1).
        if hello.client_version < ProtocolVersion.TLS1_2:
            raise ProtocolVersionError(f"client offers at most {hello.client_version.name}")
        versions = find_extension(hello.extensions, SupportedVersions)
        if versions is not None and ProtocolVersion.TLS1_2 not in versions.versions:
            raise ProtocolVersionError("client's supported_versions does not include TLS 1.2")
        if 0 not in hello.compression_methods:
            raise IllegalParameter("client does not offer null compression")

        formats = find_extension(hello.extensions, ECPointFormats)
        if formats is not None and ECPointFormat.UNCOMPRESSED not in formats.formats:
            # RFC 8422 §5.1.2.
            raise IllegalParameter("client does not accept uncompressed EC points")

        # RFC 5746 §3.6: the SCSV or an empty extension both signal secure renegotiation.
        reneg = find_extension(hello.extensions, RenegotiationInfo)
        if reneg is not None and reneg.renegotiated_connection:
            raise HandshakeFailure("renegotiation_info is not empty in an initial handshake")
        secure_reneg = reneg is not None or CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites

        suite = _choose_suite(config, hello)
        group, group_why = _choose_group(config, hello)
        scheme = _choose_scheme(config, hello)
        alpn = _choose_alpn(config, hello)
        ems = config.extended_master_secret and find_extension(hello.extensions, ExtendedMasterSecret) is not None
        if config.require_extended_master_secret and not ems:
            raise HandshakeFailure("client does not support the extended master secret (RFC 7627)")

        neg.version = ProtocolVersion.TLS1_2
        neg.cipher_suite, neg.group, neg.signature_scheme = suite, group, scheme
        neg.extended_master_secret, neg.alpn_protocol = ems, alpn
        if out.tracer is not None:
            decide(out, "cipher suite", suite.name, "the server's first preference among the client's suites")
            decide(out, "group", group.name, group_why)
            decide(out, "signature scheme", scheme.name,
                   "the server's first preference among the client's signature_algorithms")
            decide(out, "extended master secret", "yes" if ems else "no",
                   "both sides offered it" if ems else "not offered by both sides")
            decide(out, "server name", neg.server_name or "(none)",
                   "from the client's server_name extension" if neg.server_name else "the client sent no SNI")
            if alpn is not None:
                decide(out, "ALPN", alpn.decode("utf-8", "replace"),
                       "the server's first preference among the client's protocols")
            elif find_extension(hello.extensions, ALPN) is not None:
                decide(out, "ALPN", "(none)", "the server has no ALPN protocols configured")

        # The reply carries only extensions the client offered (RFC 5246 §7.4.1.4).
        extensions: list[Extension] = []
        if sni is not None and neg.server_name is not None:
            extensions.append(ServerName())
        if secure_reneg:
            extensions.append(RenegotiationInfo(b""))
        if ems:
            extensions.append(ExtendedMasterSecret())
        if formats is not None:
            extensions.append(ECPointFormats((ECPointFormat.UNCOMPRESSED,)))
        if alpn is not None:
            extensions.append(ALPN((alpn,)))
        server_hello = ServerHello(
            server_version=ProtocolVersion.TLS1_2,
            random=config.provider.random(32),
            session_id=b"",
            cipher_suite=suite,
            compression_method=0,
            extensions=tuple(extensions),
        )
        neg.server_random = server_hello.random
        spec = SUITES[suite]
        transcript = Transcript()
        transcript.start(spec.prf_hash)
        transcript.add(raw)
        transcript.add(out.send_handshake(server_hello))
        transcript.add(out.send_handshake(Certificate(config.certificate_chain_der), config.certificate_message))

        # §7.4.3: ECDHE parameters signed over client_random + server_random + params.
        key = config.provider.ephemeral_key(group)
        unsigned = ServerKeyExchange(named_curve=group, public=key.public, scheme=scheme, signature=b"")
        signed_data = hello.random + server_hello.random + unsigned.params_bytes()
        signature = signatures.sign(config.private_key, scheme, signed_data)
        transcript.add(out.send_handshake(
            ServerKeyExchange(named_curve=group, public=key.public, scheme=scheme, signature=signature)))
        transcript.add(out.send_handshake(ServerHelloDone(), _SERVER_HELLO_DONE))
        return ExpectClientKeyExchange(spec, transcript, key)


@dataclass(frozen=True, slots=True)
class ExpectClientKeyExchange:
    expects: ClassVar[str] = "ClientKeyExchange"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.CLIENT_KEY_EXCHANGE})
    suite: SuiteSpec
    transcript: Transcript
    key: EphemeralKey

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ClientKeyExchange):
            raise unexpected(self, message)
        pre_master_secret = self.key.exchange(message.public)
        self.transcript.add(raw)
        master = derive_master_secret(out, self.suite, pre_master_secret, self.transcript)
        keys = derive_keys(out, self.suite, master)
        return ExpectChangeCipherSpec(self.suite, self.transcript, master, keys)


@dataclass(frozen=True, slots=True)
class ExpectChangeCipherSpec:
    expects: ClassVar[str] = "the client's ChangeCipherSpec"
    accepts: ClassVar[frozenset[int]] = frozenset({CHANGE_CIPHER_SPEC})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ChangeCipherSpec):
            raise unexpected(self, message)
        out.set_read_cipher(self.keys.client_write)
        return ExpectFinished(self.suite, self.transcript, self.master_secret, self.keys)


@dataclass(frozen=True, slots=True)
class ExpectFinished:
    expects: ClassVar[str] = "the client's Finished"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.FINISHED})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, Finished):
            raise unexpected(self, message)
        out.negotiated.client_verify_data = check_finished(
            out, self.suite, self.master_secret, self.transcript, message, "client",
            "handshake messages up to ClientKeyExchange")
        self.transcript.add(raw)
        out.negotiated.server_verify_data = send_finished(out, self.suite, self.master_secret, self.transcript,
                                                          self.keys.server_write, "server")
        out.event(HandshakeComplete())
        return ServerTraffic()


@dataclass(frozen=True, slots=True)
class ServerTraffic:
    """Established. A new ClientHello is a renegotiation attempt: refused with a
    warning no_renegotiation (RFC 5246 §7.4.1.2, RFC 5746 §4.4); the connection stays up."""

    expects: ClassVar[str] = "application data"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.CLIENT_HELLO})
    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if isinstance(message, ClientHello):
            decide(out, "renegotiation", "refused", "tls12 never renegotiates")
            out.send_alert(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)
            return self
        raise unexpected(self, message)
