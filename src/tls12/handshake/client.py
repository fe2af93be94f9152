"""The client side of the TLS 1.2 handshake (RFC 5246 §7.3), one class per state.

    ClientHello            ->
                           <-  ServerHello             ExpectServerHello
                           <-  Certificate             ExpectCertificate
                           <-  ServerKeyExchange       ExpectServerKeyExchange
                           <-  CertificateRequest?     ExpectServerHelloDone
                           <-  ServerHelloDone         ExpectServerHelloDone
    Certificate?           ->
    ClientKeyExchange      ->
    [ChangeCipherSpec]     ->
    Finished               ->
                           <-  NewSessionTicket?       ExpectNewSessionTicket
                           <-  [ChangeCipherSpec]      ExpectChangeCipherSpec
                           <-  Finished                ExpectFinished
    application data      <->                          Traffic

Resuming a session (RFC 5246 §7.3, RFC 5077 §3.1), when the server echoes the
ClientHello's session_id:

    ClientHello            ->  (the session's ID, or its ticket and a random ID)
                           <-  ServerHello             ExpectServerHello
                           <-  NewSessionTicket?       ExpectNewSessionTicket
                           <-  [ChangeCipherSpec]      ExpectResumedChangeCipherSpec
                           <-  Finished                ExpectResumedFinished
    [ChangeCipherSpec]     ->
    Finished               ->
    application data      <->                          Traffic

A session is offered only if it may still be used as it was made: not expired,
its suite still enabled, the same server name and verification policy, its
client certificate (if any) still configured, its ALPN protocol still offered,
and made with the extended master secret (RFC 7627 §5.3); a resumed ServerHello
must keep its suite and the extended master secret. A server that answers with
a full handshake gets one. NewSessionTicket comes only after a ServerHello with
the SessionTicket extension, and may hold no ticket (RFC 5077 §3.3).

With static RSA there is no ServerKeyExchange: after the Certificate the client
waits for ServerHelloDone (the suite's key-exchange strategy says so, see
handshake/keyexchange.py). Each state keeps only what it needs, and declares in
`accepts` the messages it takes; every state takes a HelloRequest, which the
connection ignores during the handshake (§7.4.1.1: never hashed) and refuses
once established. The server's chain is verified as soon as it arrives, and its
key must be the kind the suite needs; the ServerKeyExchange signature is
verified before its parameters are looked at, and they are checked before they
are used. Secrets first exist in `ExpectChangeCipherSpec`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from dataclasses import dataclass
from typing import ClassVar

from cryptography import x509

from ..config import ClientConfig
from ..crypto import signatures
from ..crypto.credentials import Credential, KeyType
from ..crypto.signatures import PublicKey, RSAPSSKey, rsa_pss_key
from ..crypto.suites import SUITES, KeyExchange, SuiteSpec
from ..crypto.x509 import parse_chain, path_der, server_public_key, verify_server_chain
from ..enums import (
    AlertDescription,
    AlertLevel,
    ECPointFormat,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from ..errors import (
    CertificateError,
    DecodeError,
    DecryptError,
    HandshakeFailure,
    HostnameMismatch,
    IllegalParameter,
    ProtocolVersionError,
    UnsupportedExtension,
)
from ..events import HandshakeComplete
from ..messages import (
    ALPN,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ChangeCipherSpec,
    ClientHello,
    DHEServerKeyExchange,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    Finished,
    HelloRequest,
    NewSessionTicket,
    RenegotiationInfo,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    ServerName,
    SessionTicket,
    SignatureAlgorithms,
    SupportedGroups,
    encode_handshake,
    find_extension,
)
from ..session import CLIENT_SESSION_LIFETIME, MAX_CLIENT_SESSION_LIFETIME, Session
from ..trace import Tracer, Verification
from .base import (
    CHANGE_CIPHER_SPEC,
    Message,
    Negotiated,
    Output,
    Restored,
    State,
    TrafficKeys,
    Transcript,
    check_finished,
    decide,
    derive_keys,
    derive_master_secret,
    restore_session,
    resumed_master_secret,
    send_finished,
    unexpected,
)
from .keyexchange import STRATEGIES, PeerParams, is_ffdhe

__all__ = [
    "ClientTraffic",
    "ExpectCertificate",
    "ExpectChangeCipherSpec",
    "ExpectFinished",
    "ExpectNewSessionTicket",
    "ExpectResumedChangeCipherSpec",
    "ExpectResumedFinished",
    "ExpectServerHello",
    "ExpectServerHelloDone",
    "ExpectServerKeyExchange",
    "start_client",
]


@dataclass(frozen=True, slots=True)
class _Hello:
    """What the client offered; every later check compares the server's choice against it."""

    config: ClientConfig
    sni: str | None  # the name sent in server_name (None for IP addresses)
    verify_name: str | None  # the name the certificate must match (None: no host-name check)
    message: ClientHello
    offer: _Offer | None = None  # the session offered for resumption

    @property
    def random(self) -> bytes:
        return self.message.random

    @property
    def message_groups(self) -> tuple[NamedGroup, ...]:
        """The groups the ClientHello offered (none if it sent no supported_groups)."""
        ext = find_extension(self.message.extensions, SupportedGroups)
        return () if ext is None else tuple(ext.groups)


def _premaster_how(peer: PeerParams) -> str:
    if peer.rsa_key is not None:
        return "RSA: client_version + 46 random bytes, encrypted to the server certificate's key"
    if peer.ffdhe is not None:
        name = peer.group.name.lower() if peer.group is not None else f"a {peer.ffdhe.bits}-bit group"
        return f"DH({name}): Ys^x mod p, leading zero bytes stripped (RFC 5246 §8.1.2)"
    name = peer.group.name.lower() if peer.group is not None else "?"
    return f"ECDH({name}): our private key with the peer's public key"


@dataclass(frozen=True, slots=True)
class _Offer:
    """A session the ClientHello offers, by its ticket (with a random session_id) or by its ID."""

    restored: Restored
    by_ticket: bool


def _offer(config: ClientConfig, name: str | None, session: Session, out: Output) -> _Offer | None:
    """The session, if it may be offered to this server now; None (the reason traced) if not."""
    restored = restore_session(session, cipher_suites=tuple(config.cipher_suites), policy=config.session_policy,
                               now=config.clock(), certificate_time=config.provider.now())
    by_ticket = config.session_tickets and bool(session.ticket)
    if isinstance(restored, str):
        why: str | None = restored
    elif not config.extended_master_secret:
        why = "EMS rule (RFC 7627 §5.3): the extended master secret is disabled"
    elif session.server_name != name:
        why = "SNI differs: the session is for another server name"
    elif session.local_chain_der and session.local_chain_der not in {c.chain_der for c in config.client_credentials}:
        why = "made with a client certificate this configuration does not have"
    elif session.alpn_protocol is not None and session.alpn_protocol not in config.alpn_protocols:
        why = "its ALPN protocol is no longer offered"
    elif not by_ticket and not session.session_id:
        why = "nothing to resume it by (no session id, and no ticket or tickets disabled)"
    else:
        why = None
    if why is not None:
        decide(out, "session offered", "(none)", why)
        return None
    assert isinstance(restored, Restored)
    return _Offer(restored, by_ticket)


def start_client(config: ClientConfig, sni: str | None, verify_name: str | None, out: Output,
                 session: Session | None = None) -> ExpectServerHello:
    """Build and queue the ClientHello (§7.4.1.2), offering `session` if it may be resumed.

    Everything but the random is the same for every connection of a config to
    a name, so it is built and encoded once and kept on the config; a ClientHello
    that offers a session is encoded for itself."""
    template = config.hello_templates.get(sni)
    if template is None:
        template = config.hello_templates[sni] = _hello_template(config, sni)
    base, head, tail = template
    offer = None if session is None else _offer(config, sni if sni is not None else verify_name, session, out)
    random = config.provider.random(32)
    hello = dataclasses.replace(base, random=random)
    raw = head + random + tail
    if offer is not None:
        offered = offer.restored.session
        if offer.by_ticket:
            # RFC 5077 §3.4: a random session_id, whose echo says the ticket was accepted.
            extensions = tuple(SessionTicket(offered.ticket) if isinstance(ext, SessionTicket) else ext
                               for ext in base.extensions)
            hello = dataclasses.replace(hello, session_id=config.provider.random(32), extensions=extensions)
        else:
            hello = dataclasses.replace(hello, session_id=offered.session_id)
        try:
            raw = encode_handshake(hello)
        except ValueError:  # a ticket too large for the ClientHello's extensions
            decide(out, "session offered", "(none)", f"its ticket ({len(offered.ticket)} bytes) does not fit "
                   "in a ClientHello")
            offer, hello, raw = None, dataclasses.replace(base, random=random), head + random + tail
        else:
            if out.tracer is not None:
                age = int(config.clock()) - offered.created
                decide(out, "session offered", f"ticket of {len(offered.ticket)} bytes" if offer.by_ticket
                       else f"session id {offered.session_id.hex()}",
                       f"a session for {offered.server_name or '(no name)'}, {age} s old" + (
                           "; with a random session_id, whose echo says the server resumes it (RFC 5077 §3.4)"
                           if offer.by_ticket else ""))
    transcript = Transcript()
    transcript.add(out.send_handshake(hello, raw))
    out.negotiated.client_random = random
    out.negotiated.offered_cipher_suites = hello.cipher_suites
    return ExpectServerHello(_Hello(config, sni, verify_name, hello, offer), transcript)


def _hello_template(config: ClientConfig, sni: str | None) -> tuple[ClientHello, bytes, bytes]:
    """(the ClientHello with a blank random, its encoding before the random, after it)."""
    extensions: list[Extension] = []
    if sni is not None:
        extensions.append(ServerName((sni,)))
    # FFDHE groups only with a DHE suite: they would only tell the server what we cannot use.
    dhe = any(SUITES[s].key_exchange is KeyExchange.DHE for s in config.cipher_suites)
    groups = tuple(g for g in config.groups if dhe or not is_ffdhe(g))
    if groups:
        extensions.append(SupportedGroups(groups))
    extensions += [
        ECPointFormats((ECPointFormat.UNCOMPRESSED,)),
        SignatureAlgorithms(tuple(config.signature_schemes)),
    ]
    if config.extended_master_secret:
        extensions.append(ExtendedMasterSecret())
        if config.session_tickets:
            # RFC 5077 §3.2: empty, it asks for a ticket (only with the extended master secret: tls12
            # makes no session without it).
            extensions.append(SessionTicket())
    extensions.append(RenegotiationInfo(b""))
    if config.alpn_protocols:
        extensions.append(ALPN(tuple(config.alpn_protocols)))  # type: ignore[arg-type]
    hello = ClientHello(
        client_version=ProtocolVersion.TLS1_2,
        random=bytes(32),
        session_id=b"",
        cipher_suites=tuple(config.cipher_suites),
        compression_methods=b"\x00",
        extensions=tuple(extensions),
    )
    raw = encode_handshake(hello)
    random_at = 4 + 2  # the handshake header, then client_version
    return hello, raw[:random_at], raw[random_at + 32 :]


@dataclass(frozen=True, slots=True)
class ExpectServerHello:
    expects: ClassVar[str] = "ServerHello"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.SERVER_HELLO, HandshakeType.HELLO_REQUEST})
    hello: _Hello
    transcript: Transcript

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ServerHello):
            raise unexpected(self, message)
        config = self.hello.config
        neg = out.negotiated
        # RFC 5246 E.1: a version the client does not support is protocol_version.
        if message.server_version != ProtocolVersion.TLS1_2:
            raise ProtocolVersionError(f"server chose {message.server_version.name}, only TLS1_2 is offered")
        if message.cipher_suite not in config.cipher_suites:
            raise IllegalParameter(f"server chose suite {message.cipher_suite.name}, which was not offered")
        if message.compression_method != 0:
            raise IllegalParameter("server chose a compression method other than null")
        offered = {ext.ext_type for ext in self.hello.message.extensions}
        for ext in message.extensions:
            # §7.4.1.4: an extension the client did not request is unsupported_extension.
            if ext.ext_type not in offered:
                raise UnsupportedExtension(f"server sent unrequested extension {ext.ext_type.name}")

        # RFC 5746 §3.4: the server must show it supports secure renegotiation
        # (tls12 never renegotiates, but a server without it is a legacy server).
        reneg = find_extension(message.extensions, RenegotiationInfo)
        if reneg is None:
            raise HandshakeFailure("server does not support secure renegotiation (RFC 5746)")
        if reneg.renegotiated_connection:
            raise HandshakeFailure("renegotiation_info is not empty in an initial handshake")

        ems = find_extension(message.extensions, ExtendedMasterSecret) is not None
        if config.require_extended_master_secret and not ems:
            raise HandshakeFailure("server does not support the extended master secret (RFC 7627)")
        neg.extended_master_secret = ems

        formats = find_extension(message.extensions, ECPointFormats)
        if formats is not None and ECPointFormat.UNCOMPRESSED not in formats.formats:
            raise IllegalParameter("server does not accept uncompressed EC points")

        alpn = find_extension(message.extensions, ALPN)
        if alpn is not None:
            if len(alpn.protocols) != 1 or alpn.protocols[0] not in config.alpn_protocols:
                raise IllegalParameter("server selected an ALPN protocol that was not offered")
            neg.alpn_protocol = alpn.protocols[0]
            if out.tracer is not None:
                decide(out, "ALPN", alpn.protocols[0].decode("utf-8", "replace"),
                       "selected by the server from our offer")

        offer = self.hello.offer
        if offer is not None:
            # RFC 5246 §7.4.1.3: the server resumes by echoing the session_id (RFC 5077 §3.4: for a
            # ticket, the random one we sent).
            if message.session_id and message.session_id == self.hello.message.session_id:
                return _resumed(self.hello, offer, message, raw, self.transcript, out)
            neg.resumption = "declined"
            decide(out, "session", "full handshake", "the server did not echo our session_id: it did not "
                   "resume the session")
        neg.session_id = message.session_id
        neg.new_session_ticket = find_extension(message.extensions, SessionTicket) is not None
        neg.version = message.server_version
        neg.cipher_suite = message.cipher_suite
        neg.server_random = message.random
        neg.server_name = self.hello.sni
        suite = SUITES[message.cipher_suite]
        if out.tracer is not None:
            decide(out, "cipher suite", message.cipher_suite.name, "chosen by the server from our offer")
            decide(out, "extended master secret", "yes" if ems else "no",
                   "the server echoed the extension" if ems else "the server did not echo the extension")
        # A client with certificates keeps the raw messages: its CertificateVerify signs them with
        # its scheme's hash (RFC 5246 §7.4.8), which need not be the PRF hash.
        config = self.hello.config
        self.transcript.start(suite.prf_hash,
                              keep=bool(config.client_credentials) or config.client_credential_callback is not None)
        self.transcript.add(raw)
        return ExpectCertificate(self.hello, suite, self.transcript)


def _resumed(hello: _Hello, offer: _Offer, message: ServerHello, raw: bytes, transcript: Transcript,
             out: Output) -> State:
    """The server resumes the offered session: keys from its master secret and the new randoms; the
    server's ChangeCipherSpec and Finished come next (after a NewSessionTicket if it renews the ticket)."""
    session = offer.restored.session
    neg = out.negotiated
    # RFC 5246 §7.4.1.3: the session's own suite (and null compression, checked already).
    if message.cipher_suite != session.cipher_suite:
        raise IllegalParameter(f"server resumed the session with {message.cipher_suite.name}, not its "
                               f"{session.cipher_suite.name}")
    if not neg.extended_master_secret:
        raise HandshakeFailure("EMS rule (RFC 7627 §5.3): the server resumed a session made with the extended "
                               "master secret without it")
    renew = find_extension(message.extensions, SessionTicket) is not None
    neg.version, neg.cipher_suite, neg.server_random = message.server_version, message.cipher_suite, message.random
    neg.server_name, neg.session_id, neg.new_session_ticket = hello.sni, message.session_id, renew
    neg.resumption = "resumed"
    neg.peer_certificate_chain = offer.restored.peer_chain
    neg.verified_certificate_chain = offer.restored.verified_chain
    neg.peer_chain_der, neg.verified_chain_der = session.peer_chain_der, session.verified_chain_der
    how = "by its ticket" if offer.by_ticket else "by its session id"
    if out.tracer is not None:
        decide(out, "session", "resumed", f"the server echoed our session_id: the session resumed {how} "
               "(abbreviated handshake, RFC 5246 §7.3)" + ("; a new ticket follows" if renew else ""))
        decide(out, "cipher suite", session.cipher_suite.name, "the resumed session's")
        decide(out, "extended master secret", "yes", "the resumed session's; the server echoed the extension")
    suite = SUITES[message.cipher_suite]
    transcript.start(suite.prf_hash)
    transcript.add(raw)
    master = resumed_master_secret(out, session, how)
    keys = derive_keys(out, suite, master)
    if renew:
        return ExpectNewSessionTicket(suite, transcript, master, keys, None, session)
    return ExpectResumedChangeCipherSpec(suite, transcript, master, keys, session)


@dataclass(frozen=True, slots=True)
class ExpectCertificate:
    expects: ClassVar[str] = "Certificate"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.CERTIFICATE, HandshakeType.HELLO_REQUEST})
    hello: _Hello
    suite: SuiteSpec
    transcript: Transcript

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, Certificate):
            raise unexpected(self, message)
        if not message.certificate_list:
            raise DecodeError("server sent an empty certificate list")
        received = message.certificate_list
        chain = parse_chain(received)
        neg = out.negotiated
        neg.peer_certificate_chain, neg.peer_chain_der = tuple(chain), received
        config = self.hello.config
        if config.verify_certificates:
            now = config.provider.now()
            name = self.hello.verify_name
            try:
                path = verify_server_chain(config.trust, chain, name, now, received)
            except CertificateError as exc:
                if out.tracer is not None:
                    _trace_chain_failure(out.tracer, config, chain, name, now, exc)
                raise
            neg.verified_certificate_chain = tuple(path)
            neg.verified_chain_der = path_der(path, chain, received, config.trust)
            if out.tracer is not None:
                _trace_chain(out.tracer, path, name)
        elif out.tracer is not None:
            out.tracer(Verification("certificate chain", False, "not verified: verification is disabled"))
        # The key must be the kind the suite uses, with a keyUsage that allows the use (RFC 5246 §7.4.2).
        leaf = chain[0]
        server = _ServerKey(server_public_key(leaf, self.suite.authentication), rsa_pss_key(leaf))
        self.transcript.add(raw)
        strategy = STRATEGIES[self.suite.key_exchange]
        if strategy.expects_server_key_exchange:
            return ExpectServerKeyExchange(self.hello, self.suite, self.transcript, server)
        # Static RSA: no ServerKeyExchange (§7.4.3); the certificate's key is the server's part.
        peer = strategy.read_params(None, self.hello.message_groups, server.key)
        return ExpectServerHelloDone(self.hello, self.suite, self.transcript, peer, False)


def _trace_chain(emit: Tracer, path: list[x509.Certificate], name: str | None) -> None:
    """One Verification per certificate of the verified path, then the name."""
    for i, cert in enumerate(path):
        role = "trust anchor" if i == len(path) - 1 else ("server certificate" if i == 0 else "intermediate CA")
        issuer = "itself (a root in the trust store)" if i == len(path) - 1 else path[i + 1].subject.rfc4514_string()
        emit(Verification(
            f"certificate[{i}]", True,
            f"{role}: signature checked against {issuer}; valid {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}",
            subject=cert.subject.rfc4514_string()))
    emit(Verification(
        "certificate chain", True,
        f"a path of {len(path)} certificate{'s' if len(path) > 1 else ''} to a trusted root"))
    if name is None:
        emit(Verification("host name", True, "not checked (check_hostname is off)"))
    else:
        emit(Verification("host name", True, f"{name} matches the certificate's subjectAltName"))


def _trace_chain_failure(emit: Tracer, config: ClientConfig, chain: list[x509.Certificate], name: str | None,
                         now: datetime.datetime, exc: CertificateError) -> None:
    """Explain a refused chain; for a name mismatch, also say whether the chain itself was fine."""
    if isinstance(exc, HostnameMismatch):
        try:
            path = verify_server_chain(config.trust, chain, None, now)
        except CertificateError:
            pass
        else:
            _trace_chain(emit, path, None)
            emit(Verification("host name", False, str(exc)))
            return
    emit(Verification("certificate chain", False, str(exc), subject=chain[0].subject.rfc4514_string()))


@dataclass(frozen=True, slots=True)
class _ServerKey:
    """The verified certificate's key, of the kind the suite needs, and its RSASSA-PSS parameters."""

    key: PublicKey
    rsa_pss: RSAPSSKey | None


@dataclass(frozen=True, slots=True)
class ExpectServerKeyExchange:
    expects: ClassVar[str] = "ServerKeyExchange"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.SERVER_KEY_EXCHANGE, HandshakeType.HELLO_REQUEST})
    hello: _Hello
    suite: SuiteSpec
    transcript: Transcript
    server_key: _ServerKey

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ServerKeyExchange | DHEServerKeyExchange):
            raise unexpected(self, message)
        config = self.hello.config
        # 1. The scheme must be one we offered (RFC 5246 §7.4.1.4.1).
        if message.scheme not in config.signature_schemes:
            raise IllegalParameter(f"server signed with {message.scheme.name}, which was not offered")
        # 2. §7.4.3: the signature covers client_random + server_random + the params as sent; a scheme
        #    that does not fit the certificate's key is illegal_parameter, a bad signature decrypt_error.
        signed = self.hello.random + out.negotiated.server_random + message.params_bytes()
        try:
            signatures.verify(self.server_key.key, message.scheme, message.signature, signed,
                              rsa_pss=self.server_key.rsa_pss)
        except (DecryptError, IllegalParameter) as exc:
            if out.tracer is not None:
                out.tracer(Verification("ServerKeyExchange signature", False, str(exc)))
            raise
        if out.tracer is not None:
            out.tracer(Verification("ServerKeyExchange signature", True,
                                    f"{message.scheme.name.lower()} over client_random + server_random + params"))
        # 3. The params themselves, now known to be the server's: the key exchange's checks.
        peer = STRATEGIES[self.suite.key_exchange].read_params(message, self.hello.message_groups,
                                                               self.server_key.key)
        out.negotiated.group = peer.group
        out.negotiated.signature_scheme = message.scheme
        if out.tracer is not None and peer.ffdhe is not None:
            decide(out, "group", peer.group.name if peer.group is not None else f"explicit {peer.ffdhe.bits}-bit",
                   "the server's DH parameters" + (" (an RFC 7919 group)" if peer.group is not None else ""))
        self.transcript.add(raw)
        return ExpectServerHelloDone(self.hello, self.suite, self.transcript, peer, False)


_AFTER_CERTIFICATE_REQUEST = frozenset({HandshakeType.SERVER_HELLO_DONE, HandshakeType.HELLO_REQUEST})
_BEFORE_CERTIFICATE_REQUEST = _AFTER_CERTIFICATE_REQUEST | {HandshakeType.CERTIFICATE_REQUEST}

#: ClientCertificateType (RFC 5246 §7.4.4; RFC 8422 §5.5: ecdsa_sign covers Ed25519 too).
_CERTIFICATE_TYPES = {KeyType.RSA: 1, KeyType.RSA_PSS: 1, KeyType.ECDSA_P256: 64, KeyType.ECDSA_P384: 64,
                      KeyType.ECDSA_P521: 64, KeyType.ED25519: 64}


def _names_a_ca(credential: Credential, authorities: tuple[bytes, ...]) -> bool:
    """Does the credential's chain reach one of the server's certificate_authorities (DER names)?"""
    return any(c.issuer.public_bytes() in authorities or c.subject.public_bytes() in authorities
               for c in credential.chain)


def choose_client_credential(credentials: tuple[Credential, ...], request: CertificateRequest
                             ) -> tuple[Credential, SignatureScheme] | None:
    """The credential to answer a CertificateRequest with, and the scheme it signs with: its key
    type among certificate_types and a scheme among supported_signature_algorithms; one whose chain
    reaches a listed authority first (an empty list names none: any fits). None: none fits."""
    fitting: list[tuple[Credential, SignatureScheme]] = []
    for credential in credentials:
        if _CERTIFICATE_TYPES[credential.key_type] not in request.certificate_types:
            continue
        scheme = next((s for s in credential.schemes if s in request.supported_signature_algorithms), None)
        if scheme is not None:
            fitting.append((credential, scheme))
    if request.certificate_authorities:
        for credential, scheme in fitting:
            if _names_a_ca(credential, request.certificate_authorities):
                return credential, scheme
    return fitting[0] if fitting else None


def _client_credential(config: ClientConfig, request: CertificateRequest
                       ) -> tuple[Credential, SignatureScheme] | None:
    """The application's callback decides if it is given; otherwise `choose_client_credential`."""
    if config.client_credential_callback is None:
        return choose_client_credential(tuple(config.client_credentials), request)
    credential = config.client_credential_callback(
        request.certificate_authorities, request.supported_signature_algorithms, request.certificate_types)
    if credential is None:
        return None
    return choose_client_credential((credential,), dataclasses.replace(request, certificate_authorities=()))


_TYPE_NAMES = {1: "rsa_sign", 64: "ecdsa_sign"}


def _credential_refusal(credential: Credential, request: CertificateRequest) -> str:
    """Why a credential cannot answer a CertificateRequest (it is not among those that fit)."""
    kind = _CERTIFICATE_TYPES[credential.key_type]
    if kind not in request.certificate_types:
        return f"the server takes no {_TYPE_NAMES[kind]} certificate"
    return "none of its signature schemes is one the server lists"


def _client_credential_why(config: ClientConfig, request: CertificateRequest,
                           chosen: tuple[Credential, SignatureScheme] | None) -> str:
    """Why this credential answers the CertificateRequest, or why none does, for the glass box."""
    by_callback = config.client_credential_callback is not None
    if chosen is None:
        if by_callback:
            return "the application's callback gave no certificate that fits the request: an empty Certificate"
        if not config.client_credentials:
            return "the server asked for a certificate and the client has none: an empty Certificate"
        refusals = "; ".join(f"{c.description}: {_credential_refusal(c, request)}" for c in config.client_credentials)
        return f"no certificate fits the server's request ({refusals}): an empty Certificate"
    credential, scheme = chosen
    reasons = [f"its {credential.key_type} key is a kind the server takes "
               f"({_TYPE_NAMES[_CERTIFICATE_TYPES[credential.key_type]]})",
               f"it signs with {scheme.name.lower()}, its first scheme the server lists"]
    authorities = request.certificate_authorities
    reached = next((name for c in credential.chain for name in (c.issuer, c.subject)
                    if name.public_bytes() in authorities), None)
    if reached is not None:
        reasons.append(f"its chain reaches {reached.rfc4514_string()}, a CA the server names")
    elif authorities:
        count = f"{len(authorities)} CA{'s' if len(authorities) != 1 else ''} the server names"
        reasons.append(f"its chain reaches none of the {count}: it goes anyway, and the server decides"
                       if by_callback else
                       f"no certificate that fits reaches one of the {count}: the first that fits goes anyway, and "
                       "the server decides")
    else:
        reasons.append("the server names no CA, so any issuer may do")
    head = "the application's callback chose it; " if by_callback else ""
    return head + "; ".join(reasons)


@dataclass(frozen=True, slots=True)
class ExpectServerHelloDone:
    expects: ClassVar[str] = "ServerHelloDone (or one CertificateRequest)"
    hello: _Hello
    suite: SuiteSpec
    transcript: Transcript
    peer: PeerParams
    certificate_requested: bool
    #: What answers the CertificateRequest (None: an empty Certificate).
    client_credential: tuple[Credential, SignatureScheme] | None = None

    @property
    def accepts(self) -> frozenset[int]:
        return _AFTER_CERTIFICATE_REQUEST if self.certificate_requested else _BEFORE_CERTIFICATE_REQUEST

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if isinstance(message, CertificateRequest) and not self.certificate_requested:
            self.transcript.add(raw)
            chosen = _client_credential(self.hello.config, message)
            if out.tracer is not None:
                decide(out, "client certificate", "none" if chosen is None else chosen[0].description,
                       _client_credential_why(self.hello.config, message, chosen))
            return ExpectServerHelloDone(self.hello, self.suite, self.transcript, self.peer, True, chosen)
        if not isinstance(message, ServerHelloDone):
            raise unexpected(self, message)
        self.transcript.add(raw)
        # 1. The server's chain, and its signature over its key exchange params, are already verified.
        # 2. RFC 5246 §7.4.6: answer a CertificateRequest with our chain, or an empty Certificate.
        if self.certificate_requested:
            chain = () if self.client_credential is None else self.client_credential[0].chain_der
            self.transcript.add(out.send_handshake(Certificate(chain)))
        # 3. The key exchange: our ClientKeyExchange and the premaster secret (the suite's strategy).
        config = self.hello.config
        strategy = STRATEGIES[self.suite.key_exchange]
        message, pre_master_secret = strategy.client_share(self.peer, config.provider,
                                                           self.hello.message.client_version)
        self.transcript.add(out.send_handshake(message))
        # 4. Master secret (extended when negotiated: the session hash ends here) and keys.
        master = derive_master_secret(out, self.suite, pre_master_secret, self.transcript,
                                      functools.partial(_premaster_how, self.peer))
        keys = derive_keys(out, self.suite, master)
        # 4b. §7.4.8: CertificateVerify, our signature over every handshake message so far (after the
        # master secret: the extended master secret's session hash ends at ClientKeyExchange).
        if self.client_credential is not None:
            credential, scheme = self.client_credential
            signature = signatures.sign(credential.private_key, scheme, self.transcript.messages(),
                                        rsa_pss=credential.rsa_pss)
            self.transcript.release()
            self.transcript.add(out.send_handshake(CertificateVerify(scheme, signature)))
        # 5. ChangeCipherSpec, then Finished: the first protected message.
        neg = out.negotiated
        neg.client_verify_data = send_finished(out, self.suite, master, self.transcript, keys.client_write, "client")
        # 6. A session is made of this handshake only with the extended master secret (RFC 7627 §5.3).
        seed = None
        if neg.extended_master_secret:
            hello = self.hello
            seed = _SessionSeed(config, hello.sni if hello.sni is not None else hello.verify_name,
                                () if self.client_credential is None else self.client_credential[0].chain_der)
        if neg.new_session_ticket:
            return ExpectNewSessionTicket(self.suite, self.transcript, master, keys, seed)
        return ExpectChangeCipherSpec(self.suite, self.transcript, master, keys, seed)


@dataclass(frozen=True, slots=True)
class _SessionSeed:
    """What a full handshake's session holds besides what was negotiated: the name it is for, the
    client certificate chain sent, and the server's ticket once one came."""

    config: ClientConfig
    name: str | None
    local_chain_der: tuple[bytes, ...]
    ticket: NewSessionTicket | None = None

    def session(self, neg: Negotiated, master_secret: bytes) -> Session | None:
        """The session, if the server gave a way to resume it (a session_id or a ticket)."""
        ticket = b"" if self.ticket is None else self.ticket.ticket
        if not ticket and not neg.session_id:
            return None
        hint = 0 if self.ticket is None else self.ticket.ticket_lifetime_hint
        assert neg.cipher_suite is not None
        return Session(
            session_id=neg.session_id, master_secret=master_secret, cipher_suite=neg.cipher_suite,
            extended_master_secret=neg.extended_master_secret, server_name=self.name,
            alpn_protocol=neg.alpn_protocol, peer_chain_der=neg.peer_chain_der,
            verified_chain_der=neg.verified_chain_der, local_chain_der=self.local_chain_der,
            policy=self.config.session_policy, created=int(self.config.clock()),
            lifetime=min(hint, MAX_CLIENT_SESSION_LIFETIME) if ticket and hint else CLIENT_SESSION_LIFETIME,
            ticket=ticket, ticket_lifetime_hint=hint)


@dataclass(frozen=True, slots=True)
class ExpectNewSessionTicket:
    """The server's ServerHello carried the SessionTicket extension: NewSessionTicket comes before its
    ChangeCipherSpec (RFC 5077 §3.3), in a full handshake (`seed`) or renewing the ticket of the
    session being resumed (`resumed`). An empty ticket means the server keeps none after all."""

    expects: ClassVar[str] = "the server's NewSessionTicket"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.NEW_SESSION_TICKET, HandshakeType.HELLO_REQUEST})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    seed: _SessionSeed | None
    resumed: Session | None = None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, NewSessionTicket):
            raise unexpected(self, message)
        self.transcript.add(raw)
        if out.tracer is not None:
            if message.ticket:
                decide(out, "session ticket", f"{len(message.ticket)} bytes, lifetime hint "
                       f"{message.ticket_lifetime_hint} s", "from the server's NewSessionTicket (RFC 5077 §3.3)")
            else:
                decide(out, "session ticket", "(empty)", "the server sent no ticket after all (RFC 5077 §3.3)")
        if self.resumed is not None:
            renewed = dataclasses.replace(self.resumed, ticket=message.ticket,
                                          ticket_lifetime_hint=message.ticket_lifetime_hint)
            return ExpectResumedChangeCipherSpec(self.suite, self.transcript, self.master_secret, self.keys, renewed)
        seed = None if self.seed is None else dataclasses.replace(self.seed, ticket=message)
        return ExpectChangeCipherSpec(self.suite, self.transcript, self.master_secret, self.keys, seed)


@dataclass(frozen=True, slots=True)
class ExpectChangeCipherSpec:
    expects: ClassVar[str] = "the server's ChangeCipherSpec"
    accepts: ClassVar[frozenset[int]] = frozenset({CHANGE_CIPHER_SPEC, HandshakeType.HELLO_REQUEST})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    seed: _SessionSeed | None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ChangeCipherSpec):
            raise unexpected(self, message)
        out.set_read_cipher(self.keys.server_write)
        return ExpectFinished(self.suite, self.transcript, self.master_secret, self.seed)


@dataclass(frozen=True, slots=True)
class ExpectFinished:
    expects: ClassVar[str] = "the server's Finished"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.FINISHED, HandshakeType.HELLO_REQUEST})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    seed: _SessionSeed | None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, Finished):
            raise unexpected(self, message)
        neg = out.negotiated
        neg.server_verify_data = check_finished(
            out, self.suite, self.master_secret, self.transcript, message, "server",
            "handshake messages up to the NewSessionTicket" if neg.new_session_ticket
            else "handshake messages up to the client's Finished")
        if self.seed is not None:
            neg.session = self.seed.session(neg, self.master_secret)
        out.event(HandshakeComplete())
        return ClientTraffic()


@dataclass(frozen=True, slots=True)
class ExpectResumedChangeCipherSpec:
    """Resuming: the server's ChangeCipherSpec, then its Finished, come before ours."""

    expects: ClassVar[str] = "the server's ChangeCipherSpec (resuming)"
    accepts: ClassVar[frozenset[int]] = frozenset({CHANGE_CIPHER_SPEC, HandshakeType.HELLO_REQUEST})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    session: Session

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ChangeCipherSpec):
            raise unexpected(self, message)
        out.set_read_cipher(self.keys.server_write)
        return ExpectResumedFinished(self.suite, self.transcript, self.master_secret, self.keys, self.session)


@dataclass(frozen=True, slots=True)
class ExpectResumedFinished:
    """Resuming: the server's Finished; then our ChangeCipherSpec and Finished end the handshake."""

    expects: ClassVar[str] = "the server's Finished (resuming)"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.FINISHED, HandshakeType.HELLO_REQUEST})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    session: Session

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, Finished):
            raise unexpected(self, message)
        neg = out.negotiated
        neg.server_verify_data = check_finished(
            out, self.suite, self.master_secret, self.transcript, message, "server",
            "ClientHello, ServerHello and any NewSessionTicket")
        self.transcript.add(raw)
        neg.client_verify_data = send_finished(out, self.suite, self.master_secret, self.transcript,
                                               self.keys.client_write, "client")
        session = self.session
        # Still resumable if it has an ID or a ticket (an empty renewed ticket leaves it none).
        neg.session = session if session.session_id or session.ticket else None
        neg.session_reused = True
        out.event(HandshakeComplete())
        return ClientTraffic()


@dataclass(frozen=True, slots=True)
class ClientTraffic:
    """Established. The only handshake message a server may send now is HelloRequest,
    and tls12 refuses renegotiation (§7.4.1.1, RFC 5746 §4.2) with a warning."""

    expects: ClassVar[str] = "application data"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.HELLO_REQUEST})
    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if isinstance(message, HelloRequest):
            decide(out, "renegotiation", "refused", "tls12 never renegotiates")
            out.send_alert(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)
            return self
        raise unexpected(self, message)

