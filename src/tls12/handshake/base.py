"""What client and server handshake states share.

A state is a small object holding only what is valid at that point of the
handshake; `handle(message, raw, out)` checks the message, does the work and
returns the next state. States never do I/O: they write records, events and
trace output through the `Output` the connection gives them, and they raise
`TLSError`s without sending alerts (the connection does that, in one place).
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..crypto import prf
from ..crypto.aead import RecordAEAD, record_aead
from ..crypto.credentials import Credential
from ..crypto.suites import SUITES, SuiteSpec
from ..crypto.x509 import parse_chain
from ..enums import AlertDescription, AlertLevel, CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme
from ..errors import DecodeError, DecryptError, TLSError, UnexpectedMessage
from ..events import Event
from ..messages import ChangeCipherSpec, Finished, HandshakeMessage
from ..session import Resumption, Session
from ..trace import Decision, SecretDerived, Tracer, Verification

if TYPE_CHECKING:
    from ..config import ServerConfig

__all__ = [
    "CHANGE_CIPHER_SPEC",
    "Negotiated",
    "Output",
    "Restored",
    "State",
    "Transcript",
    "TrafficKeys",
    "derive_keys",
    "derive_master_secret",
    "message_form",
    "restore_session",
    "resumed_master_secret",
    "unexpected",
]

Message = HandshakeMessage | ChangeCipherSpec


@dataclass
class Negotiated:
    """What the handshake settled, filled in as it happens. Read it through the connection."""

    version: ProtocolVersion | None = None
    cipher_suite: CipherSuite | None = None
    group: NamedGroup | None = None
    signature_scheme: SignatureScheme | None = None
    extended_master_secret: bool = False
    alpn_protocol: bytes | None = None
    server_name: str | None = None
    peer_certificate_chain: tuple[x509.Certificate, ...] = ()
    #: The path this side verified for the peer's chain, leaf to trust anchor (empty when it did not
    #: verify one: a client without verification, a server that got no client certificate).
    verified_certificate_chain: tuple[x509.Certificate, ...] = ()
    #: The two chains above in DER, as received and as loaded, for the session: set with them (a
    #: certificate encoded again costs about 3 µs).
    peer_chain_der: tuple[bytes, ...] = ()
    verified_chain_der: tuple[bytes, ...] = ()
    client_random: bytes = b""
    server_random: bytes = b""
    client_verify_data: bytes = b""
    server_verify_data: bytes = b""
    offered_cipher_suites: tuple[CipherSuite, ...] = field(default=())
    #: The server's: the credential (chain and key) it chose for this handshake.
    credential: Credential | None = None
    #: The ServerHello's session_id (empty: the server keeps no session under an ID).
    session_id: bytes = b""
    #: The ServerHello carried the SessionTicket extension: a NewSessionTicket comes before the
    #: server's ChangeCipherSpec (RFC 5077 §3.2).
    new_session_ticket: bool = False
    #: Once the handshake is complete: the session it made or resumed, if it can be resumed.
    session: Session | None = None
    #: The handshake was abbreviated: it resumed `session`.
    session_reused: bool = False
    #: What became of a session offered for resumption (`session.Resumption`).
    resumption: Resumption = "none"


class Output(Protocol):
    """The connection as seen from a state: a sink for records, events and trace output."""

    negotiated: Negotiated
    tracer: Tracer | None

    def send_handshake(self, message: HandshakeMessage, raw: bytes | None = None) -> bytes:
        """Queue a handshake message (`raw`: its encoding, if already known); returns its wire bytes."""
        ...

    def send_change_cipher_spec(self) -> None: ...

    def send_alert(self, level: AlertLevel, description: AlertDescription) -> None: ...

    def set_read_cipher(self, cipher: RecordAEAD) -> None: ...

    def set_write_cipher(self, cipher: RecordAEAD) -> None: ...

    def event(self, event: Event) -> None: ...

    def key_log(self, master_secret: bytes) -> None: ...

    def config_for_name(self, server_name: str | None) -> ServerConfig | None:
        """The server configuration for this SNI name (None: keep the current one)."""
        ...


#: ChangeCipherSpec's place in a state's `accepts` (it is not a handshake message: 256 is no
#: handshake type).
CHANGE_CIPHER_SPEC = 0x100


class State(Protocol):
    """`accepts`: the handshake types (and `CHANGE_CIPHER_SPEC`) the state takes. The connection
    refuses anything else with unexpected_message from the message's header, before its body is
    buffered or parsed; `handle` may still refuse an accepted message for what it says."""

    @property
    def accepts(self) -> frozenset[int]: ...

    def handle(self, message: Message, raw: bytes, out: Output) -> State: ...


#: Each suite's key exchange, as `messages.parse_handshake` names the form of its messages (read for
#: every message received: a dictionary lookup, 0.08 µs against 0.19 for the row's enum property).
_FORMS: dict[CipherSuite | None, str] = {suite: spec.key_exchange.value for suite, spec in SUITES.items()}


def message_form(negotiated: Negotiated) -> str:
    """The form the key-exchange messages take (`messages.parse_handshake`'s `key_exchange`): the
    negotiated suite's key exchange; ECDHE's before a suite is chosen (no such message comes then)."""
    return _FORMS.get(negotiated.cipher_suite, "ECDHE")


def unexpected(state: object, message: Message) -> UnexpectedMessage:
    name = getattr(getattr(message, "msg_type", None), "name", type(message).__name__)
    return UnexpectedMessage(f"{type(state).__name__} got {name}")


def decide(out: Output, what: str, value: str, why: str) -> None:
    if out.tracer is not None:
        out.tracer(Decision(what, value, why))


class Transcript:
    """The running hash of every handshake message, as the bytes went over the wire.

    Until the suite (and so the PRF hash) is known, messages are buffered. With `keep` (only when
    the server asks for a client certificate) the raw messages are also kept, because the client's
    CertificateVerify signs them with the hash of its own scheme, which need not be the PRF hash
    (RFC 5246 §7.4.8): a few kilobytes per handshake, dropped once the signature is checked."""

    __slots__ = ("_pending", "_hash", "_kept")

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._hash: hashes.Hash | None = None
        self._kept: list[bytes] | None = None

    def add(self, raw: bytes) -> None:
        if self._kept is not None:
            self._kept.append(raw)
        if self._hash is None:
            self._pending.append(raw)
        else:
            self._hash.update(raw)

    def start(self, algorithm: hashes.HashAlgorithm, *, keep: bool = False) -> None:
        self._hash = hashes.Hash(algorithm)
        if keep:
            self._kept = list(self._pending)
        for raw in self._pending:
            self._hash.update(raw)
        self._pending.clear()

    def messages(self) -> bytes:
        """Every handshake message so far (only when started with `keep`)."""
        if self._kept is None:  # pragma: no cover - programming error
            raise RuntimeError("transcript messages not kept")
        return b"".join(self._kept)

    def release(self) -> None:
        """Stop keeping the raw messages (CertificateVerify is checked)."""
        self._kept = None

    def digest(self) -> bytes:
        if self._hash is None:  # pragma: no cover - programming error
            raise RuntimeError("transcript hash not started")
        return self._hash.copy().finalize()


@dataclass(frozen=True, slots=True)
class TrafficKeys:
    client_write: RecordAEAD
    server_write: RecordAEAD


def derive_master_secret(
    out: Output,
    suite: SuiteSpec,
    pre_master_secret: bytes,
    transcript: Transcript,
    how: Callable[[], str] | None = None,
) -> bytes:
    """RFC 5246 §8.1, or RFC 7627 §4 when both sides chose the extended master secret.
    `how` says how the premaster secret was made, for the glass box (called only with a tracer)."""
    neg = out.negotiated
    if neg.extended_master_secret:
        session_hash = transcript.digest()
        master = prf.extended_master_secret(pre_master_secret, session_hash, suite.prf_hash)
    else:
        master = prf.master_secret(pre_master_secret, neg.client_random, neg.server_random, suite.prf_hash)
    if out.tracer is not None:
        out.tracer(SecretDerived("pre_master_secret", pre_master_secret, how() if how is not None else (
            f"ECDH({neg.group.name.lower() if neg.group else '?'}): our private key with the peer's public key")))
        if neg.extended_master_secret:
            out.tracer(SecretDerived("session_hash", session_hash,
                                     f"{suite.prf_hash.name.upper()}(handshake messages up to ClientKeyExchange)"))
            inputs = "PRF(pre_master_secret, 'extended master secret', session_hash)[0..47]"
        else:
            inputs = "PRF(pre_master_secret, 'master secret', client_random + server_random)[0..47]"
        out.tracer(SecretDerived("master_secret", master, inputs))
    out.key_log(master)
    return master


@dataclass(frozen=True, slots=True)
class Restored:
    """A session both roles may resume, with the peer's chains parsed again."""

    session: Session
    peer_chain: tuple[x509.Certificate, ...]
    verified_chain: tuple[x509.Certificate, ...]


def restore_session(session: Session, *, cipher_suites: tuple[CipherSuite, ...], policy: bytes, now: float,
                    certificate_time: datetime.datetime) -> Restored | str:
    """The checks both roles make before resuming a session: a `Restored`, or why it cannot be.

    Only sessions made with the extended master secret are resumed (RFC 7627 §5.3: tls12 never
    resumes a legacy one); the suite must still be enabled, the verification policy the same, the
    session not expired, and no certificate of the path verified for the peer expired since."""
    if not session.extended_master_secret:
        return "EMS rule (RFC 7627 §5.3): the session was made without the extended master secret"
    if session.expired(now):
        return "expired"
    if session.cipher_suite not in cipher_suites:
        return "suite no longer enabled"
    if session.policy != policy:
        return "verification policy changed"
    try:
        peer = tuple(parse_chain(session.peer_chain_der))
        verified = tuple(parse_chain(session.verified_chain_der))
    except TLSError:
        return "the session's certificates do not parse"
    if any(cert.not_valid_after_utc < certificate_time for cert in verified):
        return "a certificate of the peer's verified chain has expired since"
    return Restored(session, peer, verified)


def resumed_master_secret(out: Output, session: Session, how: str) -> bytes:
    """RFC 5246 §7.3: an abbreviated handshake takes the session's master secret; only the keys are
    new (from this handshake's randoms). `how`: how the session was found, for the glass box."""
    master = session.master_secret
    if out.tracer is not None:
        out.tracer(SecretDerived("master_secret", master, f"the resumed session's ({how})"))
    out.key_log(master)
    return master


def derive_keys(out: Output, suite: SuiteSpec, master: bytes) -> TrafficKeys:
    """RFC 5246 §6.3: key_block = client key, server key, client IV, server IV, of the row's lengths;
    the row's AEAD takes them (a 4-byte salt for AES-GCM, a 12-byte IV for ChaCha20-Poly1305)."""
    neg = out.negotiated
    block = prf.key_block(master, neg.client_random, neg.server_random, suite.key_block_len, suite.prf_hash)
    k, s = suite.key_len, suite.fixed_iv_len
    client_key, server_key = block[:k], block[k : 2 * k]
    client_salt, server_salt = block[2 * k : 2 * k + s], block[2 * k + s : 2 * k + 2 * s]
    if out.tracer is not None:
        seed = f"PRF(master_secret, 'key expansion', server_random + client_random)[0..{len(block) - 1}]"
        out.tracer(SecretDerived("key_block", block, seed))
        out.tracer(SecretDerived("client_write_key", client_key, f"key_block[0..{k - 1}]"))
        out.tracer(SecretDerived("server_write_key", server_key, f"key_block[{k}..{2 * k - 1}]"))
        out.tracer(SecretDerived("client_write_IV", client_salt, f"key_block[{2 * k}..{2 * k + s - 1}]"))
        out.tracer(SecretDerived("server_write_IV", server_salt, f"key_block[{2 * k + s}..{2 * k + 2 * s - 1}]"))
    return TrafficKeys(record_aead(suite, client_key, client_salt), record_aead(suite, server_key, server_salt))


def finished_verify_data(suite: SuiteSpec, master: bytes, label: bytes, transcript: Transcript) -> bytes:
    return prf.verify_data(master, label, transcript.digest(), suite.verify_data_len, suite.prf_hash)


def check_finished(out: Output, suite: SuiteSpec, master: bytes, transcript: Transcript, message: Finished,
                   sender: Literal["client", "server"], covers: str) -> bytes:
    """RFC 5246 §7.4.9: the peer's verify_data against ours, compared in constant time.

    A wrong length is decode_error; a wrong value is decrypt_error. Returns the value."""
    if len(message.verify_data) != suite.verify_data_len:
        raise DecodeError(f"Finished of {len(message.verify_data)} bytes")
    expected = finished_verify_data(suite, master, f"{sender} finished".encode("ascii"), transcript)
    ok = hmac.compare_digest(expected, message.verify_data)
    if out.tracer is not None:
        out.tracer(Verification(f"{sender} Finished", ok, f"PRF(master_secret, '{sender} finished', Hash({covers}))",
                                expected=expected, received=message.verify_data))
    if not ok:
        raise DecryptError(f"{sender} Finished does not match the handshake")
    return expected


def send_finished(out: Output, suite: SuiteSpec, master: bytes, transcript: Transcript, write_cipher: RecordAEAD,
                  sender: Literal["client", "server"]) -> bytes:
    """ChangeCipherSpec, then our Finished: the first record under the new keys. Returns its verify_data."""
    out.send_change_cipher_spec()
    out.set_write_cipher(write_cipher)
    verify_data = finished_verify_data(suite, master, f"{sender} finished".encode("ascii"), transcript)
    transcript.add(out.send_handshake(Finished(verify_data)))
    return verify_data
