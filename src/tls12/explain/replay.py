"""Explaining a recorded connection offline: a passive observer over the bytes and a key log.

The observer reads both directions of a capture (`capture.Capture`) record by
record, as each end's record layer would: it reassembles and parses the
handshake messages, keeps the transcript hash, and once the ClientKeyExchange
has gone by it takes the master secret from the NSS key log (the
``CLIENT_RANDOM <client random> <master secret>`` line), derives the key
block with the PRF (RFC 5246 §6.3) and opens every protected record with
the suite's AEAD (AES-GCM or ChaCha20-Poly1305). It checks what an outsider can check: the ServerKeyExchange
signature against the certificate's key, both Finished values against the
transcript, and (given trust anchors) the certificate chain and host name. In
mutual TLS it checks the client's side the same way: its chain (for client
authentication), whether its CertificateVerify uses a scheme the
CertificateRequest offered, and the signature itself over the handshake
messages before it, with the client certificate's key.

An abbreviated handshake (the ServerHello echoes the session_id the client
offered, or the server's ChangeCipherSpec follows its hello: RFC 5246 §7.3,
RFC 5077 §3.4) has no key exchange: the master secret is the resumed
session's, which the key log records under this connection's client random
all the same, and the keys are derived from it and the new randoms as soon
as the ServerHello has gone by. The server's Finished is checked first, over
the two hellos (and a renewed ticket), then the client's, over those and the
server's Finished. What the client offered (a session ID, or a ticket and its
size) and whether the server took it are said as decisions seen on the wire.

It emits the same trace events a live connection does, tagged ``observer``
(an observer traces as a client would: "out" is client to server), so the
same renderers explain a capture and a live connection alike. What only an
end could know (the premaster secret, which takes an ephemeral private key, or
the server's RSA key for static RSA) is
said to be unknown; what goes wrong (no key log line, a record that does not
decrypt) is said in an `ObserverNote`.
"""

from __future__ import annotations

import contextlib
import datetime
import hmac
from collections.abc import Callable, Sequence
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..crypto import prf, signatures
from ..crypto.aead import RecordAEAD, record_aead
from ..crypto.dhe import FFDHE_GROUPS
from ..crypto.signatures import rsa_pss_key
from ..crypto.suites import SUITES, SuiteSpec
from ..crypto.x509 import TrustStore, parse_chain, server_public_key, verify_client_chain, verify_server_chain
from ..enums import CipherSuite, ContentType, NamedGroup
from ..errors import CertificateError, HostnameMismatch, TLSError
from ..messages import (
    ALPN,
    Alert,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ChangeCipherSpec,
    ClientHello,
    ClientKeyExchange,
    DHEClientKeyExchange,
    DHEServerKeyExchange,
    ExtendedMasterSecret,
    Finished,
    HandshakeMessage,
    NewSessionTicket,
    RSAClientKeyExchange,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    ServerName,
    SessionTicket,
    find_extension,
    parse_handshake,
)
from ..record.layer import HEADER_LEN, HandshakeReassembler
from ..trace import Decision, Direction, MessageTrace, RecordTrace, SecretDerived, TraceEvent, Verification
from .annotate import dh_group_name
from .build import key_description, may_be_compatibility_id
from .capture import C2S, S2C, Capture
from .model import AppData, ObserverNote, Role, Tagged

__all__ = ["Observer", "parse_keylog", "replay"]

_MAX_HANDSHAKE = 0xFFFFFF


def parse_keylog(text: str) -> dict[bytes, bytes]:
    """client random -> master secret, from the CLIENT_RANDOM lines of an NSS key log."""
    out: dict[bytes, bytes] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "CLIENT_RANDOM":
            try:
                out[bytes.fromhex(parts[1])] = bytes.fromhex(parts[2])
            except ValueError:
                continue
    return out


class _Direction:
    """One direction's record layer as the observer rebuilds it."""

    def __init__(self, sender: Role) -> None:
        self.sender = sender
        self.buffer = bytearray()
        self.handshake = HandshakeReassembler(_MAX_HANDSHAKE)
        self.protected = False  # a ChangeCipherSpec went this way
        self.cipher: RecordAEAD | None = None
        self.seq = 0
        self.dead = False  # something could not be read; the rest of this direction is skipped
        self.said_opaque = False


class Observer:
    """A passive TLS 1.2 observer. Feed it records with `feed()`; `events` is the trace."""

    def __init__(self, keylog: dict[bytes, bytes] | None = None, *,
                 trust_anchors: Sequence[x509.Certificate] = (), now: datetime.datetime | None = None,
                 client_trust_anchors: Sequence[x509.Certificate] | None = None) -> None:
        self.events: list[Tagged] = []
        self._keylog = keylog or {}
        self._trust = TrustStore(list(trust_anchors)) if trust_anchors else None
        # A client's chain is checked against its own anchors if given, else against the same ones.
        client_anchors = trust_anchors if client_trust_anchors is None else client_trust_anchors
        self._client_trust = TrustStore(list(client_anchors)) if client_anchors else None
        self._request: CertificateRequest | None = None
        self._client_chain: list[x509.Certificate] = []
        self._verify_seen = False
        self._now = now or datetime.datetime.now(datetime.UTC)
        self._dirs: dict[Role, _Direction] = {"client": _Direction("client"), "server": _Direction("server")}
        self._transcript: list[bytes] = []
        self._suite: SuiteSpec | None = None
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self._chain: list[x509.Certificate] = []
        self._ems = False
        self._master: bytes | None = None
        self._keys: dict[Role, RecordAEAD] = {}
        self.finished: dict[Role, bool] = {"client": False, "server": False}
        self.server_done = False
        self.fatal = False
        #: The server resumed a session (an abbreviated handshake): no key exchange comes.
        self.resumed = False
        self._ticket_seen = False
        #: A ticket offered with an empty session_id: what follows the ServerHello tells (RFC 5077 §3.4).
        self._undecided = False

    # -- output ------------------------------------------------------------------------------

    def _emit(self, event: TraceEvent | ObserverNote) -> None:
        self.events.append(Tagged("observer", event))

    def _note(self, text: str) -> None:
        self._emit(ObserverNote(text))

    @staticmethod
    def _way(sender: Role) -> Direction:
        return "out" if sender == "client" else "in"

    # -- input -------------------------------------------------------------------------------

    def feed(self, sender: Role, data: bytes) -> None:
        """Bytes `sender` sent; every whole record in them is processed."""
        d = self._dirs[sender]
        d.buffer += data
        while len(d.buffer) >= HEADER_LEN:
            length = int.from_bytes(d.buffer[3:5], "big")
            if len(d.buffer) < HEADER_LEN + length:
                return
            record = bytes(d.buffer[: HEADER_LEN + length])
            del d.buffer[: HEADER_LEN + length]
            self.record(sender, record)

    def wants(self) -> Role | None:
        """Whose record the protocol says comes next (None: either, after the handshake)."""
        if self.fatal:
            return None
        if self.client_hello is None:
            return "client"
        if self.resumed:  # the server's Finished comes first, then the client's
            if not self.finished["server"]:
                return "server"
            return None if self.finished["client"] else "client"
        if not self.server_done:
            return "server"
        if not self.finished["client"]:
            return "client"
        if not self.finished["server"]:
            return "server"
        return None

    def finish(self) -> None:
        for d in self._dirs.values():
            if d.buffer:
                self._note(f"{len(d.buffer)} bytes from the {d.sender} at the end of the capture are not a whole "
                           "record")

    def record(self, sender: Role, record: bytes) -> None:
        d = self._dirs[sender]
        content_type, version = record[0], int.from_bytes(record[1:3], "big")
        fragment = record[HEADER_LEN:]
        way = self._way(sender)
        kind = ContentType(content_type)
        if d.protected:
            seq = d.seq
            d.seq += 1
            # The suite row says what a protected record carries besides its plaintext.
            nonce_len, overhead = ((8, 24) if self._suite is None
                                   else (self._suite.record_iv_len, self._suite.record_overhead))
            self._emit(RecordTrace(way, kind, version, len(fragment), True, seq,
                                   fragment[:nonce_len] if nonce_len else None, max(len(fragment) - overhead, 0)))
        else:
            self._emit(RecordTrace(way, kind, version, len(fragment), False, None, None, len(fragment)))
        if d.dead:
            return
        payload = fragment
        if d.protected:
            if d.cipher is None:
                if not d.said_opaque:
                    d.said_opaque = True
                    self._note(f"the {sender}'s records after its ChangeCipherSpec are encrypted and there is no "
                               "key for them (give the key log with the CLIENT_RANDOM line of this connection)")
                return
            try:
                payload = d.cipher.open(content_type, version, fragment)
            except TLSError as exc:
                d.dead = True
                self._note(f"a record from the {sender} (sequence number {d.seq - 1}) did not decrypt ({exc}): the "
                           "key log's master secret is not this connection's, or the capture is damaged")
                return
        try:
            if kind == ContentType.HANDSHAKE:
                d.handshake.add(payload)
                while (frame := d.handshake.pop()) is not None:
                    msg_type, body, raw = frame
                    kx = self._suite.key_exchange.value if self._suite is not None else "ECDHE"
                    self._handshake(sender, parse_handshake(msg_type, body, kx), raw)
            elif kind == ContentType.CHANGE_CIPHER_SPEC:
                message = ChangeCipherSpec.parse(payload)
                if (sender == "server" and not self.resumed and not self.server_done and self.server_hello is not None
                        and self._master is None):
                    # RFC 5077 §3.4: a client offering a ticket with no session_id learns it was taken only so.
                    self.resumed, self._undecided = True, False
                    self._emit(Decision("session", "resumed", "the server's ChangeCipherSpec follows its ServerHello: "
                                        "an abbreviated handshake, the ticket the client offered was taken "
                                        "(RFC 5077 §3.4)"))
                    self._resume_keys()
                self._emit(MessageTrace(way, message, payload))
                d.protected = True
                d.seq = 0
                d.cipher = self._keys.get(sender)
            elif kind == ContentType.ALERT:
                alert = Alert.parse(payload)
                self._emit(MessageTrace(way, alert, payload))
                if int(alert.level) == 2:
                    self.fatal = True
            elif kind == ContentType.APPLICATION_DATA:
                self._emit(MessageTrace(way, AppData(payload), payload))
            else:
                self._note(f"a record of unknown content type {content_type} from the {sender}")
        except TLSError as exc:
            d.dead = True
            self._note(f"the {sender}'s bytes could not be parsed any further: {exc}")

    # -- the handshake ---------------------------------------------------------------------------

    def _handshake(self, sender: Role, message: HandshakeMessage, raw: bytes) -> None:
        self._emit(MessageTrace(self._way(sender), message, raw))
        if self._undecided and sender == "server" and not isinstance(message, ServerHello | NewSessionTicket):
            self._undecided = False
            self._emit(Decision("session", "full handshake", f"the server's {type(message).__name__} follows its "
                                "ServerHello: it did not take the ticket (its reason is not on the wire)"))
        handler = self._HANDLERS.get(type(message))
        if isinstance(message, Certificate) and sender == "client":
            handler = Observer._client_certificate
        if isinstance(message, Finished):
            self._finished(sender, message, raw)
            return
        if handler is not None:
            try:
                handler(self, message, raw)
            except Exception as exc:  # what a damaged certificate or key makes cryptography raise
                self._note(f"tls12 explain could not check the {type(message).__name__} from the {sender}: "
                           f"{type(exc).__name__}: {exc}")
        self._transcript.append(raw)

    def _client_hello(self, message: HandshakeMessage, raw: bytes) -> None:
        assert isinstance(message, ClientHello)
        if self.client_hello is not None:
            return
        self.client_hello = message
        ticket = find_extension(message.extensions, SessionTicket)
        if ticket is not None and ticket.ticket:
            self._emit(Decision("session offered", f"ticket of {len(ticket.ticket)} bytes",
                                "seen in the ClientHello's SessionTicket extension, with a session_id of "
                                f"{len(message.session_id)} bytes (RFC 5077 §3.4)"))
        elif message.session_id:
            self._emit(Decision("session offered", f"session id {message.session_id.hex()}",
                                "seen in the ClientHello's session_id (RFC 5246 §7.4.1.2)" + (
                                    "; a client that also speaks TLS 1.3 sends a random one for middlebox "
                                    "compatibility (RFC 8446 §D.4): only an echo says it named a session"
                                    if may_be_compatibility_id(message) else "")))

    def _server_hello(self, message: HandshakeMessage, raw: bytes) -> None:
        assert isinstance(message, ServerHello)
        self.server_hello = message
        hello = self.client_hello
        self._suite = SUITES.get(message.cipher_suite)
        self._ems = (find_extension(message.extensions, ExtendedMasterSecret) is not None and hello is not None
                     and find_extension(hello.extensions, ExtendedMasterSecret) is not None)
        seen = "seen in the ServerHello"
        ticket = self._offered_ticket()
        if hello is not None and hello.session_id and message.session_id == hello.session_id:
            self.resumed = True
            rfc = "RFC 5246 §7.4.1.3, RFC 5077 §3.4" if ticket else "RFC 5246 §7.4.1.3"
            self._emit(Decision("session", "resumed", "the ServerHello echoes the session_id the client sent: an "
                                f"abbreviated handshake ({rfc})"))
        elif hello is not None and ticket and not hello.session_id:
            self._undecided = True
        elif hello is not None and (ticket or (hello.session_id and not may_be_compatibility_id(hello))):
            self._emit(Decision("session", "full handshake", "the ServerHello does not echo the session_id the "
                                "client sent: the server did not resume the session (its reason is not on the "
                                "wire)"))
        self._emit(Decision("cipher suite", message.cipher_suite.name, seen))
        self._emit(Decision("extended master secret", "yes" if self._ems else "no",
                            "both hellos carry the extension" if self._ems else "not in both hellos"))
        alpn = find_extension(message.extensions, ALPN)
        if alpn is not None and alpn.protocols:
            self._emit(Decision("ALPN", alpn.protocols[0].decode("utf-8", "replace"), seen))
        if self._suite is None:
            self._note(f"tls12 cannot derive keys for {CipherSuite(message.cipher_suite).name}: only the suites "
                       "tls12 speaks (ECDHE, DHE and RSA key exchange with AES-GCM or ChaCha20-Poly1305) are "
                       "explained in full")
        elif self.resumed:
            self._resume_keys()

    def _offered_ticket(self) -> bytes:
        hello = self.client_hello
        ticket = find_extension(hello.extensions, SessionTicket) if hello is not None else None
        return ticket.ticket if ticket is not None else b""

    def _resume_keys(self) -> None:
        """An abbreviated handshake: the master secret is the resumed session's, from the key log (its line is
        under this connection's client random); the keys come from it and the two new randoms."""
        hello, suite = self.client_hello, self._suite
        if hello is None or suite is None:
            return
        master = self._keylog.get(hello.random)
        if master is None:
            self._note(f"the key log has no CLIENT_RANDOM line for client random {hello.random.hex()}: the "
                       "encrypted records cannot be read")
            return
        self._master = master
        self._emit(SecretDerived("master_secret", master, "the resumed session's: no key exchange, and not on the "
                                 "wire; the key log's line for this connection's client random"))
        self._derive_keys(master)

    def _new_session_ticket(self, message: HandshakeMessage, raw: bytes) -> None:
        assert isinstance(message, NewSessionTicket)
        self._ticket_seen = True
        if message.ticket:
            self._emit(Decision("session ticket", f"{len(message.ticket)} bytes, lifetime hint "
                                f"{message.ticket_lifetime_hint} s", "seen in the NewSessionTicket (RFC 5077 §3.3)"))
        else:
            self._emit(Decision("session ticket", "(empty)", "seen in the NewSessionTicket: no ticket after all "
                                "(RFC 5077 §3.3)"))

    def _server_name(self) -> str | None:
        hello = self.client_hello
        sni = find_extension(hello.extensions, ServerName) if hello is not None else None
        return sni.host_names[0] if sni is not None and sni.host_names else None

    def _certificate(self, message: HandshakeMessage, raw: bytes) -> None:
        assert isinstance(message, Certificate)
        try:
            self._chain = parse_chain(message.certificate_list)
        except CertificateError as exc:
            self._emit(Verification("certificate chain", False, str(exc)))
            return
        if not self._chain:
            self._emit(Verification("certificate chain", False, "the server sent no certificate"))
            return
        with contextlib.suppress(ValueError):  # a damaged certificate: the chain check below says what is wrong
            self._certificate_decision()
        if self._trust is None:
            self._emit(Verification("certificate chain", False,
                                    "not verified: tls12 explain was given no trust anchors (--cafile)"))
            return
        name = self._server_name()
        try:
            path = verify_server_chain(self._trust, self._chain, name, self._now)
        except HostnameMismatch as exc:
            try:
                path = verify_server_chain(self._trust, self._chain, None, self._now)
            except CertificateError:
                self._emit(Verification("certificate chain", False, str(exc)))
                return
            self._path(path, None)
            self._emit(Verification("host name", False, str(exc)))
            return
        except CertificateError as exc:
            self._emit(Verification("certificate chain", False, str(exc),
                                    subject=self._chain[0].subject.rfc4514_string()))
            return
        self._path(path, name)

    def _certificate_decision(self) -> None:
        """Which certificate the server sent, and what the wire says of why (its reasons are not on it)."""
        leaf = self._chain[0]
        try:
            names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            listed = ", ".join(str(n.value) for n in names)
        except (x509.ExtensionNotFound, ValueError):
            listed = "no subjectAltName"
        sni = self._server_name()
        suite = self._suite
        fits = (f"its {key_description(leaf)} key fits {suite.suite.name} ({suite.authentication.value})"
                if suite is not None else f"its key is {key_description(leaf)}")
        asked = f"the client asked for {sni!r}" if sni is not None else "the client sent no server_name"
        self._emit(Decision("certificate", f"{key_description(leaf)} certificate for {listed}",
                            f"seen on the wire: {fits}; {asked}, and the certificate names {listed}. Which other "
                            "certificates the server holds, and why it preferred this one, is not on the wire"))

    def _path(self, path: list[x509.Certificate], name: str | None) -> None:
        for i, cert in enumerate(path):
            last = i == len(path) - 1
            role = "trust anchor" if last else ("server certificate" if i == 0 else "intermediate CA")
            issuer = "itself (a given trust anchor)" if last else path[i + 1].subject.rfc4514_string()
            self._emit(Verification(
                f"certificate[{i}]", True,
                f"{role}: signature checked against {issuer}; valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d}", subject=cert.subject.rfc4514_string()))
        self._emit(Verification("certificate chain", True,
                                f"a path of {len(path)} certificate{'s' if len(path) > 1 else ''} to a trust anchor"))
        if name is not None:
            self._emit(Verification("host name", True, f"{name} matches the certificate's subjectAltName"))
        else:
            self._emit(Verification("host name", True, "not checked: the client sent no server_name"))

    def _server_key_exchange(self, message: HandshakeMessage, raw: bytes) -> None:
        assert isinstance(message, ServerKeyExchange | DHEServerKeyExchange)
        if isinstance(message, DHEServerKeyExchange):
            self._emit(Decision("group", _dh_group(message), "seen in the ServerKeyExchange (p and g)"))
        else:
            self._emit(Decision("group", NamedGroup(message.named_curve).name, "seen in the ServerKeyExchange"))
        self._emit(Decision("signature scheme", message.scheme.name, "seen in the ServerKeyExchange"))
        if self.client_hello is None or self.server_hello is None or not self._chain or self._suite is None:
            return
        # §7.4.3: the signature covers client_random + server_random + the params, as sent.
        signed = self.client_hello.random + self.server_hello.random + message.params_bytes()
        leaf = self._chain[0]
        try:
            key = server_public_key(leaf, self._suite.authentication)
            signatures.verify(key, message.scheme, message.signature, signed, rsa_pss=rsa_pss_key(leaf))
        except (TLSError, KeyError, ValueError) as exc:
            self._emit(Verification("ServerKeyExchange signature", False, str(exc) or "unsupported scheme"))
            return
        self._emit(Verification("ServerKeyExchange signature", True,
                                f"{message.scheme.name.lower()} over client_random + server_random + params, "
                                f"with the certificate's public key ({key_description(leaf)})"))

    def _server_hello_done(self, message: HandshakeMessage, raw: bytes) -> None:
        self.server_done = True

    # -- mutual TLS ------------------------------------------------------------------------------

    def _certificate_request(self, message: HandshakeMessage, raw: bytes) -> None:
        assert isinstance(message, CertificateRequest)
        self._request = message
        count = len(message.certificate_authorities)
        names = f"naming {count} CA{'s' if count != 1 else ''}" if count else "naming no CA"
        self._emit(Decision("client authentication", "requested",
                            f"seen on the wire: a CertificateRequest {names}; whether the server requires a "
                            "certificate or lets the client stay anonymous is not on the wire"))

    def _client_certificate(self, message: HandshakeMessage, raw: bytes) -> None:
        """The client's chain (RFC 5246 §7.4.6), checked for client authentication as its server would."""
        assert isinstance(message, Certificate)
        if not message.certificate_list:
            self._emit(Decision("client certificate", "(none)", "seen on the wire: an empty Certificate"))
            return
        try:
            self._client_chain = parse_chain(message.certificate_list)
            subject = self._client_chain[0].subject.rfc4514_string()
        except (CertificateError, ValueError) as exc:
            self._client_chain = []
            self._emit(Verification("client certificate chain", False, str(exc)))
            return
        self._emit(Decision("client certificate", subject,
                            f"seen on the wire: {key_description(self._client_chain[0])}; which other certificates "
                            "the client holds, and why it sent this one, is not on the wire"))
        if self._client_trust is None:
            self._emit(Verification("client certificate chain", False,
                                    "not verified: tls12 explain was given no trust anchors (--cafile)"))
            return
        try:
            path = verify_client_chain(self._client_trust, self._client_chain, self._now)
        except CertificateError as exc:
            self._emit(Verification("client certificate chain", False,
                                    f"{exc} (against the trust anchors given to tls12 explain)", subject=subject))
            return
        for i, cert in enumerate(path):
            last = i == len(path) - 1
            role = "trust anchor" if last else ("client certificate" if i == 0 else "intermediate CA")
            issuer = "itself (a given trust anchor)" if last else path[i + 1].subject.rfc4514_string()
            self._emit(Verification(
                f"client certificate[{i}]", True,
                f"{role}: signature checked against {issuer}; valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d}", subject=cert.subject.rfc4514_string()))
        self._emit(Verification("client certificate chain", True,
                                f"a path of {len(path)} certificate{'s' if len(path) > 1 else ''} to a trust anchor, "
                                "the leaf for client authentication (extended key usage clientAuth)"))

    def _certificate_verify(self, message: HandshakeMessage, raw: bytes) -> None:
        """RFC 5246 §7.4.8: the client's signature over every handshake message before it, checked with the key of
        its certificate; its scheme must be one the CertificateRequest offered."""
        assert isinstance(message, CertificateVerify)
        self._verify_seen = True
        scheme = message.scheme.name.lower()
        request = self._request
        if request is not None and message.scheme not in request.supported_signature_algorithms:
            self._emit(Verification("client CertificateVerify", False,
                                    f"{scheme} is not one of the {len(request.supported_signature_algorithms)} "
                                    "signature schemes the CertificateRequest offered (RFC 5246 §7.4.8: "
                                    "illegal_parameter)"))
            return
        if not self._client_chain:
            return
        leaf = self._client_chain[0]
        signed = b"".join(self._transcript)
        key = leaf.public_key()
        if not isinstance(key, signatures.PublicKey):
            self._emit(Verification("client CertificateVerify", False,
                                    f"the client certificate's {key_description(leaf)} key cannot sign"))
            return
        try:
            signatures.verify(key, message.scheme, message.signature, signed, rsa_pss=rsa_pss_key(leaf))
        except TLSError as exc:
            self._emit(Verification("client CertificateVerify", False,
                                    f"{exc}: checked with the public key of the client's certificate over the "
                                    f"{len(signed)} bytes of handshake messages on the wire"))
            return
        self._emit(Verification("client CertificateVerify", True,
                                f"{scheme} over the {len(signed)} bytes of handshake messages from ClientHello to "
                                f"ClientKeyExchange, with the public key of the client's certificate "
                                f"({key_description(leaf)})"))

    def _client_key_exchange(self, message: HandshakeMessage, raw: bytes) -> None:
        assert isinstance(message, ClientKeyExchange | DHEClientKeyExchange | RSAClientKeyExchange)
        suite, hello, server_hello = self._suite, self.client_hello, self.server_hello
        if suite is None or hello is None or server_hello is None:
            return
        transcript = [*self._transcript, raw]
        if self._ems:
            session_hash = _digest(suite.prf_hash, transcript)
            self._emit(SecretDerived("session_hash", session_hash,
                                     f"{suite.prf_hash.name.upper()}(handshake messages up to ClientKeyExchange)"))
            inputs = "PRF(pre_master_secret, 'extended master secret', session_hash)[0..47]"
        else:
            inputs = "PRF(pre_master_secret, 'master secret', client_random + server_random)[0..47]"
        master = self._keylog.get(hello.random)
        if master is None:
            self._note(f"the key log has no CLIENT_RANDOM line for client random {hello.random.hex()}: the "
                       "encrypted records cannot be read")
            return
        self._master = master
        self._emit(SecretDerived("master_secret", master, inputs))
        self._derive_keys(master)

    def _derive_keys(self, master: bytes) -> None:
        """The key block and the four values cut from it (RFC 5246 §6.3); every record protected from now on opens."""
        suite, hello, server_hello = self._suite, self.client_hello, self.server_hello
        assert suite is not None and hello is not None and server_hello is not None
        block = prf.key_block(master, hello.random, server_hello.random, suite.key_block_len, suite.prf_hash)
        k, s = suite.key_len, suite.fixed_iv_len
        parts = {
            "client_write_key": (block[:k], f"key_block[0..{k - 1}]"),
            "server_write_key": (block[k : 2 * k], f"key_block[{k}..{2 * k - 1}]"),
            "client_write_IV": (block[2 * k : 2 * k + s], f"key_block[{2 * k}..{2 * k + s - 1}]"),
            "server_write_IV": (block[2 * k + s : 2 * k + 2 * s], f"key_block[{2 * k + s}..{2 * k + 2 * s - 1}]"),
        }
        self._emit(SecretDerived("key_block", block, "PRF(master_secret, 'key expansion', server_random + "
                                                     f"client_random)[0..{len(block) - 1}]"))
        for label, (value, where) in parts.items():
            self._emit(SecretDerived(label, value, where))
        self._keys = {
            "client": record_aead(suite, parts["client_write_key"][0], parts["client_write_IV"][0]),
            "server": record_aead(suite, parts["server_write_key"][0], parts["server_write_IV"][0]),
        }
        for role, d in self._dirs.items():
            if d.protected and d.cipher is None:  # a ChangeCipherSpec already went by (never in order)
                d.cipher = self._keys[role]

    def _finished(self, sender: Role, message: Finished, raw: bytes) -> None:
        suite = self._suite
        self.finished[sender] = True
        if suite is not None and self._master is not None:
            label = b"client finished" if sender == "client" else b"server finished"
            expected = prf.verify_data(self._master, label, _digest(suite.prf_hash, self._transcript),
                                       suite.verify_data_len, suite.prf_hash)
            ok = hmac.compare_digest(expected, message.verify_data)
            if sender == "client":
                upto = ("the server's Finished" if self.resumed else
                        "CertificateVerify" if self._verify_seen else "ClientKeyExchange")
            else:
                upto = ("the NewSessionTicket" if self._ticket_seen else
                        "the ServerHello" if self.resumed else "the client's Finished")
            self._emit(Verification(f"{sender} Finished", ok,
                                    f"PRF(master_secret, '{label.decode()}', Hash(handshake messages up to {upto}))",
                                    expected=expected, received=message.verify_data))
        self._transcript.append(raw)

    _HANDLERS: ClassVar[dict[type, Callable[[Observer, HandshakeMessage, bytes], None]]] = {
        ClientHello: _client_hello,
        ServerHello: _server_hello,
        Certificate: _certificate,
        ServerKeyExchange: _server_key_exchange,
        ServerHelloDone: _server_hello_done,
        CertificateRequest: _certificate_request,
        CertificateVerify: _certificate_verify,
        NewSessionTicket: _new_session_ticket,
        ClientKeyExchange: _client_key_exchange,
        DHEServerKeyExchange: _server_key_exchange,
        DHEClientKeyExchange: _client_key_exchange,
        RSAClientKeyExchange: _client_key_exchange,
    }


def _dh_group(message: DHEServerKeyExchange) -> str:
    """The NamedGroup member's name when p and g are an RFC 7919 group's, else what they are."""
    for group, params in FFDHE_GROUPS.items():
        if params.p_bytes == message.dh_p and params.g_bytes == message.dh_g:
            return group.name
    return dh_group_name(message.dh_p, message.dh_g)


def _digest(algorithm: hashes.HashAlgorithm, messages: Sequence[bytes]) -> bytes:
    h = hashes.Hash(algorithm)
    for raw in messages:
        h.update(raw)
    return h.finalize()


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    records, pos = [], 0
    while pos + HEADER_LEN <= len(data):
        end = pos + HEADER_LEN + int.from_bytes(data[pos + 3 : pos + 5], "big")
        if end > len(data):
            break
        records.append(data[pos:end])
        pos = end
    return records, data[pos:]


def replay(capture: Capture, keylog: str | dict[bytes, bytes] | None = None, *,
           trust_anchors: Sequence[x509.Certificate] = (), now: datetime.datetime | None = None,
           client_trust_anchors: Sequence[x509.Certificate] | None = None) -> list[Tagged]:
    """The trace of a recorded connection, as an observer holding the key log sees it. The server's chain is
    verified against `trust_anchors`, a client's (mutual TLS) against `client_trust_anchors` (default: the same)."""
    keys = parse_keylog(keylog) if isinstance(keylog, str) else keylog
    observer = Observer(keys, trust_anchors=trust_anchors, now=now, client_trust_anchors=client_trust_anchors)
    if capture.ordered:
        for direction, data in capture.flows:
            observer.feed("client" if direction == C2S else "server", data)
    else:
        # Two streams: take records in the order the protocol implies, then alternate.
        client_records, client_rest = _split(capture.stream(C2S))
        server_records, server_rest = _split(capture.stream(S2C))
        queues: dict[Role, list[bytes]] = {"client": client_records, "server": server_records}
        leftovers: dict[Role, bytes] = {"client": client_rest, "server": server_rest}
        turn: Role = "client"
        while queues["client"] or queues["server"]:
            wanted = observer.wants() or turn
            if not queues[wanted]:
                wanted = "server" if wanted == "client" else "client"
            observer.record(wanted, queues[wanted].pop(0))
            turn = "server" if wanted == "client" else "client"
        for role, rest in leftovers.items():
            if rest:
                observer.feed(role, rest)
    observer.finish()
    if observer.client_hello is None:
        observer.events.append(Tagged("observer", ObserverNote("no ClientHello in the capture")))
    return observer.events

