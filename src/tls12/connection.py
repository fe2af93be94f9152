"""The sans-I/O connection: bytes in, events out, bytes to send.

    conn.receive_data(bytes) -> list[Event]      (b"" means the transport hit EOF)
    conn.data_to_send() -> bytes
    conn.send_application_data(bytes); conn.close()

This module is the single choke point for failures. Everything below it
raises a `TLSError` and sends nothing; here the error's alert is looked up in
`errors.ALERTS`, queued (protected once keys are active), the connection is
marked failed for good, and the error is raised to the caller. Any other
exception escaping the layers below is a bug: it becomes `InternalError`
(internal_error to the peer), so callers only ever see tls12's own errors.

Lifecycle, in the caller's terms:

    handshaking --HandshakeComplete--> established --close()/close_notify--> closing/closed
         \\___________________ any TLSError ____________________________/--> failed (sticky)
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from collections.abc import Callable
from typing import Literal

from cryptography import x509

from .config import ClientConfig, ServerConfig
from .crypto.aead import RecordAEAD
from .crypto.credentials import Credential
from .enums import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ContentType,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from .errors import (
    AlertReceivedError,
    DecodeError,
    IllegalParameter,
    InternalError,
    LocalProtocolError,
    SequenceExhausted,
    TLSError,
    TruncatedConnection,
    UnexpectedMessage,
)
from .events import AlertReceived, ApplicationDataReceived, ConnectionClosed, Event, HandshakeComplete
from .handshake.base import CHANGE_CIPHER_SPEC, Message, Negotiated, State, message_form
from .handshake.client import ClientTraffic, start_client
from .handshake.server import ExpectClientHello
from .messages import (
    Alert,
    ChangeCipherSpec,
    HandshakeMessage,
    HelloRequest,
    encode_handshake,
    parse_handshake,
)
from .record.layer import MAX_PLAINTEXT, HandshakeReassembler, RecordLayer
from .session import Resumption, Session
from .trace import Failure, MessageTrace, RecordTrace, Tracer

__all__ = ["ClientConnection", "ServerConnection"]

_DETACHED: list[Event] = []  # `_events` between calls: nothing is ever added to it there
_APPLICATION_DATA = int(ContentType.APPLICATION_DATA)
#: The one handshake message bounded by a setting rather than by its structure.
_SIZE_SETTINGS: dict[int, str] = {HandshakeType.CERTIFICATE: "max_certificate_size"}
_CHANGE_CIPHER_SPEC = ChangeCipherSpec()


class _Sink:
    """The `handshake.base.Output` a connection hands to its states."""

    __slots__ = ("_conn", "negotiated", "tracer")

    def __init__(self, conn: _Connection, tracer: Tracer | None) -> None:
        self._conn = conn
        self.negotiated = conn._negotiated
        self.tracer = tracer

    def send_handshake(self, message: HandshakeMessage, raw: bytes | None = None) -> bytes:
        if raw is None:
            raw = encode_handshake(message)
        if self.tracer is not None:
            self.tracer(MessageTrace("out", message, raw))
        self._conn._send_record(ContentType.HANDSHAKE, raw)
        return raw

    def send_change_cipher_spec(self) -> None:
        ccs = _CHANGE_CIPHER_SPEC
        if self.tracer is not None:
            self.tracer(MessageTrace("out", ccs, ccs.to_bytes()))
        self._conn._send_record(ContentType.CHANGE_CIPHER_SPEC, ccs.to_bytes())

    def send_alert(self, level: AlertLevel, description: AlertDescription) -> None:
        self._conn._send_alert(level, description)

    def set_read_cipher(self, cipher: RecordAEAD) -> None:
        self._conn._records.read_cipher = cipher

    def set_write_cipher(self, cipher: RecordAEAD) -> None:
        self._conn._records.write_cipher = cipher

    def event(self, event: Event) -> None:
        conn = self._conn
        if isinstance(event, HandshakeComplete):
            conn._handshake_complete = conn._records.established = True
            conn._fast_receive = conn._fast_send = conn._fast_ok = self.tracer is None
            cipher = conn._records.write_cipher
            assert cipher is not None
            conn._seal = cipher.seal
        conn._events.append(event)

    def config_for_name(self, server_name: str | None) -> ServerConfig | None:
        hook = self._conn._config_for_name
        return None if hook is None else hook(server_name)

    def key_log(self, master_secret: bytes) -> None:
        callback = self._conn._config.key_log
        if callback is not None:
            callback(f"CLIENT_RANDOM {self.negotiated.client_random.hex()} {master_secret.hex()}")


class _Connection:
    """What client and server connections share: records, alerts, failure and close."""

    _config: ClientConfig | ServerConfig

    def __init__(self, config: ClientConfig | ServerConfig, tracer: Tracer | None) -> None:
        self._config = config
        self._negotiated = Negotiated()
        # Each handshake type has its own size limit, from its RFC structure; only the peer's
        # certificate chain is bounded by a setting.
        self._handshake = HandshakeReassembler(config.body_limits, _SIZE_SETTINGS)
        self._records = RecordLayer(self._handshake)
        self._outgoing: list[bytes] = []  # one item per record
        self._events: list[Event] = _DETACHED
        self._tracer = tracer
        self._state: State
        self._handshake_complete = False
        self._failure: TLSError | None = None
        self._close_sent = False
        self._close_received = False
        self._config_for_name: Callable[[str | None], ServerConfig | None] | None = None
        self._last_received: object = "nothing yet"  # for explaining a failure: a message or a description
        # Established, untraced and open: application data may take the short paths.
        self._fast_receive = False
        self._fast_send = False
        self._fast_ok = False  # established, untraced and not failed: what the short paths need
        self._seal: Callable[[int, bytes | bytearray | memoryview], bytes] = _not_yet

    # -- the public API -------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes from the peer (b"" for EOF); returns what they amounted to.

        A close_notify from the peer is answered at once with ours (RFC 5246
        §7.2.1: "discarding any pending writes"), so data that arrives together
        with a close_notify can no longer be answered."""
        if self._failure is not None:
            raise self._failure
        events: list[Event] = []
        try:
            if self._fast_receive and data:
                rest = self._records.open_application_data(data, events)
                if rest is None:  # the previous call left a record half-read
                    self._events = events
                    rest = self._receive_fast(data, events)
                if not rest:
                    return events
                data = rest
            self._events = events
            if not data:
                self._receive_eof()
            elif not self._close_received:
                self._records.feed(data)
                try:
                    self._process_records()
                finally:
                    self._records.compact()
                self._fast_receive = self._fast_ok and not self._close_received
        except TLSError as exc:
            self._fail(exc)
            if any(isinstance(e, ApplicationDataReceived) for e in events):
                # Authentic data that arrived before the failure is still delivered;
                # the error is raised by the next call.
                return events
            raise
        except Exception as exc:
            error = InternalError(f"internal error: {exc!r}")
            self._fail(error)
            raise error from exc
        finally:
            self._events = _DETACHED  # the caller owns the events now; do not keep their data alive
        return events

    def take_data_after_close(self) -> bytes:
        """Bytes that arrived after the peer's close_notify in the same receive call.

        tls12 ignores them (RFC 5246 §7.2.1), but a protocol that goes back to
        plain text after closing TLS (a STARTTLS-style unwrap) needs them."""
        return self._records.take_input()

    def receive_size(self, wanted: int) -> int:
        """How much to read from the transport for up to `wanted` bytes of application data: a
        reader that waits with select() before each read then never has whole records decrypted
        and unread while the transport has nothing left to signal (as with OpenSSL's reads)."""
        return self._records.read_size(wanted)

    def data_to_send(self) -> bytes:
        """Everything queued for the peer (records, alerts), once."""
        out = self._outgoing
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    def send_application_data(self, data: bytes | bytearray | memoryview) -> None:
        if self._fast_send and 0 < len(data) <= MAX_PLAINTEXT:
            try:
                self._outgoing.append(self._seal(_APPLICATION_DATA, data))
            except SequenceExhausted as exc:
                self._fail(exc)
                raise
            return
        if self._failure is not None:
            raise self._failure
        if not self._handshake_complete:
            raise LocalProtocolError("cannot send application data before the handshake completes")
        if self._close_sent:
            raise LocalProtocolError("cannot send application data after close()")
        if data:
            try:
                self._send_record(ContentType.APPLICATION_DATA, data)
            except SequenceExhausted as exc:
                # The keys are used up: the connection ends here; it never wraps (RFC 5246 §6.1).
                self._fail(exc)
                raise

    def _receive_fast(self, data: bytes | bytearray | memoryview,
                      events: list[Event]) -> bytes | bytearray | memoryview:
        """The short path when the previous call left a record half-read: that record is
        completed through the general path, with only the bytes it lacks; then the record layer
        opens the run of whole application-data records that follows straight from `data`.
        Returns what is left (anything else, or a partial record) for the general path."""
        view = memoryview(data)
        records = self._records
        while records.buffered:
            need = records.missing()
            records.feed(view[:need])
            view = view[need:]
            try:
                self._process_records()
            finally:
                records.compact()
            if self._close_received:
                # What follows close_notify stays for take_data_after_close(), as on the general path.
                records.feed(view)
                return b""
            if not view or not self._fast_receive or records.buffered:
                return view
        rest = records.open_application_data(view, events)
        assert rest is not None
        return rest

    def close(self) -> None:
        """Queue close_notify (once). Data may still be received until the peer closes."""
        if self._failure is None and not self._close_sent:
            try:
                self._send_alert(AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY)
            except SequenceExhausted as exc:
                self._fail(exc)
                raise

    # -- what was negotiated ----------------------------------------------------

    @property
    def handshake_complete(self) -> bool:
        return self._handshake_complete

    @property
    def closed(self) -> bool:
        """True once close_notify went both ways, or the connection failed."""
        return self._failure is not None or (self._close_sent and self._close_received)

    @property
    def close_received(self) -> bool:
        return self._close_received

    @property
    def close_sent(self) -> bool:
        return self._close_sent

    @property
    def failure(self) -> TLSError | None:
        return self._failure

    @property
    def version(self) -> ProtocolVersion | None:
        return self._negotiated.version

    @property
    def cipher_suite(self) -> CipherSuite | None:
        return self._negotiated.cipher_suite

    @property
    def group(self) -> NamedGroup | None:
        return self._negotiated.group

    @property
    def signature_scheme(self) -> SignatureScheme | None:
        return self._negotiated.signature_scheme

    @property
    def credential(self) -> Credential | None:
        """The server's: the credential (certificate chain and key) chosen for this handshake."""
        return self._negotiated.credential

    @property
    def extended_master_secret(self) -> bool:
        return self._negotiated.extended_master_secret

    @property
    def alpn_protocol(self) -> str | None:
        raw = self._negotiated.alpn_protocol
        return None if raw is None else raw.decode("utf-8", "surrogateescape")

    @property
    def server_name(self) -> str | None:
        return self._negotiated.server_name

    @property
    def peer_certificate_chain(self) -> tuple[x509.Certificate, ...]:
        return self._negotiated.peer_certificate_chain

    @property
    def verified_certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """The path this side verified for the peer's chain, leaf to trust anchor: the server's on a
        client, the client's on a server that asked for one; empty if none was verified."""
        return self._negotiated.verified_certificate_chain

    @property
    def session(self) -> Session | None:
        """Once the handshake is complete: the session it made or resumed, if it can be resumed
        (made with the extended master secret, and given a session ID or a ticket); on a client, with
        the ticket the server sent. None before, or if there is none."""
        return self._negotiated.session

    @property
    def session_reused(self) -> bool:
        """The handshake was abbreviated: it resumed a session (RFC 5246 §7.3)."""
        return self._negotiated.session_reused

    @property
    def resumption(self) -> Resumption:
        """What became of a session offered for resumption: "none" offered, "resumed", or why not
        (`tls12.session.Resumption`). Settled once the ServerHello is sent or received."""
        return self._negotiated.resumption

    @property
    def offered_cipher_suites(self) -> tuple[CipherSuite, ...]:
        """The suites the client offered (on the server: as received, unknown ones included)."""
        return self._negotiated.offered_cipher_suites

    @property
    def client_random(self) -> bytes:
        return self._negotiated.client_random

    @property
    def server_random(self) -> bytes:
        return self._negotiated.server_random

    @property
    def client_finished(self) -> bytes:
        """The client's verify_data (for tls-unique channel binding, RFC 5929)."""
        return self._negotiated.client_verify_data

    @property
    def server_finished(self) -> bytes:
        return self._negotiated.server_verify_data

    # -- inbound --------------------------------------------------------------

    def _receive_eof(self) -> None:
        if self._close_received:
            return
        if not self._handshake_complete:
            raise TruncatedConnection("the peer closed the connection during the handshake")
        raise TruncatedConnection("the peer closed the connection without close_notify")

    def _process_records(self) -> None:
        records, handshake, tracer = self._records, self._handshake, self._tracer
        while not self._close_received:
            if tracer is not None:
                self._trace_in()
            # Every rule on the record itself (and the count of empty ones) is the record layer's.
            record = records.next_record()
            if record is None:
                return
            content_type, payload = record
            if content_type == ContentType.APPLICATION_DATA:
                if payload:
                    self._events.append(ApplicationDataReceived(payload))
            elif content_type == ContentType.HANDSHAKE:
                if not payload:
                    raise DecodeError("empty handshake record")
                handshake.add(payload)
                completed = False
                while (msg_type := handshake.next_type()) is not None:
                    self._check_expected(msg_type)
                    frame = handshake.pop()
                    if frame is None:
                        break
                    completed = True
                    _, body, raw = frame
                    self._dispatch(parse_handshake(msg_type, body, message_form(self._negotiated)), raw)
                if not completed and self._handshake_complete:
                    # After the handshake a fragment that completes nothing carries nothing.
                    records.count_useless()
            elif content_type == ContentType.CHANGE_CIPHER_SPEC:
                self._check_expected(CHANGE_CIPHER_SPEC)
                self._dispatch(ChangeCipherSpec.parse(payload), payload)
            else:
                self._receive_alert(Alert.parse(payload))

    def _check_expected(self, msg_type: int) -> None:
        """A message the current state does not take is unexpected_message, from its type alone:
        before its body is buffered or parsed, whatever it holds."""
        state = self._state
        if msg_type not in state.accepts:
            name = "CHANGE_CIPHER_SPEC" if msg_type == CHANGE_CIPHER_SPEC else HandshakeType(msg_type).name
            self._last_received = "".join(part.capitalize() for part in name.split("_"))
            raise UnexpectedMessage(f"{type(state).__name__} got {name}")

    def _trace_in(self) -> None:
        """Trace the next whole record before it is opened (so a failure to open it is explained too)."""
        assert self._tracer is not None
        peeked = self._records.peek()
        if peeked is None:
            return
        content_type, version, length, explicit_nonce = peeked
        cipher = self._records.read_cipher
        kind = ContentType(content_type)
        self._last_received = f"{'protected ' if cipher else ''}{kind.name.lower()} record"
        if cipher is None:
            self._tracer(RecordTrace("in", kind, version, length, False, None, None, length))
        else:
            self._tracer(RecordTrace("in", kind, version, length, True, cipher.seq, explicit_nonce,
                                     max(length - cipher.overhead, 0)))

    def _trace_out(self, content_type: ContentType, size: int, seq: int | None) -> None:
        """One RecordTrace per record `seal()` just wrote for `size` bytes, from sequence number `seq`."""
        assert self._tracer is not None
        records = self._records
        cipher = records.write_cipher
        for start in range(0, max(size, 1), MAX_PLAINTEXT):
            n = min(MAX_PLAINTEXT, size - start)
            if seq is None or cipher is None:
                self._tracer(RecordTrace("out", content_type, records.write_version, n, False, None, None, n))
            else:
                # The explicit nonce a record carries is its sequence number (RFC 5288); ChaCha20
                # records carry none (RFC 7905).
                nonce = seq.to_bytes(cipher.explicit_nonce_len, "big") if cipher.explicit_nonce_len else None
                self._tracer(RecordTrace("out", content_type, records.write_version, n + cipher.overhead, True,
                                         seq, nonce, n))
                seq += 1

    def _dispatch(self, message: Message, raw: bytes) -> None:
        self._last_received = message  # named only if a failure needs explaining
        if self._tracer is not None:
            self._tracer(MessageTrace("in", message, raw))
        established = self._handshake_complete
        if established:
            # After the handshake a handshake message is only ever a refused renegotiation:
            # bounded like the other records that carry nothing (and before it is answered).
            self._records.count_useless()
        # A sink per message rather than one kept on the connection: no reference
        # cycle, so a connection is freed as soon as its owner drops it.
        self._state = self._state.handle(message, raw, _Sink(self, self._tracer))
        if not self._records.version_fixed and self._negotiated.version is not None:
            self._records.version_fixed = True
            self._records.write_version = ProtocolVersion.TLS1_2
        if not established and not isinstance(message, ChangeCipherSpec):
            self._records.carried()

    def _receive_alert(self, alert: Alert) -> None:
        if self._tracer is not None:
            self._tracer(MessageTrace("in", alert, alert.to_bytes()))
        if alert.level not in (AlertLevel.WARNING, AlertLevel.FATAL):
            raise IllegalParameter(f"alert level {int(alert.level)}")
        self._last_received = f"{alert.level.name.lower()} alert {alert.description.name.lower()}"
        if alert.description == AlertDescription.CLOSE_NOTIFY:
            # §7.2.1: answer with our own close_notify; anything after it is ignored.
            self._close_received = True
            self._fast_receive = False
            if not self._close_sent:
                self._send_alert(AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY)
            if not self._handshake_complete:
                # Answered, but the handshake did not complete: that is a failure for the caller.
                error = AlertReceivedError(alert.description, int(alert.level))
                error.args = ("the peer closed the connection (close_notify) before the handshake completed",)
                raise error
            self._events.append(ConnectionClosed())
            return
        if alert.level == AlertLevel.FATAL:
            raise AlertReceivedError(alert.description, int(alert.level))
        self._records.count_useless()
        self._events.append(AlertReceived(alert.level, alert.description))

    # -- outbound -------------------------------------------------------------

    def _send_record(self, content_type: ContentType, data: bytes | bytearray | memoryview) -> None:
        if self._tracer is None:
            self._records.seal_into(content_type, data, self._outgoing)
            return
        cipher = self._records.write_cipher
        seq = cipher.seq if cipher is not None else None
        self._records.seal_into(content_type, data, self._outgoing)
        self._trace_out(content_type, len(data), seq)

    def _send_alert(self, level: AlertLevel, description: AlertDescription) -> None:
        alert = Alert(level, description)
        if self._tracer is not None:
            self._tracer(MessageTrace("out", alert, alert.to_bytes()))
        if description == AlertDescription.CLOSE_NOTIFY:
            self._close_sent = True
            self._fast_send = False
        self._send_record(ContentType.ALERT, alert.to_bytes())

    def _fail(self, exc: TLSError) -> None:
        self._failure = exc
        self._fast_receive = self._fast_send = self._fast_ok = False
        alert = exc.alert
        if self._tracer is not None:
            if isinstance(exc, AlertReceivedError):
                received_alert: AlertDescription | None = exc.description
                direction: Literal["sent", "received", "none"] = "received"
            else:
                received_alert, direction = alert, ("sent" if alert is not None else "none")
            state = self._state
            received = self._last_received
            if not isinstance(received, str):
                received = _message_name(received)
            self._tracer(Failure(type(state).__name__, getattr(state, "expects", "?"), received,
                                 str(exc), type(exc).__name__, received_alert, direction))
        if alert is None:
            return
        # If even the alert cannot be sealed (write sequence exhausted), send nothing.
        with contextlib.suppress(TLSError):
            self._send_alert(AlertLevel.FATAL, alert)


class ClientConnection(_Connection):
    """A TLS 1.2 client. The ClientHello is queued at construction.

    `session`: a `Session` from an earlier connection's `session`, offered for resumption if it
    still may be (same server name, same verification policy, not expired, ...); the server
    decides, and `session_reused` says whether it did."""

    def __init__(self, config: ClientConfig, server_name: str | None = None, *, session: Session | None = None,
                 tracer: Tracer | None = None) -> None:
        if not isinstance(config, ClientConfig):
            raise TypeError("config must be a ClientConfig")
        if session is not None and not isinstance(session, Session):
            raise TypeError("session must be a tls12.Session")
        super().__init__(config, tracer)
        sni, verify_name = _client_names(config, server_name)
        # Like most clients, send the ClientHello in a record marked TLS 1.0: some
        # old servers reject higher record versions (RFC 5246 Appendix E.1).
        self._records.write_version = ProtocolVersion.TLS1_0
        self._state = start_client(config, sni, verify_name, _Sink(self, tracer), session)

    def _dispatch(self, message: Message, raw: bytes) -> None:
        if isinstance(message, HelloRequest) and not isinstance(self._state, ClientTraffic):
            # §7.4.1.1: ignored while a handshake is under way; never hashed.
            if self._tracer is not None:
                self._tracer(MessageTrace("in", message, raw))
            self._records.count_useless()
            return
        super()._dispatch(message, raw)


class ServerConnection(_Connection):
    """A TLS 1.2 server, waiting for a ClientHello."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        tracer: Tracer | None = None,
        config_for_name: Callable[[str | None], ServerConfig | None] | None = None,
    ) -> None:
        """`config_for_name`, if given, is called with the client's SNI name (or None) once the
        ClientHello has arrived; it may return another configuration to serve that name with,
        or raise a `TLSError` (e.g. `ApplicationAlert`) to refuse the client."""
        if not isinstance(config, ServerConfig):
            raise TypeError("config must be a ServerConfig")
        super().__init__(config, tracer)
        self._config_for_name = config_for_name
        self._state = ExpectClientHello(config)


def _client_names(config: ClientConfig, server_name: str | None) -> tuple[str | None, str | None]:
    """(name sent as SNI, name the certificate must match).

    RFC 6066 §3: SNI carries DNS host names only, never IP literals, and no trailing dot."""
    return _names(server_name, config.verify_certificates and config.check_hostname)


@functools.lru_cache(maxsize=256)
def _names(server_name: str | None, check: bool) -> tuple[str | None, str | None]:
    if server_name is None:
        if check:
            raise ValueError("check_hostname requires server_name")
        return None, None
    try:
        ip = ipaddress.ip_address(server_name)
    except ValueError:
        pass
    else:
        return None, (str(ip) if check else None)
    name = server_name.rstrip(".")
    if not name:
        raise ValueError(f"invalid server_name {server_name!r}")
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        name = name.encode("idna").decode("ascii")
    name = name.lower()
    if len(name) > 253 or any(not 1 <= len(label) <= 63 for label in name.split(".")):
        raise ValueError(f"invalid server_name {server_name!r}")
    return name, (name if check else None)


def _message_name(message: object) -> str:
    msg_type = getattr(message, "msg_type", None)
    if msg_type is None:
        return type(message).__name__
    return "".join(part.capitalize() for part in msg_type.name.split("_"))


def _not_yet(content_type: int, data: bytes | bytearray | memoryview) -> bytes:  # pragma: no cover - _fast_send
    raise LocalProtocolError("no write keys yet")
