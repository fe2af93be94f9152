"""From trace events to an `Explanation`: the textbook's steps, with the real values.

The events may come from the client, the server, both (in whatever order two
threads produced them), or an observer replaying a capture. Each side's
stream is read on its own, in order, to pair messages with the records that
carried them; then the streams are merged step by step:

- a message's bytes and records come from its sender's trace when there is
  one (what was really sent), else from the receiver's or the observer's;
- checks are kept from every side, each saying who made it;
- decisions from the server (the side that chooses), else from whoever saw them;
- the key schedule from the client, else the server, else the observer;
- a failure from the side that detected it (the one that sent the alert),
  with what the other side saw when it was traced too. When only the
  alert's receiver was traced, the failed step is inferred from the alert.

The explanation stops at the failed step: later steps are listed as not
reached (noting those that were sent but never processed).

Mutual TLS adds three steps to the eight: 4b CertificateRequest, 5b the
client's Certificate and 6b its CertificateVerify. For 6b the messages it
signs are listed from the steps before it, and their hash is computed with
the scheme's hash, so the explanation shows what was signed even where no
side traced it. The three are never "not reached" without a CertificateRequest.
A session ticket (RFC 5077) is step 8, NewSessionTicket, before the server's
ChangeCipherSpec, and only after a ServerHello that promised one.

An abbreviated handshake (RFC 5246 §7.3: the server resumes a session the
ClientHello offered by its ID or ticket) has steps of its own, in the order
they happen (`RESUMED_STEP_TABLE`): 1 ClientHello, 2 ServerHello, 2b a
renewed ticket, 3a/3b the server's ChangeCipherSpec and Finished (first), 4a/4b
the client's, whose Finished covers the server's. Its key schedule goes with
the ServerHello: the session's master secret and keys from the new randoms.
What was offered and what became of it is said from the wire (the session ID,
the ticket's size and the key name it starts with) and from the deciding
side's reason, explained (`_SESSION_REASONS`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ..crypto.suites import SUITES, AEADKind, KeyExchange, SuiteSpec
from ..enums import AlertDescription, AlertLevel, ContentType, HandshakeType, ProtocolVersion
from ..errors import TLSError
from ..messages import (
    ALPN,
    Alert,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ChangeCipherSpec,
    ClientHello,
    DHEClientKeyExchange,
    DHEServerKeyExchange,
    ExtendedMasterSecret,
    NewSessionTicket,
    ServerHello,
    ServerKeyExchange,
    ServerName,
    SessionTicket,
    SupportedVersions,
    find_extension,
    parse_handshake,
)
from ..trace import Decision, Failure, MessageTrace, RecordTrace, SecretDerived, TraceEvent, Verification
from .annotate import annotate_change_cipher_spec, annotate_handshake, dh_group_name, hex_value, signature_how
from .model import (
    AppData,
    Check,
    DecisionInfo,
    Derivation,
    Explanation,
    FailureInfo,
    Flight,
    FlightItem,
    NotReached,
    ObserverNote,
    Phase,
    RecordInfo,
    Role,
    Side,
    Step,
    Tagged,
    TrafficItem,
    other,
    role_of,
)
from .names import alert_name, code, group_name, scheme_name, suite_name, version_name

__all__ = ["RESUMED_STEP_TABLE", "STEP_TABLE", "StepSpec", "derivation_text", "explain", "key_description",
           "may_be_compatibility_id", "record_nonce", "record_protection"]


@dataclass(frozen=True)
class StepSpec:
    key: int | str  # the handshake type, or "ccs"
    sender: Role
    number: str
    id: str
    title: str
    message: str
    rfc: str
    purpose: str
    expected: str
    #: Only in mutual TLS (after a CertificateRequest): not listed as "not reached" otherwise.
    optional: bool = False


STEP_TABLE: tuple[StepSpec, ...] = (
    StepSpec(HandshakeType.CLIENT_HELLO, "client", "1", "client_hello", "ClientHello", "ClientHello",
             "RFC 5246 §7.4.1.2",
             "The client says hello: the versions, cipher suites and extensions it supports, and a fresh random.",
             "a ClientHello offering TLS 1.2 with a cipher suite, group and signature scheme the server supports"),
    StepSpec(HandshakeType.SERVER_HELLO, "server", "2", "server_hello", "ServerHello", "ServerHello",
             "RFC 5246 §7.4.1.3",
             "The server chooses: TLS 1.2, one cipher suite, answers to the extensions, and its own fresh random.",
             "a ServerHello choosing TLS 1.2 with a suite and extensions the client offered"),
    StepSpec(HandshakeType.CERTIFICATE, "server", "3", "certificate", "Certificate", "Certificate",
             "RFC 5246 §7.4.2",
             "The server shows its certificate chain: who it is, vouched for by a CA the client trusts.",
             "a certificate chain that leads to a trusted root and is valid for the server's name"),
    StepSpec(HandshakeType.SERVER_KEY_EXCHANGE, "server", "4", "server_key_exchange", "ServerKeyExchange",
             "ServerKeyExchange", "RFC 5246 §7.4.3, RFC 8422 §5.4",
             "The server sends a fresh ECDHE public key, signed with its certificate's key so that no one in the "
             "middle can swap it.",
             "ECDHE parameters on an offered group, signed by the certificate's key with an offered scheme"),
    StepSpec(HandshakeType.CERTIFICATE_REQUEST, "server", "4b", "certificate_request", "CertificateRequest",
             "CertificateRequest", "RFC 5246 §7.4.4",
             "The server asks the client to prove who it is too (mutual TLS): the kinds of key, the signature "
             "schemes and the CAs it accepts for a client certificate.",
             "a CertificateRequest listing certificate types, signature schemes and the CAs the server accepts",
             optional=True),
    StepSpec(HandshakeType.SERVER_HELLO_DONE, "server", "5", "server_hello_done", "ServerHelloDone",
             "ServerHelloDone", "RFC 5246 §7.4.5",
             "The server has said everything it had to say; now it is the client's turn.",
             "ServerHelloDone"),
    StepSpec(HandshakeType.CERTIFICATE, "client", "5b", "client_certificate", "Certificate (client)", "Certificate",
             "RFC 5246 §7.4.6",
             "The client answers the CertificateRequest with its certificate chain: who it is, vouched for by a CA "
             "the server trusts for clients. With no certificate that fits, the list is empty.",
             "a client certificate chain that leads to a CA the server trusts for clients, its leaf for client "
             "authentication (or an empty one, where a certificate is not required)", optional=True),
    StepSpec(HandshakeType.CLIENT_KEY_EXCHANGE, "client", "6", "client_key_exchange", "ClientKeyExchange",
             "ClientKeyExchange", "RFC 5246 §7.4.7, RFC 8422 §5.7",
             "The client sends its own ECDHE public key. Now both sides compute the same premaster secret, and "
             "from it the master secret and the keys.",
             "the client's ECDHE public key, a valid point on the chosen group"),
    StepSpec(HandshakeType.CERTIFICATE_VERIFY, "client", "6b", "certificate_verify", "CertificateVerify",
             "CertificateVerify", "RFC 5246 §7.4.8",
             "The client proves it holds the private key of its certificate: it signs every handshake message so "
             "far, which fit this handshake and no other, and the server checks the signature with the "
             "certificate's public key.",
             "a signature over the handshake messages so far, with a scheme the CertificateRequest offered, made by "
             "the key of the client's certificate", optional=True),
    StepSpec("ccs", "client", "7a", "client_change_cipher_spec", "ChangeCipherSpec (client)", "ChangeCipherSpec",
             "RFC 5246 §7.1",
             "The client switches on encryption: every record it sends from now on is protected with the new keys.",
             "the client's ChangeCipherSpec"),
    StepSpec(HandshakeType.FINISHED, "client", "7b", "client_finished", "Finished (client)", "Finished",
             "RFC 5246 §7.4.9",
             "The client's first encrypted message: a MAC over the whole handshake, proving that both sides saw "
             "the same messages and hold the same keys.",
             "a Finished from the client whose verify_data matches the handshake the server saw"),
    StepSpec(HandshakeType.NEW_SESSION_TICKET, "server", "8", "new_session_ticket", "NewSessionTicket",
             "NewSessionTicket", "RFC 5077 §3.3",
             "The server hands the client a ticket: this session (its master secret, its suite and what else was "
             "agreed) sealed under a key only the server holds. The client cannot read it; it keeps it and shows it "
             "in a later ClientHello to resume the session with an abbreviated handshake, and the server need keep "
             "nothing meanwhile.",
             "a NewSessionTicket before the server's ChangeCipherSpec, as the ServerHello's SessionTicket extension "
             "promised", optional=True),
    StepSpec("ccs", "server", "8a", "server_change_cipher_spec", "ChangeCipherSpec (server)", "ChangeCipherSpec",
             "RFC 5246 §7.1",
             "The server switches on encryption too.",
             "the server's ChangeCipherSpec"),
    StepSpec(HandshakeType.FINISHED, "server", "8b", "server_finished", "Finished (server)", "Finished",
             "RFC 5246 §7.4.9",
             "The server's MAC over the whole handshake, the client's Finished included. The handshake is complete: "
             "application data may flow, encrypted.",
             "a Finished from the server whose verify_data matches the handshake the client saw"),
)

# Steps 4 and 6 as the negotiated key exchange makes them (ECDHE's are in the table).
_KX_STEP_TEXT: dict[tuple[KeyExchange, str], tuple[str, str, str]] = {
    (KeyExchange.DHE, "4"): (
        "RFC 5246 §7.4.3, RFC 7919 §4",
        "The server sends finite-field Diffie-Hellman parameters: the prime p and generator g of the group it "
        "chose, and its fresh public value Ys = g^y mod p, signed with its certificate's key so that no one in "
        "the middle can swap them.",
        "DH parameters of an offered RFC 7919 group (at least 2048 bits) and 1 < Ys < p-1, signed by the "
        "certificate's key with an offered scheme"),
    (KeyExchange.DHE, "6"): (
        "RFC 5246 §7.4.7.2, §8.1.2",
        "The client sends its own public value Yc = g^x mod p. Now both sides compute the same shared secret "
        "Z = g^xy mod p, the premaster secret, and from it the master secret and the keys.",
        "the client's DH public value, 1 < Yc < p-1"),
    (KeyExchange.RSA, "6"): (
        "RFC 5246 §7.4.7.1",
        "The client makes the premaster secret itself (its version and 46 random bytes) and sends it encrypted to "
        "the RSA key in the server's certificate; there is no ServerKeyExchange. Both sides derive the master "
        "secret and the keys from it.",
        "the premaster secret encrypted to the certificate's RSA key"),
}

#: The abbreviated handshake (RFC 5246 §7.3): the server resumes a session the client offered, by its ID or
#: its ticket (RFC 5077 §3.1). No certificate, no key exchange: the master secret is the session's. The
#: server's Finished comes first, and the client's covers it.
RESUMED_STEP_TABLE: tuple[StepSpec, ...] = (
    StepSpec(HandshakeType.CLIENT_HELLO, "client", "1", "client_hello", "ClientHello", "ClientHello",
             "RFC 5246 §7.4.1.2, RFC 5077 §3.4",
             "The client says hello and offers a session to resume: its session ID, or the ticket the server gave "
             "it (then with a session ID of its own, whose echo will say the ticket was taken). The random is "
             "fresh as always: the keys will be new, though the session is not.",
             "a ClientHello offering TLS 1.2 and a session the server can still resume"),
    StepSpec(HandshakeType.SERVER_HELLO, "server", "2", "server_hello", "ServerHello", "ServerHello",
             "RFC 5246 §7.3, §7.4.1.3",
             "The server resumes the session: it echoes the session ID the client sent, keeps the session's suite, "
             "and adds its own fresh random. No Certificate and no key exchange follow: the server proved who it "
             "is in the full handshake that made the session, and the master secret is that session's. Both "
             "sides now derive new keys from it and the two new randoms.",
             "a ServerHello echoing the offered session ID, with the session's suite"),
    StepSpec(HandshakeType.NEW_SESSION_TICKET, "server", "2b", "new_session_ticket", "NewSessionTicket",
             "NewSessionTicket", "RFC 5077 §3.1, §3.3",
             "The server renews the ticket: the same session sealed again, to replace the one the client offered.",
             "a NewSessionTicket before the server's ChangeCipherSpec, as the ServerHello's SessionTicket extension "
             "promised", optional=True),
    StepSpec("ccs", "server", "3a", "server_change_cipher_spec", "ChangeCipherSpec (server)", "ChangeCipherSpec",
             "RFC 5246 §7.1, §7.3",
             "Resuming, the server switches on encryption first: every record it sends from now on is protected "
             "with the new keys.",
             "the server's ChangeCipherSpec"),
    StepSpec(HandshakeType.FINISHED, "server", "3b", "server_finished", "Finished (server)", "Finished",
             "RFC 5246 §7.3, §7.4.9",
             "The server's Finished comes first: a MAC under the resumed master secret over the handshake so far "
             "(the two hellos, and the ticket if one was sent), proving the server holds the session's master "
             "secret.",
             "a Finished from the server whose verify_data matches the handshake the client saw"),
    StepSpec("ccs", "client", "4a", "client_change_cipher_spec", "ChangeCipherSpec (client)", "ChangeCipherSpec",
             "RFC 5246 §7.1, §7.3",
             "The client switches on encryption too.",
             "the client's ChangeCipherSpec"),
    StepSpec(HandshakeType.FINISHED, "client", "4b", "client_finished", "Finished (client)", "Finished",
             "RFC 5246 §7.3, §7.4.9",
             "The client's Finished ends the handshake: its MAC covers everything, the server's Finished included, "
             "proving the client holds the same master secret. Application data may flow, encrypted.",
             "a Finished from the client whose verify_data matches the handshake the server saw"),
)


@dataclass(frozen=True)
class _Table:
    """One kind of handshake: its steps in order, and where each kind of event goes."""

    kind: Literal["full", "abbreviated"]
    specs: tuple[StepSpec, ...]
    #: The state a side was in when it failed -> the step it was waiting for.
    state_step: dict[tuple[Role, str], str]
    #: The step that shows the key schedule: where both sides have what it takes.
    keys_step: str
    #: The Finished steps, in the order they are sent.
    finished: tuple[str, str]
    ticket_step: str

    @property
    def order(self) -> list[str]:
        return [spec.number for spec in self.specs]

    @property
    def mandatory(self) -> list[str]:
        return [spec.number for spec in self.specs if not spec.optional]

    def spec(self, number: str) -> StepSpec:
        return next(spec for spec in self.specs if spec.number == number)

    def by_key(self, key: tuple[int | str, Role]) -> StepSpec | None:
        return next((spec for spec in self.specs if (spec.key, spec.sender) == key), None)

    def check_step(self, what: str) -> str | None:
        """The step a verification belongs to."""
        if what in ("client Finished", "server Finished"):
            return next(n for n in self.finished if self.spec(n).sender == what.split(maxsplit=1)[0])
        if self.kind == "abbreviated":
            return None
        if what.startswith("certificate[") or what in ("certificate chain", "host name"):
            return "3"
        if what.startswith("client certificate"):
            return "5b"
        return {"ServerKeyExchange signature": "4", "client CertificateVerify": "6b"}.get(what)


_FULL = _Table("full", STEP_TABLE, {
    ("client", "ExpectServerHello"): "2",
    ("client", "ExpectCertificate"): "3",
    ("client", "ExpectServerKeyExchange"): "4",
    ("client", "ExpectServerHelloDone"): "5",
    ("client", "ExpectNewSessionTicket"): "8",
    ("client", "ExpectChangeCipherSpec"): "8a",
    ("client", "ExpectFinished"): "8b",
    ("server", "ExpectClientHello"): "1",
    ("server", "ExpectClientCertificate"): "5b",
    ("server", "ExpectClientKeyExchange"): "6",
    ("server", "ExpectCertificateVerify"): "6b",
    ("server", "ExpectChangeCipherSpec"): "7a",
    ("server", "ExpectFinished"): "7b",
}, keys_step="6", finished=("7b", "8b"), ticket_step="8")
_RESUMED = _Table("abbreviated", RESUMED_STEP_TABLE, {
    ("client", "ExpectServerHello"): "2",
    ("client", "ExpectNewSessionTicket"): "2b",
    ("client", "ExpectResumedChangeCipherSpec"): "3a",
    ("client", "ExpectResumedFinished"): "3b",
    ("server", "ExpectClientHello"): "1",
    ("server", "ExpectResumedChangeCipherSpec"): "4a",
    ("server", "ExpectResumedFinished"): "4b",
}, keys_step="2", finished=("3b", "4b"), ticket_step="2b")

_CERTIFICATE_ALERTS = {AlertDescription.BAD_CERTIFICATE, AlertDescription.UNSUPPORTED_CERTIFICATE,
                       AlertDescription.CERTIFICATE_REVOKED, AlertDescription.CERTIFICATE_EXPIRED,
                       AlertDescription.CERTIFICATE_UNKNOWN, AlertDescription.UNKNOWN_CA}

_DERIVATION_TEXT: dict[str, tuple[str, bool]] = {
    "pre_master_secret": ("the ECDH shared secret: each side combines its own private key with the other's public "
                          "key and gets the same value, which never goes on the wire", True),
    "session_hash": ("a hash of every handshake message up to ClientKeyExchange; with the extended master secret "
                     "the keys depend on it, so they belong to this exact handshake", False),
    "master_secret": ("48 bytes from which every key comes; it is what the NSS key log records (the line's last "
                      "field)", True),
    "key_block": ("the master secret expanded into key material, then cut into the four values below (AEAD "
                  "suites have no MAC keys)", True),
    "client_write_key": ("the key that protects client → server records", True),
    "server_write_key": ("the key that protects server → client records", True),
    "client_write_IV": ("the implicit part of every client record's 12-byte nonce", True),
    "server_write_IV": ("the same for server → client records", True),
}


_RESUMED_DERIVATION_TEXT = {
    "master_secret": "the resumed session's master secret: made by the full handshake that created the session and "
                     "kept since (in the client's session, and in the server's ticket or store); nothing new is "
                     "exchanged. The NSS key log records it for this connection too, under this connection's client "
                     "random",
    "key_block": "the resumed master secret expanded with this handshake's two new randoms, so the keys are new "
                 "though the master secret is not; then cut into the four values below (AEAD suites have no MAC "
                 "keys)",
}


def derivation_text(label: str, suite: SuiteSpec | None, *, resumed: bool = False) -> tuple[str, bool]:
    """What a secret of the key schedule is, for the negotiated suite (its key exchange and its AEAD); `resumed`:
    in an abbreviated handshake, whose master secret is the session's."""
    meaning, secret = _DERIVATION_TEXT[label]
    if resumed and label in _RESUMED_DERIVATION_TEXT:
        return _RESUMED_DERIVATION_TEXT[label], secret
    if suite is None:
        return meaning, secret
    cipher = (f"AES-{suite.bits}-GCM" if suite.aead is AEADKind.AES_GCM else "ChaCha20-Poly1305")
    if label == "pre_master_secret":
        if suite.key_exchange is KeyExchange.DHE:
            meaning = ("the Diffie-Hellman shared secret Z: the client computes Ys^x mod p, the server Yc^y mod p, "
                       "the same number g^xy mod p, which never goes on the wire; as bytes, big-endian with its "
                       "leading zero bytes stripped (RFC 5246 §8.1.2)")
        elif suite.key_exchange is KeyExchange.RSA:
            meaning = ("48 bytes the client made (client_version ‖ 46 random bytes) and sent encrypted to the "
                       "server's RSA key in the ClientKeyExchange; the server decrypts it (RFC 5246 §7.4.7.1)")
    elif label in ("client_write_key", "server_write_key"):
        way = "client → server" if label.startswith("client") else "server → client"
        meaning = f"the {cipher} key ({suite.key_len} bytes) that protects {way} records"
    elif label == "client_write_IV":
        if suite.aead is AEADKind.AES_GCM:
            meaning = ("a 4-byte salt: the first part of every client record's 12-byte GCM nonce; the other 8 "
                       "bytes are the explicit nonce the record carries, usually its sequence number (RFC 5288 §3)")
        else:
            meaning = ("a 12-byte IV: every client record's ChaCha20-Poly1305 nonce is this IV XOR the record's "
                       "sequence number (left-padded to 12 bytes); nothing of the nonce is sent (RFC 7905 §2)")
    return meaning, secret


def record_protection(suite: SuiteSpec | None) -> str:
    """How the negotiated suite protects each record after ChangeCipherSpec, in a paragraph."""
    if suite is None:
        return ("Application data and alerts now travel in records protected by the negotiated cipher, which "
                "tls12 does not know. Sequence numbers count each side's records since its ChangeCipherSpec, so "
                "its Finished was number 0.")
    count = ("Sequence numbers count each side's records since its ChangeCipherSpec, so its Finished was number 0.")
    if suite.aead is AEADKind.AES_GCM:
        return (f"Application data and alerts now travel in AES-{suite.bits}-GCM records. Each record's 12-byte "
                "nonce is the sender's 4-byte write_IV (a salt) followed by the 8-byte explicit nonce sent in the "
                "record. The sender chooses the explicit nonce; it must never repeat under one key, and most "
                "senders (tls12 among them) use the record's sequence number (RFC 5288 §3). " + count)
    return ("Application data and alerts now travel in ChaCha20-Poly1305 records. Each record's 12-byte nonce is "
            "the sender's 12-byte write_IV XOR its 64-bit sequence number (padded on the left with 4 zero bytes); "
            "no nonce is sent, so a record is 16 bytes (the Poly1305 tag) longer than its plaintext (RFC 7905 §2). "
            + count)


def record_nonce(suite: SuiteSpec, iv: bytes, seq: int, explicit: bytes | None) -> bytes:
    """The 12-byte AEAD nonce of record `seq`, as RFC 5288 §3 (salt ‖ explicit) or RFC 7905 §2 (IV XOR seq) says."""
    if suite.aead is AEADKind.AES_GCM:
        return iv + (explicit if explicit is not None else seq.to_bytes(8, "big"))
    padded = seq.to_bytes(len(iv), "big")
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


_DERIVATION_ORDER = list(_DERIVATION_TEXT)


# -- reading one side's stream ---------------------------------------------------------------------


@dataclass(eq=False)
class _Seen:
    sender: Role
    message: object
    raw: bytes
    records: list[RecordInfo] = field(default_factory=list)


@dataclass(eq=False)
class _Item:
    sender: Role
    kind: Literal["application_data", "alert", "handshake"]
    record: RecordInfo | None = None
    alert: Alert | None = None
    note: str = ""


@dataclass
class _View:
    side: Side
    messages: list[_Seen] = field(default_factory=list)
    traffic: list[_Item] = field(default_factory=list)
    app_data: list[tuple[Role, bytes]] = field(default_factory=list)
    checks: list[Verification] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    secrets: list[SecretDerived] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _is_handshake(message: object) -> bool:
    return isinstance(getattr(message, "msg_type", None), HandshakeType)


def _read(side: Side, stream: Sequence[TraceEvent | ObserverNote]) -> _View:
    """Pair this side's messages with their records, and sort its other events."""
    view = _View(side)
    role = role_of(side)
    pending_out: list[_Seen | _Item] = []  # sent messages whose record comes next
    last_out: list[_Seen] = []  # for a handshake message cut into several records
    pending_in: dict[Role, list[RecordInfo]] = {"client": [], "server": []}
    last_in: dict[Role, RecordInfo | None] = {"client": None, "server": None}
    finished = 0
    for event in stream:
        if isinstance(event, ObserverNote):
            view.notes.append(event.text)
        elif isinstance(event, RecordTrace):
            sender = role if event.direction == "out" else other(role)
            info = RecordInfo(sender, int(event.content_type), event.version, event.length, event.protected,
                              event.seq, event.explicit_nonce, event.plaintext_length)
            message_first = event.direction == "out" and side != "observer"
            if event.content_type == ContentType.APPLICATION_DATA:
                view.traffic.append(_Item(sender, "application_data", info))
            elif message_first:
                if pending_out:
                    for item in pending_out:
                        if isinstance(item, _Item):
                            item.record = info
                        else:
                            item.records.append(info)
                    last_out = [m for m in pending_out if isinstance(m, _Seen)]
                    pending_out = []
                elif event.content_type == ContentType.HANDSHAKE:
                    for seen in last_out:
                        seen.records.append(info)
            else:
                pending_in[sender].append(info)
                last_in[sender] = info
        elif isinstance(event, MessageTrace):
            sender = role if event.direction == "out" else other(role)
            message_first = event.direction == "out" and side != "observer"
            message = event.message
            if isinstance(message, AppData):
                view.app_data.append((sender, message.data))
                continue
            if isinstance(message, Alert):
                item = _Item(sender, "alert", alert=message)
                if message_first:
                    pending_out.append(item)
                else:
                    records = pending_in[sender]
                    item.record = records[-1] if records else last_in[sender]
                    pending_in[sender] = []
                view.traffic.append(item)
                continue
            if not (_is_handshake(message) or isinstance(message, ChangeCipherSpec)):
                continue
            if finished >= 2 and _is_handshake(message):
                # After the handshake: a renegotiation attempt (refused) or a HelloRequest.
                name = _message_name(message)
                item = _Item(sender, "handshake", note=name)
                view.traffic.append(item)
                if message_first:
                    pending_out.append(item)
                continue
            seen = _Seen(sender, message, event.raw)
            if message_first:
                pending_out.append(seen)
            else:
                records = pending_in[sender]
                last = last_in[sender]
                seen.records = list(records) if records else ([last] if last is not None else [])
                pending_in[sender] = []
            view.messages.append(seen)
            if getattr(message, "msg_type", None) == HandshakeType.FINISHED:
                finished += 1
        elif isinstance(event, Verification):
            view.checks.append(event)
        elif isinstance(event, Decision):
            view.decisions.append(event)
        elif isinstance(event, SecretDerived):
            view.secrets.append(event)
        elif isinstance(event, Failure):
            view.failures.append(event)
    return view


def _message_name(message: object) -> str:
    if isinstance(message, ChangeCipherSpec):
        return "ChangeCipherSpec"
    msg_type = getattr(message, "msg_type", None)
    if isinstance(msg_type, HandshakeType):
        return "".join(part.capitalize() for part in msg_type.name.split("_"))
    return type(message).__name__


def _key(message: object) -> int | str:
    if isinstance(message, ChangeCipherSpec):
        return "ccs"
    return int(getattr(message, "msg_type", -1))


# -- the whole explanation -------------------------------------------------------------------------


def explain(events: Sequence[Tagged], *, title: str = "", subtitle: str = "") -> Explanation:
    """The handshake's steps in RFC order, with everything each traced side did about them."""
    streams: dict[Side, list[TraceEvent | ObserverNote]] = {}
    for tagged in events:
        streams.setdefault(tagged.side, []).append(tagged.event)
    views = {side: _read(side, stream) for side, stream in streams.items()}
    source: Literal["live", "replay"] = "replay" if "observer" in views else "live"
    table = _RESUMED if _abbreviated(views) else _FULL
    result = Explanation(source=source, traced=tuple(s for s in ("client", "server", "observer") if s in views),
                         title=title, subtitle=subtitle, kind=table.kind)
    for view in views.values():
        result.notes += view.notes

    suite = _negotiated_suite(views)
    steps, extras = _steps(views, suite, table)
    _attach_checks(steps, views, table)
    _attach_decisions(steps, views, result, table)
    _attach_derivations(steps, views, suite, table)
    if table is _FULL:
        _attach_key_exchange(steps, views, suite)
        _attach_client_auth(steps, suite)
    _attach_sessions(steps, views, table)
    result.record_protection = record_protection(suite)
    failure = _failure(steps, views, table)
    result.failure = failure

    order = table.order
    ordered = [steps[n] for n in order if n in steps] + extras
    if failure is not None and failure.step is not None:
        cut = order.index(failure.step)
        if failure.step not in steps:
            steps[failure.step] = _new_step(table.spec(failure.step), suite)
            ordered = [steps[n] for n in order if n in steps] + extras
        target = steps[failure.step]
        target.status = "failed"
        keep = order[: cut + 1]
        result.not_reached = [NotReached(spec.number, spec.title, spec.number in steps)
                              for spec in table.specs[cut + 1 :] if _would_come(spec, steps)]
        ordered = [s for s in ordered if s.number in keep or (s.number == "" and _extra_before(s, keep, ordered))]
    if (failure is not None and failure.step == "7b" and table is _FULL and suite is not None
            and suite.key_exchange is KeyExchange.RSA and "7b" in steps):
        steps["7b"].notes.append(
            "with static RSA this is also how a bad premaster ends: a ClientKeyExchange the server could not "
            "decrypt (or whose version was wrong) was replaced by the server's own 46 random bytes without a "
            "word, so the keys differ and the client's Finished record fails to open here (bad_record_mac), the "
            "same alert as for any other damaged record: the server does not know, and never says, which it was "
            "(RFC 5246 §7.4.7.1)")
    result.steps = ordered
    perspective = _perspective(views)
    result.traffic = _traffic(perspective) if perspective is not None else []
    if suite is not None:
        result.traffic = _with_nonces(result.traffic, suite, steps.get(table.keys_step))
    result.flights = _flights(result, table)
    result.summary = _summary(result.steps, suite, table)
    result.complete = (failure is None or failure.step is None) and result.step(table.finished[1]) is not None
    return result


def _abbreviated(views: dict[Side, _View]) -> bool:
    """Whether the server resumed a session: its ServerHello echoes the session_id the ClientHello offered
    (RFC 5246 §7.4.1.3, RFC 5077 §3.4), a traced side says so, or its ChangeCipherSpec follows its hello (RFC
    5077 §3.4: a client may offer a ticket without a session_id, and then learns it only that way)."""
    for view in views.values():
        if any(d.what == "session" and d.value == "resumed" for d in view.decisions):
            return True
        hello = next((s.message for s in view.messages if isinstance(s.message, ClientHello)), None)
        server = [s.message for s in view.messages if s.sender == "server"]
        if not server or not isinstance(server[0], ServerHello):
            continue
        if isinstance(hello, ClientHello) and hello.session_id and server[0].session_id == hello.session_id:
            return True
        after = [m for m in server[1:] if not isinstance(m, NewSessionTicket)]
        if after and isinstance(after[0], ChangeCipherSpec):
            return True
    return False


def _would_come(spec: StepSpec, steps: dict[str, Step]) -> bool:
    """Whether a step would have come had the handshake gone on: a NewSessionTicket only after a ServerHello
    with the SessionTicket extension, a mutual-TLS step only after a CertificateRequest, and a CertificateVerify
    only after a client Certificate that is not empty."""
    if spec.number in steps or not spec.optional:
        return True
    if spec.id == "new_session_ticket":
        hello = _parsed_message(steps.get("2"), "ECDHE")
        return isinstance(hello, ServerHello) and find_extension(hello.extensions, SessionTicket) is not None
    if "4b" not in steps:
        return False
    return spec.number != "6b" or "5b" not in steps or bool(_client_chain(steps))


def _client_chain(steps: dict[str, Step]) -> list[bytes]:
    """The client's certificate_list (DER), from step 5b; empty if it sent none (or it cannot be read)."""
    message = _parsed_message(steps.get("5b"), "ECDHE")
    return list(message.certificate_list) if isinstance(message, Certificate) else []


def _new_step(spec: StepSpec, suite: SuiteSpec | None = None) -> Step:
    rfc, purpose, expected = spec.rfc, spec.purpose, spec.expected
    if suite is not None:
        rfc, purpose, expected = _KX_STEP_TEXT.get((suite.key_exchange, spec.number), (rfc, purpose, expected))
    return Step(spec.number, spec.id, spec.title, spec.message, spec.sender, rfc, purpose, expected)


def _extra_before(step: Step, keep: list[str], ordered: list[Step]) -> bool:
    """An extra message (no number) stays if a kept numbered step follows it."""
    index = ordered.index(step)
    return any(s.number in keep for s in ordered[index + 1 :])


def _preferred_sides(views: dict[Side, _View], sender: Role) -> list[_View]:
    """Whose record of a message to believe: the sender's, then an observer's, then the receiver's."""
    order: list[Side] = [sender, "observer", other(sender)]
    return [views[s] for s in order if s in views]


def _negotiated_suite(views: dict[Side, _View]) -> SuiteSpec | None:
    """The suite row of the ServerHello (from whichever side saw it), which says what the key exchange is."""
    for view in views.values():
        for seen in view.messages:
            if isinstance(seen.message, ServerHello):
                return SUITES.get(seen.message.cipher_suite)
    return None


def _kx(suite: SuiteSpec | None) -> str:
    return suite.key_exchange.value if suite is not None else "ECDHE"


def _steps(views: dict[Side, _View], suite: SuiteSpec | None, table: _Table) -> tuple[dict[str, Step], list[Step]]:
    steps: dict[str, Step] = {}
    extras: list[Step] = []
    extra_keys: set[tuple[int | str, Role]] = set()
    for view in views.values():
        for seen in view.messages:
            key = (_key(seen.message), seen.sender)
            spec = table.by_key(key)
            if spec is not None and spec.number in steps:
                continue
            best = _first_from(views, key, seen.sender) or seen
            if spec is None:
                if key in extra_keys:
                    continue
                extra_keys.add(key)
                name = _message_name(seen.message)
                step = Step("", name[0].lower() + name[1:], f"{name} ({seen.sender})", name, seen.sender,
                            _EXTRA_RFC.get(name, "RFC 5246 §7.4"), "A handshake message outside the usual "
                            "steps.", name)
                extras.append(step)
            else:
                step = _new_step(spec, suite)
                steps[spec.number] = step
            step.seen = True
            step.raw = best.raw
            step.records = best.records
            step.fields = (annotate_change_cipher_spec(best.raw) if isinstance(best.message, ChangeCipherSpec)
                           else annotate_handshake(best.raw, _kx(suite), from_client=seen.sender == "client"))
            if any(r.protected for r in best.records) or (spec is not None and spec.key == HandshakeType.FINISHED):
                step.notes.append("sent encrypted under the new keys; shown here decrypted")
    return steps, extras


def _first_from(views: dict[Side, _View], key: tuple[int | str, Role], sender: Role) -> _Seen | None:
    for view in _preferred_sides(views, sender):
        for seen in view.messages:
            if (_key(seen.message), seen.sender) == key:
                return seen
    return None


_EXTRA_RFC = {"HelloRequest": "RFC 5246 §7.4.1.1"}


def _status(event: Verification) -> Literal["ok", "failed", "skipped"]:
    if event.detail.startswith(("not verified", "not checked")):
        return "skipped"
    return "ok" if event.ok else "failed"


def _attach_checks(steps: dict[str, Step], views: dict[Side, _View], table: _Table) -> None:
    for side, view in views.items():
        # A check that was made supersedes a "not checked" for the same thing (the core says the chain
        # was fine without the name before saying the name was wrong).
        made = {e.what for e in view.checks if _status(e) != "skipped"}
        for event in view.checks:
            number = table.check_step(event.what)
            if number is None or number not in steps or (_status(event) == "skipped" and event.what in made):
                continue
            steps[number].checks.append(Check(side, event.what, _status(event), event.detail, event.subject,
                                              event.expected, event.received))
    client, server = views.get("client"), views.get("server")
    if client is not None and server is not None and table.keys_step in steps:
        ours = {s.label: s.value for s in client.secrets}
        theirs = {s.label: s.value for s in server.secrets}
        if "master_secret" in ours and "master_secret" in theirs:
            same = ours["master_secret"] == theirs["master_secret"]
            how = ("neither ever sent it: each took it from the session, the client from the one it kept and the "
                   "server from the ticket or its store" if table is _RESUMED else
                   "neither ever sent it: each computed it from its own private key and the other's public key")
            steps[table.keys_step].checks.append(Check(
                "both", "master secret", "ok" if same else "failed",
                how if same else "client and server computed different master secrets"))


#: Decisions that are the client's own choice: from the client's trace, whoever else was traced.
_CLIENT_CHOICES = ("client certificate", "session offered")


def _attach_decisions(steps: dict[str, Step], views: dict[Side, _View], result: Explanation,
                      table: _Table) -> None:
    deciders: tuple[Side, ...] = ("server", "observer", "client")
    decider: Side | None = None
    for side in deciders:
        view = views.get(side)
        if view is None or not view.decisions:
            continue
        decider = side
        for event in view.decisions:
            info = DecisionInfo(view.side, event.what, event.value, event.why)
            if event.what == "renegotiation":
                result.traffic_decisions.append(info)
                continue
            target = _decision_step(info, steps, table)
            if target is not None:
                target.decisions.append(info)
        break
    # The client chooses its own certificate and the session it offers: its reasons go with its messages.
    client = views.get("client")
    if client is not None and decider not in ("client", None):
        for what in _CLIENT_CHOICES:
            own = [DecisionInfo("client", e.what, e.value, e.why) for e in client.decisions if e.what == what]
            target = _decision_step(own[0], steps, table) if own else None
            if target is not None:
                target.decisions[:0] = own


def _decision_step(decision: DecisionInfo, steps: dict[str, Step], table: _Table) -> Step | None:
    """The step a decision belongs to (the ServerHello's when its own step is missing)."""
    what = decision.what
    number = "2"
    if what == "session offered":
        number = "1"
    elif what == "session ticket":
        number = table.ticket_step
    elif what == "session" and decision.value in ("stored", "not stored"):
        number = table.finished[1] if table is _FULL else "2"  # the server keeps it once its Finished is sent
    elif table is _FULL:
        if what == "client authentication":
            return steps.get("4b")
        if what == "client certificate":
            return steps.get("5b")
        number = "4" if what in ("group", "signature scheme") else "3" if what == "certificate" else "2"
    return steps.get(number) or steps.get("2")


def _attach_derivations(steps: dict[str, Step], views: dict[Side, _View], suite: SuiteSpec | None,
                        table: _Table) -> None:
    """The key schedule, from the client, else the server, else the observer: at the ClientKeyExchange in a full
    handshake, at the ServerHello in an abbreviated one (the keys come from the session's master secret and the
    two randoms, so both sides derive them as soon as the ServerHello is out)."""
    target = steps.get(table.keys_step)
    if target is None:
        return
    resumed = table is _RESUMED
    derivers: tuple[Side, ...] = ("client", "server", "observer")
    for side in derivers:
        view = views.get(side)
        if view is None or (not view.secrets and side != "observer"):
            continue
        known = {s.label: s for s in view.secrets}
        derivations: list[Derivation] = []
        for label in _DERIVATION_ORDER:
            meaning, secret = derivation_text(label, suite, resumed=resumed)
            event = known.get(label)
            if event is None:
                if (label == "pre_master_secret" and side == "observer" and "master_secret" in known
                        and not resumed):
                    derivations.append(_unknown_premaster(suite, steps, meaning, secret))
                continue
            source = "the key log" if side == "observer" and label == "master_secret" else ""
            derivations.append(Derivation(label, event.value, len(event.value), event.inputs, meaning, secret,
                                          side, source))
        target.derivations = derivations
        if derivations:
            return


def _unknown_premaster(suite: SuiteSpec | None, steps: dict[str, Step], meaning: str, secret: bool) -> Derivation:
    """The premaster secret as an observer has it: not at all, and why."""
    if suite is not None and suite.key_exchange is KeyExchange.DHE:
        ske = _parsed_message(steps.get("4"), "DHE")
        length = len(ske.dh_p) if isinstance(ske, DHEServerKeyExchange) else 256
        return Derivation("pre_master_secret", None, length, "Z = Ys^x mod p = Yc^y mod p, leading zeros stripped",
                          meaning + ". An observer cannot compute it: that takes x or y, the two ephemeral "
                          "private values", secret, "observer")
    if suite is not None and suite.key_exchange is KeyExchange.RSA:
        return Derivation("pre_master_secret", None, 48, "RSA-decrypt(EncryptedPreMasterSecret) with the server's key",
                          meaning + ". An observer cannot read it: that takes the server's RSA private key (and "
                          "whoever has that key can read every recorded static-RSA connection to it)", secret,
                          "observer")
    return Derivation("pre_master_secret", None, 32, "ECDH(our private key, the peer's public key)",
                      meaning + ". An observer cannot compute it: that takes one of the two ephemeral private keys",
                      secret, "observer")


def _parsed_message(step: Step | None, kx: str) -> object | None:
    if step is None or len(step.raw) < 4:
        return None
    try:
        return parse_handshake(step.raw[0], step.raw[4:], kx)
    except TLSError:
        return None


def _leaf(step: Step | None) -> x509.Certificate | None:
    message = _parsed_message(step, "ECDHE")
    if not isinstance(message, Certificate) or not message.certificate_list:
        return None
    try:
        return x509.load_der_x509_certificate(message.certificate_list[0])
    except ValueError:
        return None


def key_description(cert: x509.Certificate) -> str:
    """The certificate's public key in a few words: "RSA 2048 bits", "ECDSA P-256", "Ed25519"."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):  # a damaged certificate from a capture
        return "a key tls12 cannot read"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {_CURVES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _attach_key_exchange(steps: dict[str, Step], views: dict[Side, _View], suite: SuiteSpec | None) -> None:
    """What the key exchange and the server's signature did, with the values: steps 3, 4 and 6."""
    if suite is None:
        return
    kx = suite.key_exchange.value
    leaf = _leaf(steps.get("3"))
    who = "key"
    if leaf is not None:
        try:  # a damaged certificate (from a capture) parses lazily: its fields may not
            who = f"{key_description(leaf)} key of {leaf.subject.rfc4514_string()}"
        except ValueError:
            leaf = None
    if "3" in steps and leaf is not None:
        use = ("decrypts the premaster secret the client encrypts to it (static RSA: the key does not sign)"
               if suite.key_exchange is KeyExchange.RSA else "signs the ServerKeyExchange")
        steps["3"].notes.append(f"the leaf certificate's {who.replace(' key of ', ' key, of ')}: for "
                                f"{suite_name(suite.suite)} it {use}")
    ske = _parsed_message(steps.get("4"), kx)
    if isinstance(ske, ServerKeyExchange | DHEServerKeyExchange) and "4" in steps:
        if isinstance(ske, DHEServerKeyExchange):
            steps["4"].notes.append(
                f"group: {dh_group_name(ske.dh_p, ske.dh_g)}; p is {len(ske.dh_p) * 8} bits, g = "
                f"{int.from_bytes(ske.dh_g, 'big')}, Ys = {hex_value(ske.dh_Ys)}")
        steps["4"].notes.append(
            f"signature: {scheme_name(ske.scheme)} ({code(ske.scheme)}) by the leaf certificate's {who}, over "
            f"client_random ‖ server_random ‖ the {'ServerDHParams' if kx == 'DHE' else 'ServerECDHParams'} "
            f"({len(ske.params_bytes())} bytes); {signature_how(ske.scheme)}")
    step6 = steps.get("6")
    if step6 is None:
        return
    known = next((d for d in step6.derivations if d.label == "pre_master_secret"), None)
    premaster = known.value if known is not None else None
    if suite.key_exchange is KeyExchange.DHE:
        cke = _parsed_message(step6, kx)
        if isinstance(cke, DHEClientKeyExchange):
            step6.notes.append(f"Yc = {hex_value(cke.dh_Yc)}")
        size = f"; here {len(premaster)} bytes" if premaster is not None else ""
        step6.notes.append("premaster secret: Z = Ys^x mod p (the client) = Yc^y mod p (the server), written "
                           f"big-endian with leading zero bytes stripped (RFC 5246 §8.1.2){size}")
    elif suite.key_exchange is KeyExchange.RSA:
        if premaster is not None and len(premaster) == 48 and known is not None and known.by == "client":
            step6.notes.append(f"what the client encrypted: client_version {premaster[:2].hex()} ‖ 46 random bytes "
                               f"{premaster[2:].hex()}, padded with PKCS#1 v1.5 (type 2) to the length of the "
                               "server's modulus and encrypted to its public key")
        elif premaster is not None and len(premaster) == 48:
            step6.notes.append(f"the premaster the server went on with: {premaster[:2].hex()} ‖ "
                               f"{premaster[2:].hex()}: the client's, if it decrypted and named the right version; "
                               "else the server's own random bytes. The server cannot tell which until the "
                               "client's Finished, and never says")
        else:
            step6.notes.append("what the client encrypted: client_version (2 bytes) ‖ 46 random bytes, padded with "
                               "PKCS#1 v1.5 (type 2) and encrypted to the server's public key")
        step6.notes.append(
            "a bad premaster is never revealed: the server draws client_version ‖ 46 random bytes before it "
            "decrypts, and uses them instead whenever the padding, the length or the version is wrong, without "
            "a word; the handshake then fails at the client's Finished (its record does not open: bad_record_mac), "
            "exactly as a wrong key would make it fail, so no answer tells a bad padding from a good one "
            "(RFC 5246 §7.4.7.1; Bleichenbacher, ROBOT)")


def _attach_client_auth(steps: dict[str, Step], suite: SuiteSpec | None) -> None:
    """Mutual TLS, with the values: what the client's Certificate is for (5b), and what its CertificateVerify
    signs, with which hash and by which key (6b)."""
    if "4b" in steps and steps["4b"].seen:
        steps["4b"].notes.append("the client answers after ServerHelloDone: its Certificate (step 5b), then, if that "
                                 "is not empty, a CertificateVerify (step 6b) proving it holds the certificate's key")
    chain = _client_chain(steps)
    leaf = _certificate_of(chain[0]) if chain else None
    who = "key"
    if leaf is not None:
        try:
            who = f"{key_description(leaf)} key of {leaf.subject.rfc4514_string()}"
        except ValueError:
            leaf = None
    step5 = steps.get("5b")
    if step5 is not None and step5.seen:
        if not chain:
            step5.notes.append("an empty Certificate: no CertificateVerify follows (RFC 5246 §7.4.8), and the client "
                               "stays anonymous if the server lets it")
        elif leaf is not None:
            step5.notes.append(f"the leaf certificate's {who.replace(' key of ', ' key, of ')}: it signs the "
                               "CertificateVerify (step 6b), which proves the client holds it")
            step5.notes.append(_named_by_request(steps.get("4b"), chain))
    step6 = steps.get("6b")
    verify = _parsed_message(step6, "ECDHE")
    if step6 is None or not isinstance(verify, CertificateVerify):
        return
    order = _FULL.order
    covered = [steps[n] for n in order[: order.index("6b")]
               if n in steps and steps[n].raw and isinstance(_FULL.spec(n).key, int)]
    signed = b"".join(step.raw for step in covered)
    whose = {"3": "the server's ", "5b": "the client's "}
    listed = ", ".join(f"{whose.get(step.number, '')}{step.message} ({len(step.raw)} bytes)" for step in covered)
    step6.notes.append(f"signed: the {len(covered)} handshake messages before it, as they went over the wire, in "
                       f"order: {listed}; {len(signed)} bytes in all (RFC 5246 §7.4.8)")
    scheme = scheme_name(verify.scheme)
    algorithm = _scheme_hash(scheme)
    by = f"by the client leaf certificate's {who}"
    if algorithm is None:
        step6.notes.append(f"{scheme} ({code(verify.scheme)}) {by}; {signature_how(verify.scheme)}")
        return
    digest = hashes.Hash(algorithm)
    digest.update(signed)
    value = digest.finalize()
    prf = suite.prf_hash.name.upper().replace("SHA", "SHA-") if suite is not None else None
    hash_name = algorithm.name.upper().replace("SHA", "SHA-")
    same = ("here the suite's PRF hash too, though it need not be" if prf == hash_name else
            f"not the suite's PRF hash, {prf}: the scheme brings its own, so both sides keep the handshake "
            "messages themselves until the signature is checked" if prf else "the scheme's own hash")
    step6.notes.append(f"{scheme} ({code(verify.scheme)}) {by}: {hash_name} of those bytes is "
                       f"{value.hex()} ({same}); {signature_how(verify.scheme)}")
    session = next((d for d in steps["6"].derivations if d.label == "session_hash"), None) if "6" in steps else None
    if session is not None and session.value == value:
        step6.notes.append("the same bytes as the extended master secret's session_hash, hashed the same way: the "
                           "same value")


# -- sessions: what was offered, what became of it, the ticket -------------------------------------

#: The core's reasons for not resuming (or not offering) a session, explained: (a phrase of the reason, what
#: it means). The core decides; this only says why that rule exists.
_SESSION_REASONS: tuple[tuple[str, str], ...] = (
    ("session id unknown", "the server holds no session under that ID: it expired or was evicted from the "
     "store, or a server that does not share this one's store made it. RFC 5246 §7.4.1.3: the server then "
     "makes a new session in a full handshake"),
    ("not opened", "none of the server's ticket keys opens it: its key name (its first 16 bytes) is not one "
     "the server still holds (the key has rotated out, or a server with other ticket keys sealed it), or it was "
     "cut short or altered, which the AES-GCM tag shows. A ticket that does not open is a miss, never an error "
     "(RFC 5077 §3.4): a full handshake, and a new ticket"),
    ("does not decode", "what the server found does not read as a session (written by another version, or "
     "damaged): a miss, and a full handshake"),
    ("tickets are disabled", "this server seals no tickets (it has no ticket keys), so it opens none: a full "
     "handshake"),
    ("ticket keys failed", "the server's source of ticket keys (a shared store) failed: a failing store is a "
     "miss, never an error, and the handshake goes on in full"),
    ("store failed", "the server's session store failed: a failing store is a miss, never an error, and the "
     "handshake goes on in full"),
    ("keeps no sessions by ID", "this server has no session store: only a ticket could resume a session"),
    ("has expired since", "a certificate of the path verified for the peer has expired since the session was "
     "made: resuming would accept it without a check"),
    ("expired", "the session has outlived its lifetime: a server resumes a session only for its session "
     "lifetime after the full handshake that made it, a client only as long as the ticket's lifetime hint says"),
    ("suite no longer enabled", "the session's cipher suite is no longer enabled, and a resumed session keeps "
     "its suite (RFC 5246 §7.4.1.3)"),
    ("suite not offered", "the client no longer offers the session's cipher suite, and a resumed session keeps "
     "its suite (RFC 5246 §7.4.1.2)"),
    ("SNI differs", "a session belongs to the server name it was made for: resumed under another name, the "
     "certificate check for that name would be skipped (RFC 6066 §3)"),
    ("ALPN", "a resumed session keeps its application protocol, and the ALPN choice would not be the session's "
     "now"),
    ("verification policy changed", "the peer was admitted under other verification settings (client "
     "authentication, trust anchors, the client's checks): resuming skips the certificate checks, so a session "
     "resumes only under the policy that admitted its peer"),
    ("EMS rule", "RFC 7627 §5.3: a session made with the extended master secret resumes only when the "
     "ClientHello offers it again, and one made without it (open to the triple-handshake attack) is never "
     "resumed by tls12"),
    ("client certificate this configuration does not have", "the session was made with a client certificate "
     "this client no longer has: resuming would claim an identity it cannot prove"),
    ("nothing to resume it by", "a session resumes by its ID or its ticket, and this one has neither (or "
     "tickets are off)"),
    ("does not fit", "the ticket is too large for a ClientHello's extensions"),
    ("did not echo", "the server answered with a full handshake; its reason is its own and not on the wire"),
)


def _session_reason(why: str) -> str:
    for phrase, meaning in _SESSION_REASONS:
        if phrase in why:
            return meaning
    return ""


def _ticket_words(ticket: bytes) -> str:
    """A ticket's size and, as far as the wire tells, the key that sealed it."""
    words = f"{len(ticket)} bytes, opaque to the client, which only hands back what the server gave it"
    if len(ticket) >= 16:
        words += (f"; its first 16 bytes, {ticket[:16].hex()}, name the key that sealed it if the server lays "
                  "tickets out as RFC 5077 §4 recommends: tls12 does (key_name ‖ 12-byte nonce ‖ the encrypted session "
                  "‖ 16-byte tag), and OpenSSL too")
    return words


def _attach_sessions(steps: dict[str, Step], views: dict[Side, _View], table: _Table) -> None:
    """Sessions, explained: the session or ticket the ClientHello offers, whether the server resumed it and why
    (the deciding side's reason, explained), what a NewSessionTicket carries, and in an abbreviated handshake what
    each Finished covers."""
    hello = _parsed_message(steps.get("1"), "ECDHE")
    server_hello = _parsed_message(steps.get("2"), "ECDHE")
    if not isinstance(hello, ClientHello):
        return
    ticket = _offered_ticket(hello)
    step1 = steps["1"]
    if ticket:
        echo = (f"with a {len(hello.session_id)}-byte session_id of the client's making, whose echo will say the "
                "server took the ticket" if hello.session_id else "with an empty session_id: the client learns that "
                "the ticket was taken only when the server's ChangeCipherSpec follows its ServerHello")
        step1.notes.append(f"the client offers a session by its ticket, in the SessionTicket extension: "
                           f"{_ticket_words(ticket)}; {echo} (RFC 5077 §3.4)")
    elif hello.session_id and may_be_compatibility_id(hello) and table is _FULL:
        step1.notes.append(f"the session_id, {hello.session_id.hex()}, names a session the client would resume, or "
                           "is the random one a client that also speaks TLS 1.3 sends for middlebox compatibility "
                           "(RFC 8446 §D.4): the ServerHello did not echo it, so nothing was resumed either way")
    elif hello.session_id:
        step1.notes.append(f"the client offers to resume the session with ID {hello.session_id.hex()} "
                           "(RFC 5246 §7.4.1.2)")
    if isinstance(server_hello, ServerHello) and "2" in steps:
        if table is _RESUMED:
            steps["2"].notes.append(
                "what the session brings back, as the full handshake that made it settled it: the master secret, "
                f"the suite ({suite_name(server_hello.cipher_suite)}), the extended master secret, the server name, "
                "the ALPN choice and the peer's certificates as they were verified then")
        elif ticket or (hello.session_id and not may_be_compatibility_id(hello)):
            steps["2"].notes.append("the ServerHello does not echo the session_id the client sent: the server did "
                                    "not resume the session, and a full handshake follows (RFC 5246 §7.4.1.3)")
    refusals = {("session", "full handshake"): "not resumed", ("session offered", "(none)"): "no session offered"}
    for step in steps.values():
        for decision in step.decisions:
            refusal = refusals.get((decision.what, decision.value))
            if refusal is not None and (meaning := _session_reason(decision.why)):
                step.notes.append(f"{refusal}: {meaning}")
    issued = _parsed_message(steps.get(table.ticket_step), "ECDHE")
    if isinstance(issued, NewSessionTicket):
        step = steps[table.ticket_step]
        if issued.ticket:
            step.notes.append(
                "the ticket: the session (its master secret, suite, names and the peer's certificates) sealed "
                f"under the server's ticket key, {_ticket_words(issued.ticket)}. The client keeps it, for the "
                f"lifetime hint ({issued.ticket_lifetime_hint} s) at most, and offers it in the SessionTicket "
                "extension of a later ClientHello. " + (
                    "Both Finished messages cover this message, as it comes before them" if table is _RESUMED else
                    "The server's Finished covers this message; the client's came before it"))
            if table is _RESUMED:
                step.notes.append("a server renews a ticket when it sees fit: tls12 does when the ticket opened "
                                  "with an older ticket key, so the session still resumes once that key has rotated "
                                  "out")
        else:
            step.notes.append("an empty ticket: the server issues none after all (RFC 5077 §3.3)")
    if table is _RESUMED:
        _attach_resumed_finished(steps)


def _attach_resumed_finished(steps: dict[str, Step]) -> None:
    """What each Finished of an abbreviated handshake covers: the server's comes first."""
    covered = [steps[n] for n in ("1", "2", "2b") if n in steps and steps[n].raw]
    listed = ", ".join(f"{s.message} ({len(s.raw)} bytes)" for s in covered)
    if "3b" in steps and steps["3b"].seen:
        steps["3b"].notes.append(f"covers the handshake messages before it: {listed} (RFC 5246 §7.4.9)")
    if "4b" in steps and steps["4b"].seen and "3b" in steps and steps["3b"].raw:
        steps["4b"].notes.append(f"covers {listed}, then the server's Finished ({len(steps['3b'].raw)} bytes) "
                                 "(RFC 5246 §7.4.9)")


def _certificate_of(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def _named_by_request(request_step: Step | None, chain: list[bytes]) -> str:
    """Whether the client's chain reaches a CA the CertificateRequest names."""
    request = _parsed_message(request_step, "ECDHE")
    if not isinstance(request, CertificateRequest):
        return "the CertificateRequest was not seen: which CAs the server named is unknown"
    if not request.certificate_authorities:
        return "the CertificateRequest named no CA: the server takes whichever issuer it trusts"
    for der in chain:
        cert = _certificate_of(der)
        if cert is None:
            continue
        for name in (cert.issuer, cert.subject):
            with contextlib.suppress(ValueError):
                if name.public_bytes() in request.certificate_authorities:
                    return f"its chain reaches {name.rfc4514_string()}, a CA the CertificateRequest names"
    count = len(request.certificate_authorities)
    return (f"its chain reaches none of the {count} CA{'s' if count != 1 else ''} the CertificateRequest names: "
            "the server will not find a path to a CA it trusts for clients, unless it trusts more than it names")


def _scheme_hash(name: str) -> hashes.HashAlgorithm | None:
    """The hash a signature scheme signs with (RFC 8446 §4.2.3); None for EdDSA, which signs the data itself."""
    for suffix, algorithm in (("sha1", hashes.SHA1()), ("sha256", hashes.SHA256()), ("sha384", hashes.SHA384()),
                              ("sha512", hashes.SHA512())):
        if name.endswith(suffix):
            return algorithm
    return None


def _with_nonces(traffic: list[TrafficItem], suite: SuiteSpec, step6: Step | None) -> list[TrafficItem]:
    """Each protected record's AEAD nonce, computed from its sender's write_IV and sequence number."""
    ivs: dict[str, bytes] = {}
    if step6 is not None:
        for d in step6.derivations:
            if d.label in ("client_write_IV", "server_write_IV") and d.value is not None:
                ivs[d.label.split("_")[0]] = d.value
    out: list[TrafficItem] = []
    for item in traffic:
        r = item.record
        if r is None or not r.protected or r.seq is None:
            out.append(item)
            continue
        rule = (f"{item.sender}_write_IV ‖ explicit nonce" if suite.aead is AEADKind.AES_GCM
                else f"{item.sender}_write_IV XOR {r.seq.to_bytes(12, 'big').hex()} (sequence number {r.seq})")
        iv = ivs.get(item.sender)
        nonce = record_nonce(suite, iv, r.seq, r.explicit_nonce) if iv is not None else None
        out.append(dataclasses.replace(item, nonce=nonce, nonce_rule=rule))
    return out


# -- failure ---------------------------------------------------------------------------------------


def _failure(steps: dict[str, Step], views: dict[Side, _View], table: _Table) -> FailureInfo | None:
    """Where it failed: the detecting side's own account, else inferred from the alert."""
    accounts: list[tuple[Side, Failure]] = [(side, f) for side, v in views.items() for f in v.failures]
    detected = [(s, f) for s, f in accounts if f.alert_direction != "received"]
    received = [(s, f) for s, f in accounts if f.alert_direction == "received"]
    if detected:
        side, event = detected[0]
        role = role_of(side)
        step = table.state_step.get((role, event.state))
        if step == "5" and event.received == "CertificateRequest" and table is _FULL:
            step = "4b"  # the state that takes ServerHelloDone takes one CertificateRequest first
        peer_view = ""
        for other_side, other_event in received:
            if role_of(other_side) != role:
                peer_view = (f"the {role_of(other_side)} received it while waiting for {other_event.expected} "
                             f"({other_event.state})")
        return _failure_info(steps, step, role, event, peer_view, table, inferred=False)
    if received:
        side, event = received[0]
        role = role_of(side)
        alerter = other(role)
        step = _alert_step(int(event.alert) if event.alert is not None else -1, alerter, steps, role,
                           table.state_step.get((role, event.state)), table)
        peer_view = f"the {role} received the alert while waiting for {event.expected} ({event.state})"
        info = _failure_info(steps, step, alerter, event, peer_view, table, inferred=True)
        return FailureInfo(info.step, info.step_title, alerter, "", _expected(info.step, table),
                           _received(steps, step), f"the {alerter} sent fatal alert "
                           f"{alert_name(int(event.alert)) if event.alert is not None else '?'}; its reason is not "
                           "on the wire, the step is inferred from the alert", "AlertReceivedError", info.alert,
                           "sent", peer_view, True)
    # No failure event: an observer, or a trace that ended at a fatal alert.
    for view in views.values():
        for item in view.traffic:
            if item.kind == "alert" and item.alert is not None and item.alert.level == AlertLevel.FATAL:
                alerter = item.sender
                description = int(item.alert.description)
                step = _alert_step(description, alerter, steps, other(alerter), None, table)
                name = alert_name(description)
                return FailureInfo(step, _title(step, table), alerter, "", _expected(step, table),
                                   _received(steps, step), f"the {alerter} sent fatal alert {name}; its reason is "
                                   "not on the wire, the step is inferred from the alert", "", description, "sent",
                                   "", True)
    return None


def _title(step: str | None, table: _Table) -> str:
    if step is None:
        return "after the handshake"
    return table.spec(step).title


def _expected(step: str | None, table: _Table) -> str:
    if step is None:
        return "application data or close_notify"
    return table.spec(step).expected


def _received(steps: dict[str, Step], step: str | None) -> str:
    if step is not None and step in steps and steps[step].seen:
        summary = _summary_of(steps[step])
        return f"{steps[step].message}: {summary}" if summary else steps[step].message
    return "nothing (the alert came instead)"


def _summary_of(step: Step) -> str:
    """A few words on what a message carried, for saying what arrived (by the step's id: the numbers of an
    abbreviated handshake are not a full one's)."""
    fields = {f.name: f.value for top in step.fields for f in top.walk()}
    if step.id == "client_hello":
        return f"cipher suites {fields.get('cipher_suites', '?')}; groups {fields.get('named_group_list', '?')}"
    if step.id == "server_hello":
        return f"{fields.get('server_version', '?')}, {fields.get('cipher_suite', '?')}"
    if step.id == "certificate":
        return (f"a chain for {fields.get('subject', '?')} (names: {fields.get('subjectAltName', '?')}), "
                f"issued by {fields.get('issuer', '?')}")
    if step.id == "server_key_exchange":
        group = fields.get("named_curve") or fields.get("group", "?")
        return f"{group}, signed with {fields.get('signature_algorithm', '?')}"
    if step.id == "certificate_request":
        return (f"certificate types {fields.get('certificate_types', '?')}; CAs "
                f"{fields.get('certificate_authorities', '?')}")
    if step.id == "client_certificate":
        if fields.get("certificate_list", "").startswith("0 "):
            return "an empty certificate_list: no client certificate"
        return f"a chain for {fields.get('subject', '?')}, issued by {fields.get('issuer', '?')}"
    if step.id == "certificate_verify":
        return f"signed with {fields.get('signature_algorithm', '?')}"
    if step.id == "new_session_ticket":
        ticket = _parsed_message(step, "ECDHE")
        if isinstance(ticket, NewSessionTicket):
            return f"a ticket of {len(ticket.ticket)} bytes, lifetime hint {ticket.ticket_lifetime_hint} s"
    if step.id in ("client_finished", "server_finished"):
        return f"verify_data {fields.get('verify_data', '?')}"
    return ""


def _failure_info(steps: dict[str, Step], step: str | None, detector: Role, event: Failure, peer_view: str,
                  table: _Table, *, inferred: bool) -> FailureInfo:
    expected = _expected(step, table)
    if event.expected and event.expected != "?" and step is not None:
        expected = f"{expected} (state {event.state}, waiting for {event.expected})"
    received = event.received
    if step is not None and step in steps and steps[step].seen and received == steps[step].message:
        summary = _summary_of(steps[step])
        received = f"{received}: {summary}" if summary else received
    return FailureInfo(step, _title(step, table), detector, event.state, expected, received, event.error,
                       event.error_type, int(event.alert) if event.alert is not None else None,
                       event.alert_direction, peer_view, inferred)


def _alert_step(alert: int, alerter: Role, steps: dict[str, Step], receiver: Role, waiting: str | None,
                table: _Table) -> str | None:
    """The step an alert most likely refuses: one of the last messages the alerter received."""
    seen = [n for n in table.order if n in steps and steps[n].seen]
    if all(n in seen for n in table.mandatory) and waiting is None:
        return None
    peer = other(alerter)
    run: list[str] = []
    for number in reversed(seen):
        if steps[number].sender != peer:
            if run:
                break
            continue
        run.insert(0, number)
    if not run:
        return waiting or "1"
    finished = [n for n in table.finished if n in run]
    if table is _RESUMED:
        if alert in (AlertDescription.DECRYPT_ERROR, AlertDescription.BAD_RECORD_MAC) and finished:
            return finished[0]
        return run[0]
    if alert in _CERTIFICATE_ALERTS:
        for candidate in ("3", "5b"):
            if candidate in run:
                return candidate
    if alert == AlertDescription.DECRYPT_ERROR:
        # A signature an observer found good is not what the alert refuses.
        for candidate in ("4", "6b", *finished):
            if candidate in run and not (candidate == "6b" and _verified(steps[candidate])):
                return candidate
    if alert == AlertDescription.BAD_RECORD_MAC and finished:
        return finished[0]
    if alert == AlertDescription.ILLEGAL_PARAMETER:
        if "6b" in run and _scheme_not_offered(steps):
            return "6b"
        if "6" in run:
            return "6"
    return run[0]


def _verified(step: Step) -> bool:
    return any(c.status == "ok" for c in step.checks) and not any(c.status == "failed" for c in step.checks)


def _scheme_not_offered(steps: dict[str, Step]) -> bool:
    """Whether the CertificateVerify's scheme is missing from the CertificateRequest's list (illegal_parameter)."""
    request = _parsed_message(steps.get("4b"), "ECDHE")
    verify = _parsed_message(steps.get("6b"), "ECDHE")
    return (isinstance(request, CertificateRequest) and isinstance(verify, CertificateVerify)
            and verify.scheme not in request.supported_signature_algorithms)


# -- after the handshake, flights, summary ---------------------------------------------------------


def _perspective(views: dict[Side, _View]) -> _View | None:
    order: tuple[Side, ...] = ("client", "observer", "server")
    for side in order:
        if side in views:
            return views[side]
    return None


def _traffic(view: _View) -> list[TrafficItem]:
    items: list[TrafficItem] = []
    for item in view.traffic:
        if item.kind == "alert" and item.alert is not None:
            items.append(TrafficItem(item.sender, "alert", item.record, None, int(item.alert.level),
                                     int(item.alert.description)))
        else:
            items.append(TrafficItem(item.sender, item.kind, item.record, note=item.note))
    # Plaintext, when known, goes with its records (one message per record, in order).
    for sender in ("client", "server"):
        texts = [data for who, data in view.app_data if who == sender]
        slots = [i for i, it in enumerate(items) if it.sender == sender and it.kind == "application_data"]
        if texts and len(texts) == len(slots):
            for index, data in zip(slots, texts, strict=True):
                it = items[index]
                items[index] = TrafficItem(it.sender, it.kind, it.record, data, note=it.note)
        elif texts:
            joined = b"".join(texts)
            if slots:
                first = items[slots[0]]
                items[slots[0]] = TrafficItem(first.sender, first.kind, first.record, joined, note=first.note)
    return items


def _flights(result: Explanation, table: _Table) -> list[Flight]:
    entries: list[tuple[Role, FlightItem, list[RecordInfo], Phase]] = []
    for step in result.steps:
        entries.append((step.sender, FlightItem(step.message, step.number or None, step.protected, step.status),
                        step.records, "handshake"))
    failed_at = result.failure.step if result.failure is not None else None
    if failed_at is not None:
        # What was sent in the failed step's flight but never processed.
        failed_step = result.step(failed_at)
        for nr in result.not_reached:
            spec = table.spec(nr.number)
            if nr.sent and failed_step is not None and spec.sender == failed_step.sender:
                entries.append((spec.sender, FlightItem(spec.message, None, False, "unprocessed"), [], "handshake"))
    for item in result.traffic:
        if item.kind == "alert":
            name = alert_name(item.alert_description or 0)
            fatal = item.alert_level == AlertLevel.FATAL
            phase: Phase = "failure" if fatal else ("close" if item.alert_description == 0 else "application")
            label = f"alert {name}"
            entries.append((item.sender, FlightItem(label, None, bool(item.record and item.record.protected),
                                                    "failed" if fatal else "ok"),
                            [item.record] if item.record else [], phase))
        elif item.kind == "application_data":
            entries.append((item.sender, FlightItem("application data", None, True, "ok"),
                            [item.record] if item.record else [], "application"))
        else:
            entries.append((item.sender, FlightItem(item.note or "handshake", None, True, "ok"),
                            [item.record] if item.record else [], "application"))
    flights: list[Flight] = []
    current: list[tuple[Role, FlightItem, list[RecordInfo], Phase]] = []

    def close() -> None:
        if not current:
            return
        sender, phases = current[0][0], [e[3] for e in current]
        phase: Phase = "failure" if "failure" in phases else ("close" if all(p == "close" for p in phases) else (
            "handshake" if phases[0] == "handshake" else "application"))
        records: dict[int, RecordInfo] = {}
        for _, _, recs, _ in current:
            for r in recs:
                records[id(r)] = r
        wire = sum(5 + r.length for r in records.values())
        flights.append(Flight(len(flights) + 1, sender, tuple(e[1] for e in current), phase, wire))
        current.clear()

    for entry in entries:
        if current and (entry[0] != current[0][0] or (entry[3] != "handshake") != (current[0][3] != "handshake")):
            close()
        current.append(entry)
    close()
    return flights


def _summary(steps: list[Step], suite: SuiteSpec | None, table: _Table) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    kx = _kx(suite)
    hello = _parsed(steps, "1", kx)
    server_hello = _parsed(steps, "2", kx)
    ske = _parsed(steps, "4", kx) if table is _FULL else None
    if isinstance(server_hello, ServerHello):
        out.append(("version", f"{version_name(server_hello.server_version)} ({code(server_hello.server_version)})"))
        out.append(("cipher suite", f"{suite_name(server_hello.cipher_suite)} ({code(server_hello.cipher_suite)})"))
    if suite is not None and suite.key_exchange is not KeyExchange.ECDHE:
        out.append(("key exchange", "DHE (finite-field Diffie-Hellman)" if suite.key_exchange is KeyExchange.DHE
                    else "RSA (the premaster encrypted to the server's key; no forward secrecy)"))
    if isinstance(ske, ServerKeyExchange):
        out.append(("group", f"{group_name(ske.named_curve)} ({code(ske.named_curve)})"))
        out.append(("signature scheme", f"{scheme_name(ske.scheme)} ({code(ske.scheme)})"))
    elif isinstance(ske, DHEServerKeyExchange):
        out.append(("group", dh_group_name(ske.dh_p, ske.dh_g).split(", RFC")[0]))
        out.append(("signature scheme", f"{scheme_name(ske.scheme)} ({code(ske.scheme)})"))
    if isinstance(server_hello, ServerHello):
        ems = find_extension(server_hello.extensions, ExtendedMasterSecret) is not None
        if isinstance(hello, ClientHello):
            ems = ems and find_extension(hello.extensions, ExtendedMasterSecret) is not None
        out.append(("extended master secret", "yes" if ems else "no"))
        alpn = find_extension(server_hello.extensions, ALPN)
        if alpn is not None and alpn.protocols:
            out.append(("ALPN", alpn.protocols[0].decode("ascii", "replace")))
    if isinstance(hello, ClientHello):
        sni = find_extension(hello.extensions, ServerName)
        out.append(("server name (SNI)", sni.host_names[0] if sni is not None and sni.host_names else "(none sent)"))
    if isinstance(hello, ClientHello) and isinstance(server_hello, ServerHello):
        out.append(("session", _session_summary(hello, server_hello, _parsed(steps, table.ticket_step), table)))
    if any(step.id == "certificate_request" for step in steps):
        out.append(("client certificate", _client_certificate_summary(steps)))
    return out


def may_be_compatibility_id(hello: ClientHello) -> bool:
    """Whether the ClientHello's session_id may be no offer at all: a client that also speaks TLS 1.3 sends a
    random one for middlebox compatibility (RFC 8446 §4.1.2, §D.4), and only an echo says it named a session."""
    versions = find_extension(hello.extensions, SupportedVersions)
    return (len(hello.session_id) == 32 and not _offered_ticket(hello) and versions is not None
            and ProtocolVersion.TLS1_3 in versions.versions)


def _offered_ticket(hello: ClientHello) -> bytes:
    """The ticket a ClientHello offers (RFC 5077 §3.2); empty if none, or if it only asks for one."""
    ext = find_extension(hello.extensions, SessionTicket)
    return ext.ticket if ext is not None else b""


def _session_summary(hello: ClientHello, server_hello: ServerHello, ticket: object, table: _Table) -> str:
    """Whether the session was resumed, and how; else what became of the new one."""
    offered = "ticket" if _offered_ticket(hello) else "session id" if hello.session_id else ""
    if offered == "session id" and may_be_compatibility_id(hello) and table is _FULL:
        offered = ""  # perhaps no offer: TLS 1.3's compatibility id (RFC 8446 §D.4)
    if table is _RESUMED:
        return f"resumed by {offered or 'ticket'} (abbreviated handshake)"
    if isinstance(ticket, NewSessionTicket) and ticket.ticket:
        new = "new (the server sent a ticket)"
    elif server_hello.session_id:
        new = f"new (session id {server_hello.session_id[:8].hex()}…)"
    elif find_extension(server_hello.extensions, SessionTicket) is not None and not isinstance(ticket,
                                                                                             NewSessionTicket):
        new = "new (the server promised a ticket)"
    else:
        new = "new (not resumable: no ticket and no session id)"
    return f"{offered} offered, not resumed; {new}" if offered else new


def _client_certificate_summary(steps: list[Step]) -> str:
    """Who the client said it is, in mutual TLS."""
    message = _parsed(steps, "5b")
    if not isinstance(message, Certificate):
        return "asked for"
    if not message.certificate_list:
        return "asked for, none sent"
    try:
        leaf = x509.load_der_x509_certificate(message.certificate_list[0])
        return f"{leaf.subject.rfc4514_string()} ({key_description(leaf)})"
    except ValueError:
        return "a certificate tls12 cannot read"


def _parsed(steps: list[Step], number: str, kx: str = "ECDHE") -> object | None:
    for step in steps:
        if step.number == number and step.raw and len(step.raw) >= 4:
            try:
                return parse_handshake(step.raw[0], step.raw[4:], kx)
            except TLSError:
                return None
    return None
