"""The server side of the TLS 1.2 handshake (RFC 5246 §7.3), one class per state.

    ExpectClientHello        <-  ClientHello
                                 ServerHello, Certificate,
                                 ServerKeyExchange, ServerHelloDone  ->
                                 [CertificateRequest]                ->
    ExpectClientCertificate  <-  Certificate        (only after a CertificateRequest)
    ExpectClientKeyExchange  <-  ClientKeyExchange
    ExpectCertificateVerify  <-  CertificateVerify  (only after a non-empty client Certificate)
    ExpectChangeCipherSpec   <-  [ChangeCipherSpec]
    ExpectFinished           <-  Finished
                                 NewSessionTicket?, [ChangeCipherSpec], Finished  ->
    ServerTraffic           <->  application data

The abbreviated handshake, when the ClientHello's ticket or session ID names a
session this server may resume (RFC 5246 §7.3, RFC 5077 §3.1):

    ExpectClientHello              <-  ClientHello (a ticket, or a session_id)
                                       ServerHello (that session_id), NewSessionTicket?,
                                       [ChangeCipherSpec], Finished      ->
    ExpectResumedChangeCipherSpec  <-  [ChangeCipherSpec]
    ExpectResumedFinished          <-  Finished
    ServerTraffic                 <->  application data

A session is resumed only if nothing it settled would change: its suite is
still enabled and offered, the SNI name and the ALPN choice are the same, the
client-verification policy is the one that admitted its peer, it has not
expired, and RFC 7627 §5.3 allows it (tls12 resumes only extended-master-secret
sessions; a ClientHello without the extension for one is refused). Anything else,
a ticket that does not open or a store that fails included, is a full handshake.
A full handshake with the extended master secret makes a session: sealed in a
ticket when the client asked for one (NewSessionTicket before the server's
ChangeCipherSpec, RFC 5077 §3.3), else kept in the session store under a new
session ID. A ticket opened with an older key is renewed in the abbreviated handshake.

Negotiation is by the server's preference among what the client offers (or
the client's, with `prefer_client_order`); anything unknown in the ClientHello
is ignored (§7.4.1.2, §7.4.1.4). One pass picks suite, certificate, signature
scheme and group together (`_choose`): suites whose key exchange cannot be
served are passed over, then crypto/credentials.choose_credential takes the
first suite a certificate can serve. The key exchange itself is the suite's
strategy (handshake/keyexchange.py): static RSA sends no ServerKeyExchange,
and the states do not need to know.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from cryptography import x509

from ..config import DEFAULT_SIGNATURE_SCHEMES, ServerConfig
from ..crypto import signatures
from ..crypto.credentials import Credential, CredentialChoice, choose_credential
from ..crypto.dhe import FFDHE_GROUPS
from ..crypto.kx import ECDHE_GROUPS
from ..crypto.suites import SUITES, AEADKind, KeyExchange, SuiteSpec
from ..crypto.tickets import OVERHEAD, open_ticket, seal_ticket, why_not_opened
from ..crypto.x509 import parse_chain, path_der, verify_client_chain
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
    CertificateError,
    DecodeError,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    InsufficientSecurity,
    NoApplicationProtocol,
    NoClientCertificate,
    ProtocolVersionError,
    UnsupportedCertificate,
)
from ..events import HandshakeComplete
from ..messages import (
    ALPN,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ChangeCipherSpec,
    ClientHello,
    ClientKeyExchange,
    DHEClientKeyExchange,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    Finished,
    NewSessionTicket,
    RenegotiationInfo,
    RSAClientKeyExchange,
    ServerHello,
    ServerHelloDone,
    ServerName,
    SessionTicket,
    SignatureAlgorithms,
    SupportedGroups,
    SupportedVersions,
    encode_handshake,
    find_extension,
)
from ..messages.handshake import MAX_TICKET
from ..session import Session
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
from .keyexchange import STRATEGIES, ServerOffer, is_ffdhe

__all__ = [
    "ExpectCertificateVerify",
    "ExpectChangeCipherSpec",
    "ExpectClientCertificate",
    "ExpectClientHello",
    "ExpectClientKeyExchange",
    "ExpectFinished",
    "ExpectResumedChangeCipherSpec",
    "ExpectResumedFinished",
    "ServerTraffic",
    "negotiation_order",
]


_SERVER_HELLO_DONE = encode_handshake(ServerHelloDone())


def negotiation_order(config: ServerConfig, offered: tuple[CipherSuite, ...]) -> tuple[list[CipherSuite], str]:
    """The suites both sides enable, best first, and why in that order.

    The server's order (its `cipher_suites`) by default, the client's with `prefer_client_order`.
    In the server's order, when the client's first suite is a ChaCha20-Poly1305 one (a client
    without AES hardware says so), the ChaCha20 suites move first, keeping their order (the rule
    OpenSSL calls PRIORITIZE_CHACHA). The client's first suite is its first one tls12 knows: TLS 1.3
    suites, signalling values and GREASE are no TLS 1.2 suites."""
    enabled = set(config.cipher_suites)
    if config.prefer_client_order:
        order = list(dict.fromkeys(s for s in offered if s in enabled))
        return order, "the client's first preference the server enables"
    offered_set = set(offered)
    order = [s for s in config.cipher_suites if s in offered_set]
    first = next((SUITES[s] for s in offered if s in SUITES), None)
    if first is not None and first.aead is AEADKind.CHACHA20_POLY1305:
        chacha = [s for s in order if SUITES[s].aead is AEADKind.CHACHA20_POLY1305]
        if chacha:
            order = chacha + [s for s in order if s not in chacha]
            return order, ("the server's first preference among the client's suites, ChaCha20-Poly1305 first "
                           "because the client lists it first")
    return order, "the server's first preference among the client's suites"


def _ecdhe_group(config: ServerConfig, client_groups: tuple[NamedGroup, ...] | None) -> tuple[NamedGroup | None, str]:
    """The ECDHE group, or None when there is none to use (ECDHE suites are then passed over)."""
    if client_groups is None:
        # RFC 8422 §4: a client without supported_groups supports secp256r1.
        if NamedGroup.SECP256R1 in config.groups:
            return NamedGroup.SECP256R1, "no supported_groups from the client: secp256r1 (RFC 8422 §4)"
        return None, "the client sent no supported_groups and secp256r1 is disabled"
    for group in config.groups:
        if group in ECDHE_GROUPS and group in client_groups:
            return group, "the server's first preference among the client's supported_groups"
    return None, "no ECDHE group in common"


@dataclass(frozen=True, slots=True)
class _FFDHE:
    """What RFC 7919 §4 allows for DHE with this client."""

    #: The groups that may be used, in the server's order (empty: no DHE suite may be chosen).
    groups: tuple[NamedGroup, ...]
    #: The client lists FFDHE groups but none the server takes (§4: no DHE suite; if nothing else,
    #: insufficient_security).
    refused: bool
    why: str


def _ffdhe_groups(config: ServerConfig, client_groups: tuple[NamedGroup, ...] | None) -> _FFDHE:
    ours = tuple(g for g in config.groups if g in FFDHE_GROUPS)
    if client_groups is None or not any(is_ffdhe(g) for g in client_groups):
        # §4: a client that lists no FFDHE group is not RFC 7919-compatible; the server may use a group
        # of its choice. tls12 uses its first configured one (ffdhe2048 by default): 2048 bits is what
        # every client that still speaks DHE accepts, and what a client refusing less asks for.
        if not ours:
            return _FFDHE((), False, "no FFDHE group is configured")
        return _FFDHE(ours[:1], False, "the client lists no FFDHE group (not RFC 7919-aware): "
                                       "the server's first FFDHE group (RFC 7919 §4)")
    shared = tuple(g for g in ours if g in client_groups)
    if not shared:
        return _FFDHE((), True, "the client lists FFDHE groups, none of which the server takes (RFC 7919 §4)")
    return _FFDHE(shared, False, "a group the client lists in supported_groups (RFC 7919 §4)")


def _dhe_group(ffdhe: _FFDHE, credential: Credential) -> tuple[NamedGroup, str]:
    """RFC 7919 §4: among the groups allowed, the first at least as strong as the server's key, if any."""
    key_bits = getattr(credential.private_key, "key_size", 0)
    strong = [g for g in ffdhe.groups if FFDHE_GROUPS[g].bits >= key_bits]
    if strong and strong[0] != ffdhe.groups[0]:
        return strong[0], f"{ffdhe.why}; at least as strong as the server's {key_bits}-bit key (RFC 7919 §4)"
    return ffdhe.groups[0], ffdhe.why


_Choice = tuple[CredentialChoice, NamedGroup | None, str, str]
#: The most offers whose negotiation a configuration keeps (`ServerConfig.negotiations`).
_MAX_NEGOTIATIONS = 256


def _choose(config: ServerConfig, hello: ClientHello, server_name: str | None) -> _Choice:
    """The credential, suite, scheme and group: (choice, group, why this suite order, why this group).

    They follow from the configuration and four things the ClientHello offers (its suites, groups
    and signature schemes, and the SNI name) alone, and clients of one kind offer the same: each
    configuration keeps what it chose for the last offers it saw (`ServerConfig.negotiations`, at
    most 256), and an offer seen before costs a lookup instead (1.6 µs against 21 µs in a
    handshake offering one suite to one certificate; more for a browser's dozens of suites or
    several certificates). A refusal is not kept: it is worked out again each time."""
    groups_ext = find_extension(hello.extensions, SupportedGroups)
    sigalgs = find_extension(hello.extensions, SignatureAlgorithms)
    client_groups = None if groups_ext is None else groups_ext.groups
    offered_schemes = None if sigalgs is None else sigalgs.schemes
    key = (hello.cipher_suites, client_groups, offered_schemes, server_name)
    kept = config.negotiations
    choice = kept.get(key)
    if choice is None:
        choice = _negotiate(config, hello.cipher_suites, client_groups, offered_schemes, server_name)
        if len(kept) >= _MAX_NEGOTIATIONS:
            kept.clear()
        kept[key] = choice
    return choice


def _negotiate(config: ServerConfig, offered: tuple[CipherSuite, ...], client_groups: tuple[NamedGroup, ...] | None,
               offered_schemes: tuple[SignatureScheme, ...] | None, server_name: str | None) -> _Choice:
    """`_choose`'s answer, worked out (`client_groups`, `offered_schemes`: None when the extension is absent).

    Suites whose key exchange cannot be served are passed over first (ECDHE without a common
    group; DHE when RFC 7919 §4 forbids it), then the credential chooser walks the rest in order."""
    order, order_why = negotiation_order(config, offered)
    if not order:
        raise HandshakeFailure("no cipher suite in common")
    ec_group, ec_why = _ecdhe_group(config, client_groups)
    ffdhe = _ffdhe_groups(config, client_groups)
    usable = [s for s in order
              if (SUITES[s].key_exchange is not KeyExchange.ECDHE or ec_group is not None)
              and (SUITES[s].key_exchange is not KeyExchange.DHE or ffdhe.groups)]
    dhe_refused = ffdhe.refused and any(SUITES[s].key_exchange is KeyExchange.DHE for s in order)
    # The server's signature_schemes bound what its credentials may sign with.
    client_schemes = None if offered_schemes is None else [s for s in offered_schemes if s in config.signature_schemes]
    try:
        if not usable:
            raise HandshakeFailure(f"no cipher suite in common whose key exchange can be used ({ec_why}; "
                                   f"{ffdhe.why})")
        choice = choose_credential(config.credentials, suites=usable, client_schemes=client_schemes,
                                   server_name=server_name, client_groups=client_groups)
    except HandshakeFailure as exc:
        if dhe_refused:
            # RFC 7919 §4: FFDHE groups offered, none acceptable, and no other suite acceptable.
            raise InsufficientSecurity(f"{ffdhe.why}, and no other suite can be used ({exc})") from None
        raise
    if (choice.scheme is not None and client_schemes is not None
            and tuple(config.signature_schemes) != DEFAULT_SIGNATURE_SCHEMES):
        # Signature schemes configured explicitly are the server's order of preference; by default
        # each credential's own order rules (an ECDSA key's own curve first).
        scheme = next(s for s in config.signature_schemes
                      if s in choice.credential.schemes and s in client_schemes)
        choice = dataclasses.replace(choice, scheme=scheme)
    kx = SUITES[choice.suite].key_exchange
    if kx is KeyExchange.ECDHE:
        return choice, ec_group, order_why, ec_why
    if kx is KeyExchange.DHE:
        group, why = _dhe_group(ffdhe, choice.credential)
        return choice, group, order_why, why
    return choice, None, order_why, "static RSA uses no group"


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
class _Found:
    """A session the ClientHello names, found: by its ticket or in the store."""

    session: Session
    offered: str  # what the client offered, for the glass box
    how: str  # how the session was found
    renew: bool  # a ticket opened with an older key: send a new one


def _find_session(config: ServerConfig, hello: ClientHello, out: Output) -> _Found | None:
    """The session the ClientHello offers: a non-empty SessionTicket is opened; otherwise a session_id
    is looked up in the store. None (with the reason traced) when there is none to be had."""
    ticket = find_extension(hello.extensions, SessionTicket)
    if (ticket is not None and ticket.ticket) or hello.session_id:
        out.negotiated.resumption = "unknown"  # until found
    if ticket is not None and ticket.ticket:
        offered = f"ticket of {len(ticket.ticket)} bytes"
        if config.ticket_keys is None:
            decide(out, "session", "full handshake", f"{offered}: tickets are disabled")
            return None
        try:
            keys = config.ticket_keys.ticket_keys()
        except Exception as exc:  # a key source that fails (a store down) is a miss
            decide(out, "session", "full handshake", f"{offered}: ticket keys failed: {type(exc).__name__}")
            return None
        opened = open_ticket(keys, ticket.ticket)
        if opened is None:
            if out.tracer is not None:
                decide(out, "session", "full handshake",
                       f"{offered}: not opened: {why_not_opened(keys, ticket.ticket)}")
            return None
        plaintext, index = opened
        try:
            session = Session.from_bytes(plaintext)
        except DecodeError:
            decide(out, "session", "full handshake", f"{offered}: opened, but its session does not decode")
            return None
        return _Found(session, offered, f"ticket opened with key {keys[index].name.hex()}", index > 0)
    if not hello.session_id:
        return None
    offered = f"session id {hello.session_id.hex()}"
    store = config.session_store
    if store is None:
        decide(out, "session", "full handshake", f"{offered}: the server keeps no sessions by ID")
        return None
    try:
        value = store.get(hello.session_id)
    except Exception as exc:  # RFC-wise a miss: a store must never fail a handshake
        decide(out, "session", "full handshake", f"{offered}: store failed: {type(exc).__name__}")
        return None
    if value is None:
        decide(out, "session", "full handshake", f"{offered}: session id unknown")
        return None
    stored: Session | None
    try:
        stored = Session.from_bytes(value)
    except DecodeError:
        stored = None
    if stored is None or stored.session_id != hello.session_id:
        decide(out, "session", "full handshake", f"{offered}: the stored session does not decode")
        return None
    return _Found(stored, offered, f"session id {hello.session_id.hex()} found in the store", False)


@dataclass(frozen=True, slots=True)
class _Resume:
    restored: Restored
    how: str
    renew: bool
    alpn: bytes | None


_NO_ALPN = b""  # what _choose_alpn's refusal compares as: no session has an empty ALPN protocol


def _resumable(config: ServerConfig, hello: ClientHello, found: _Found, server_name: str | None,
               out: Output) -> _Resume | None:
    """May the session be resumed with this ClientHello? None (the reason traced) for a full handshake.

    RFC 7627 §5.3: a session with the extended master secret and a ClientHello without it is not
    a full handshake but handshake_failure."""
    session = found.session
    restored = restore_session(session, cipher_suites=tuple(config.cipher_suites), policy=config.session_policy,
                               now=config.clock(), certificate_time=config.provider.now())
    alpn: bytes | None = None
    if isinstance(restored, str):
        why: str | None = restored
    elif session.cipher_suite not in hello.cipher_suites:
        # RFC 5246 §7.4.1.2: a client resuming offers the session's suite.
        why = "suite not offered by the client"
    elif session.server_name != server_name:
        why = "SNI differs"
    elif not config.extended_master_secret:
        why = "EMS rule (RFC 7627 §5.3): the server no longer uses the extended master secret"
    else:
        try:
            alpn = _choose_alpn(config, hello)
        except NoApplicationProtocol:
            alpn = _NO_ALPN
        why = "ALPN choice would differ" if alpn != session.alpn_protocol else None
    if why is not None:
        out.negotiated.resumption = "expired" if session.expired(config.clock()) else "declined"
        decide(out, "session", "full handshake", f"{found.offered}: {why}")
        return None
    if find_extension(hello.extensions, ExtendedMasterSecret) is None:
        raise HandshakeFailure("EMS rule (RFC 7627 §5.3): the offered session used the extended master secret "
                               "and the ClientHello does not offer it")
    assert isinstance(restored, Restored)
    return _Resume(restored, found.how, found.renew, alpn)


def _ticket(config: ServerConfig, session: Session, hint: int, out: Output) -> NewSessionTicket:
    """A NewSessionTicket with the session sealed under the newest ticket key; an empty ticket
    (RFC 5077 §3.3) if there is no key or the session is too large for one."""
    assert config.ticket_keys is not None
    try:
        keys = config.ticket_keys.ticket_keys()
    except Exception as exc:  # a key source that fails: no ticket this time
        decide(out, "session ticket", "(empty)", f"ticket keys failed: {type(exc).__name__}")
        return NewSessionTicket(hint, b"")
    plaintext = session.to_bytes()
    if not keys or len(plaintext) + OVERHEAD > MAX_TICKET:
        decide(out, "session ticket", "(empty)", "no ticket key" if not keys else
               f"the session ({len(plaintext)} bytes) does not fit a ticket (RFC 5077 §3.3: 2^16-1 bytes)")
        return NewSessionTicket(hint, b"")
    ticket = seal_ticket(keys[0], plaintext, config.provider.random(12))
    if out.tracer is not None:
        decide(out, "session ticket", f"{len(ticket)} bytes, lifetime hint {hint} s",
               f"the session sealed under ticket key {keys[0].name.hex()}")
    return NewSessionTicket(hint, ticket)


def _abbreviated(config: ServerConfig, hello: ClientHello, raw: bytes, resume: _Resume, secure_reneg: bool,
                 point_formats: bool, out: Output) -> State:
    """RFC 5246 §7.3: ServerHello echoing the client's session_id, a renewed ticket if due, then our
    ChangeCipherSpec and Finished under keys from the session's master secret and the new randoms."""
    neg, restored = out.negotiated, resume.restored
    session = restored.session
    neg.version = ProtocolVersion.TLS1_2
    neg.cipher_suite, neg.extended_master_secret, neg.alpn_protocol = session.cipher_suite, True, resume.alpn
    neg.peer_certificate_chain, neg.verified_certificate_chain = restored.peer_chain, restored.verified_chain
    neg.peer_chain_der, neg.verified_chain_der = session.peer_chain_der, session.verified_chain_der
    neg.session_id, neg.new_session_ticket = hello.session_id, resume.renew
    neg.resumption = "resumed"
    if out.tracer is not None:
        decide(out, "session", "resumed", resume.how + (", renewed: an older key sealed it" if resume.renew else ""))
        decide(out, "cipher suite", session.cipher_suite.name, "the resumed session's")
        decide(out, "extended master secret", "yes", "the resumed session's; the client offered it")
    # The reply carries only extensions the client offered (§7.4.1.4), and no server_name when
    # resuming (RFC 6066 §3).
    extensions: list[Extension] = []
    if secure_reneg:
        extensions.append(RenegotiationInfo(b""))
    extensions.append(ExtendedMasterSecret())
    if point_formats:
        extensions.append(ECPointFormats((ECPointFormat.UNCOMPRESSED,)))
    if resume.alpn is not None:
        extensions.append(ALPN((resume.alpn,)))
    if resume.renew:
        extensions.append(SessionTicket())
    server_hello = ServerHello(
        server_version=ProtocolVersion.TLS1_2,
        random=config.provider.random(32),
        session_id=hello.session_id,  # RFC 5077 §3.4: the client's, for a ticket too
        cipher_suite=session.cipher_suite,
        compression_method=0,
        extensions=tuple(extensions),
    )
    neg.server_random = server_hello.random
    spec = SUITES[session.cipher_suite]
    transcript = Transcript()
    transcript.start(spec.prf_hash)
    transcript.add(raw)
    transcript.add(out.send_handshake(server_hello))
    if resume.renew:
        # The renewed ticket holds the same session: it expires when the session does.
        remaining = max(session.created + session.lifetime - int(config.clock()), 1)
        transcript.add(out.send_handshake(_ticket(config, session, remaining, out)))
    master = resumed_master_secret(out, session, resume.how)
    keys = derive_keys(out, spec, master)
    neg.server_verify_data = send_finished(out, spec, master, transcript, keys.server_write, "server")
    return ExpectResumedChangeCipherSpec(spec, transcript, master, keys, session)


@dataclass(frozen=True, slots=True)
class _Issue:
    """What becomes of a full handshake's session (one with the extended master secret): sealed in
    a ticket (`ticket`), or kept in the store under the ServerHello's session_id (if it has one)."""

    config: ServerConfig
    ticket: bool

    def session(self, neg: Negotiated, master_secret: bytes) -> Session:
        config = self.config
        assert neg.cipher_suite is not None
        return Session(
            session_id=neg.session_id, master_secret=master_secret, cipher_suite=neg.cipher_suite,
            extended_master_secret=neg.extended_master_secret, server_name=neg.server_name,
            alpn_protocol=neg.alpn_protocol, peer_chain_der=neg.peer_chain_der,
            verified_chain_der=neg.verified_chain_der, local_chain_der=(),
            policy=config.session_policy, created=int(config.clock()), lifetime=config.session_lifetime)

    def keep(self, session: Session, ticket: NewSessionTicket | None, out: Output) -> Session | None:
        """Store the session under its ID, if it has one; the session, if it can be resumed at all
        (stored, or sealed in the ticket sent)."""
        store = self.config.session_store
        stored = False
        if session.session_id and store is not None:
            try:
                store.put(session.session_id, session.to_bytes(), self.config.session_lifetime)
            except Exception as exc:  # a store never fails a handshake: the session is only not kept
                decide(out, "session", "not stored", f"store failed: {type(exc).__name__}")
            else:
                stored = True
                if out.tracer is not None:
                    decide(out, "session", "stored", f"under session id {session.session_id.hex()}, "
                           f"for {self.config.session_lifetime} s")
        return session if stored or (ticket is not None and ticket.ticket) else None


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

        # A session to resume: then the abbreviated handshake (RFC 5246 §7.3).
        found = _find_session(config, hello, out)
        if found is not None:
            resume = _resumable(config, hello, found, neg.server_name, out)
            if resume is not None:
                return _abbreviated(config, hello, raw, resume, secure_reneg, formats is not None, out)

        choice, group, order_why, group_why = _choose(config, hello, neg.server_name)
        suite, scheme, credential = choice.suite, choice.scheme, choice.credential
        alpn = _choose_alpn(config, hello)
        ems = config.extended_master_secret and find_extension(hello.extensions, ExtendedMasterSecret) is not None
        if config.require_extended_master_secret and not ems:
            raise HandshakeFailure("client does not support the extended master secret (RFC 7627)")

        neg.version = ProtocolVersion.TLS1_2
        neg.cipher_suite, neg.group, neg.signature_scheme = suite, group, scheme
        neg.extended_master_secret, neg.alpn_protocol = ems, alpn
        neg.credential = credential
        if out.tracer is not None:
            decide(out, "cipher suite", suite.name, order_why)
            decide(out, "certificate", credential.description, choice.reason)
            decide(out, "group", group.name if group is not None else "(none)", group_why)
            if scheme is not None:
                decide(out, "signature scheme", scheme.name,
                       "the certificate's first preference among the client's signature_algorithms")
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
        # The session (only with the extended master secret, RFC 7627 §5.3): in a ticket if the client
        # asked for one (RFC 5077 §3.2; then no session ID, as it would only fill the store), else
        # under a new session ID if the server keeps a store (§7.4.1.3: empty otherwise).
        issue = None
        if ems:
            ticket = config.ticket_keys is not None and find_extension(hello.extensions, SessionTicket) is not None
            issue = _Issue(config, ticket)
            if ticket:
                extensions.append(SessionTicket())
        server_random = config.provider.random(32)
        spec = SUITES[suite]
        # The key exchange's share is drawn before the session ID: a provider's sequence (a deterministic
        # recording) is then the same whether a session ID is drawn or not.
        offer = STRATEGIES[spec.key_exchange].server_offer(config.provider, group, credential.private_key,
                                                           hello.client_version)
        session_id = b""
        if issue is not None and not issue.ticket and config.session_store is not None:
            session_id = config.provider.random(32)
        server_hello = ServerHello(
            server_version=ProtocolVersion.TLS1_2,
            random=server_random,
            session_id=session_id,
            cipher_suite=suite,
            compression_method=0,
            extensions=tuple(extensions),
        )
        neg.server_random = server_hello.random
        neg.session_id, neg.new_session_ticket = session_id, issue is not None and issue.ticket
        transcript = Transcript()
        # The client's CertificateVerify signs the raw messages with its scheme's hash: keep them.
        client_auth = config.client_auth != "none"
        transcript.start(spec.prf_hash, keep=client_auth)
        transcript.add(raw)
        transcript.add(out.send_handshake(server_hello))
        transcript.add(out.send_handshake(Certificate(credential.chain_der), config.certificate_message(credential)))

        # The key exchange's own ServerKeyExchange, if it has one (§7.4.3): its params signed with the
        # chosen credential over client_random + server_random + params.
        params = offer.params
        if params is not None:
            assert scheme is not None  # every suite with a ServerKeyExchange signs it
            signed_data = hello.random + server_hello.random + params.params_bytes()
            signature = signatures.sign(credential.private_key, scheme, signed_data, rsa_pss=credential.rsa_pss)
            transcript.add(out.send_handshake(dataclasses.replace(params, scheme=scheme, signature=signature)))
        if client_auth:
            # RFC 5246 §7.4.4 (RFC 8422 §5.5: ecdsa_sign covers Ed25519 too).
            request = CertificateRequest(
                certificate_types=bytes((_RSA_SIGN, _ECDSA_SIGN)),
                supported_signature_algorithms=tuple(config.signature_schemes),
                certificate_authorities=config.client_ca_dns,
            )
            transcript.add(out.send_handshake(request))
            if out.tracer is not None:
                decide(out, "client authentication", config.client_auth, _client_auth_why(config))
        transcript.add(out.send_handshake(ServerHelloDone(), _SERVER_HELLO_DONE))
        if client_auth:
            return ExpectClientCertificate(spec, transcript, offer, config, issue)
        return ExpectClientKeyExchange(spec, transcript, offer, issue)


#: ClientCertificateType values (RFC 5246 §7.4.4).
_RSA_SIGN = 1
_ECDSA_SIGN = 64


def _client_auth_why(config: ServerConfig) -> str:
    """What the CertificateRequest asks and what the server does without an answer, for the glass box."""
    if config.client_auth == "required":
        policy = "the client must send a certificate: an empty Certificate gets handshake_failure"
    else:
        policy = "the client may send a certificate: with an empty Certificate the connection stays anonymous"
    count = len(config.client_ca_dns)
    names = (f"the CertificateRequest names the {count} CA{'s' if count != 1 else ''} the server trusts for clients"
             if count else "the CertificateRequest names no CA (client_ca_names is off): any issuer may do")
    return f"{policy}; {names}"


@dataclass(frozen=True, slots=True)
class _ClientKey:
    """The client's verified leaf: its key, and RSASSA-PSS parameters if it has them."""

    key: signatures.PublicKey
    rsa_pss: signatures.RSAPSSKey | None
    #: The schemes the CertificateRequest offered: CertificateVerify must use one.
    offered: tuple[SignatureScheme, ...]


@dataclass(frozen=True, slots=True)
class ExpectClientCertificate:
    """After a CertificateRequest the client answers with a Certificate, possibly empty (§7.4.6)."""

    expects: ClassVar[str] = "the client's Certificate"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.CERTIFICATE})
    suite: SuiteSpec
    transcript: Transcript
    offer: ServerOffer
    config: ServerConfig
    issue: _Issue | None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, Certificate):
            raise unexpected(self, message)
        if not message.certificate_list:
            if self.config.client_auth == "required":
                if out.tracer is not None:
                    out.tracer(Verification("client certificate", False, "the client sent an empty Certificate and "
                                            "client_auth is required (RFC 5246 §7.4.6: handshake_failure)"))
                raise NoClientCertificate("the client sent no certificate and one is required")
            decide(out, "client certificate", "(none)", "the client sent none; client_auth is optional: anonymous")
            self.transcript.add(raw)
            self.transcript.release()
            return ExpectClientKeyExchange(self.suite, self.transcript, self.offer, self.issue)
        received = message.certificate_list
        chain = parse_chain(received)
        out.negotiated.peer_certificate_chain, out.negotiated.peer_chain_der = tuple(chain), received
        try:
            path = verify_client_chain(self.config.client_trust, chain, self.config.provider.now())
        except CertificateError as exc:
            if out.tracer is not None:
                out.tracer(Verification("client certificate chain", False, str(exc),
                                        subject=chain[0].subject.rfc4514_string()))
            raise
        out.negotiated.verified_certificate_chain = tuple(path)
        out.negotiated.verified_chain_der = path_der(path, chain, received, self.config.client_trust)
        if out.tracer is not None:
            _trace_client_chain(out.tracer, path)
        leaf = chain[0]
        key = leaf.public_key()
        if not isinstance(key, signatures.PublicKey):
            raise UnsupportedCertificate(f"client certificate key {type(key).__name__} cannot sign")
        decide(out, "client certificate", leaf.subject.rfc4514_string(), "verified against the client trust anchors")
        self.transcript.add(raw)
        return ExpectClientKeyExchange(self.suite, self.transcript, self.offer, self.issue,
                                       _ClientKey(key, signatures.rsa_pss_key(leaf),
                                                  tuple(self.config.signature_schemes)))


def _trace_client_chain(emit: Tracer, path: list[x509.Certificate]) -> None:
    """One Verification per certificate of the client's verified path, then the chain."""
    for i, cert in enumerate(path):
        last = i == len(path) - 1
        role = "trust anchor" if last else ("client certificate" if i == 0 else "intermediate CA")
        issuer = "itself (a root among the client trust anchors)" if last else path[i + 1].subject.rfc4514_string()
        emit(Verification(
            f"client certificate[{i}]", True,
            f"{role}: signature checked against {issuer}; valid {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}", subject=cert.subject.rfc4514_string()))
    emit(Verification(
        "client certificate chain", True,
        f"a path of {len(path)} certificate{'s' if len(path) > 1 else ''} to a client trust anchor, the leaf "
        "for client authentication (extended key usage clientAuth)"))


@dataclass(frozen=True, slots=True)
class ExpectClientKeyExchange:
    expects: ClassVar[str] = "ClientKeyExchange"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.CLIENT_KEY_EXCHANGE})
    suite: SuiteSpec
    transcript: Transcript
    offer: ServerOffer
    issue: _Issue | None
    #: The client's certificate key, when it sent one: CertificateVerify comes next.
    client_key: _ClientKey | None = None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ClientKeyExchange | DHEClientKeyExchange | RSAClientKeyExchange):
            raise unexpected(self, message)
        pre_master_secret = self.offer.premaster(message)
        self.transcript.add(raw)
        master = derive_master_secret(out, self.suite, pre_master_secret, self.transcript, self.offer.describe)
        keys = derive_keys(out, self.suite, master)
        if self.client_key is not None:
            return ExpectCertificateVerify(self.suite, self.transcript, master, keys, self.client_key, self.issue)
        return ExpectChangeCipherSpec(self.suite, self.transcript, master, keys, self.issue)


@dataclass(frozen=True, slots=True)
class ExpectCertificateVerify:
    """§7.4.8: the client proves it holds its certificate's key, by signing every handshake message
    so far with a scheme the CertificateRequest offered."""

    expects: ClassVar[str] = "the client's CertificateVerify"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.CERTIFICATE_VERIFY})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    client_key: _ClientKey
    issue: _Issue | None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, CertificateVerify):
            raise unexpected(self, message)
        scheme = message.scheme.name.lower()
        offered = self.client_key.offered
        if message.scheme not in offered:
            if out.tracer is not None:
                out.tracer(Verification("client CertificateVerify", False,
                                        f"{scheme} is not one of the {len(offered)} signature schemes the "
                                        "CertificateRequest offered (RFC 5246 §7.4.8: illegal_parameter)"))
            raise IllegalParameter(f"CertificateVerify uses {scheme}, which was not offered")
        signed = self.transcript.messages()
        try:
            signatures.verify(self.client_key.key, message.scheme, message.signature, signed,
                              rsa_pss=self.client_key.rsa_pss)
        except (DecryptError, IllegalParameter) as exc:
            if out.tracer is not None:
                out.tracer(Verification("client CertificateVerify", False,
                                        f"{exc}: checked with the public key of the client's certificate over the "
                                        f"{len(signed)} bytes of handshake messages the server saw"))
            raise
        if out.tracer is not None:
            out.tracer(Verification("client CertificateVerify", True,
                                    f"{scheme} over the {len(signed)} bytes of handshake messages from ClientHello "
                                    "to ClientKeyExchange, with the public key of the client's certificate"))
        self.transcript.release()
        self.transcript.add(raw)
        return ExpectChangeCipherSpec(self.suite, self.transcript, self.master_secret, self.keys, self.issue)


@dataclass(frozen=True, slots=True)
class ExpectChangeCipherSpec:
    expects: ClassVar[str] = "the client's ChangeCipherSpec"
    accepts: ClassVar[frozenset[int]] = frozenset({CHANGE_CIPHER_SPEC})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    issue: _Issue | None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ChangeCipherSpec):
            raise unexpected(self, message)
        out.set_read_cipher(self.keys.client_write)
        return ExpectFinished(self.suite, self.transcript, self.master_secret, self.keys, self.issue)


@dataclass(frozen=True, slots=True)
class ExpectFinished:
    expects: ClassVar[str] = "the client's Finished"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.FINISHED})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    issue: _Issue | None

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, Finished):
            raise unexpected(self, message)
        neg = out.negotiated
        neg.client_verify_data = check_finished(
            out, self.suite, self.master_secret, self.transcript, message, "client",
            # A client certificate (none in a full handshake without one) is followed by its CertificateVerify.
            f"handshake messages up to {'CertificateVerify' if neg.peer_certificate_chain else 'ClientKeyExchange'}")
        self.transcript.add(raw)
        issue, session, ticket = self.issue, None, None
        if issue is not None:
            session = issue.session(neg, self.master_secret)
            if issue.ticket:
                # RFC 5077 §3.3: before our ChangeCipherSpec, and covered by our Finished.
                ticket = _ticket(issue.config, session, issue.config.session_lifetime, out)
                self.transcript.add(out.send_handshake(ticket))
        neg.server_verify_data = send_finished(out, self.suite, self.master_secret, self.transcript,
                                               self.keys.server_write, "server")
        if issue is not None and session is not None:
            neg.session = issue.keep(session, ticket, out)
        out.event(HandshakeComplete())
        return ServerTraffic()


@dataclass(frozen=True, slots=True)
class ExpectResumedChangeCipherSpec:
    """Abbreviated handshake: our Finished is sent; the client's ChangeCipherSpec comes next."""

    expects: ClassVar[str] = "the client's ChangeCipherSpec (resuming)"
    accepts: ClassVar[frozenset[int]] = frozenset({CHANGE_CIPHER_SPEC})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    keys: TrafficKeys
    session: Session

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, ChangeCipherSpec):
            raise unexpected(self, message)
        out.set_read_cipher(self.keys.client_write)
        return ExpectResumedFinished(self.suite, self.transcript, self.master_secret, self.session)


@dataclass(frozen=True, slots=True)
class ExpectResumedFinished:
    """Abbreviated handshake: the client's Finished, over everything including ours, ends it."""

    expects: ClassVar[str] = "the client's Finished (resuming)"
    accepts: ClassVar[frozenset[int]] = frozenset({HandshakeType.FINISHED})
    suite: SuiteSpec
    transcript: Transcript
    master_secret: bytes
    session: Session

    def handle(self, message: Message, raw: bytes, out: Output) -> State:
        if not isinstance(message, Finished):
            raise unexpected(self, message)
        neg = out.negotiated
        neg.client_verify_data = check_finished(
            out, self.suite, self.master_secret, self.transcript, message, "client",
            "handshake messages up to the server's Finished")
        neg.session, neg.session_reused = self.session, True
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
