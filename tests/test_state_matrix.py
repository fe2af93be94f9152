"""The state x message matrix: every handshake state of both sides against every message kind.

A real handshake between our client and our server is run flight by flight and
stopped with the target connection in the wanted state; the peer's messages it has
not seen yet are held back. Then one message is delivered (a plaintext record
before the target's read keys are active, sealed with the peer's write keys after
its ChangeCipherSpec) and the target must either:

* accept it (only the real next message of the handshake: the handshake is then
  finished and application data flows), or
* raise UnexpectedMessage, queue one fatal unexpected_message alert (plaintext or
  protected, whichever the target's write side is), and keep raising that same
  error from every later receive_data() call.

The documented exceptions: a client ignores HelloRequest during a handshake and
refuses it with a warning no_renegotiation once established (RFC 5246 §7.4.1.1); an
established server refuses a ClientHello the same way; a client waiting for
ServerHelloDone accepts one CertificateRequest.

The client asks for a session ticket, so the full handshake passes through
ExpectNewSessionTicket; the abbreviated handshake's states (a second connection
resuming the first one's session, RFC 5246 §7.3) have their own matrix.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tls12 import (
    AlertDescription,
    AlertLevel,
    AlertReceived,
    AlertReceivedError,
    ApplicationDataReceived,
    CipherSuite,
    ClientConfig,
    ClientConnection,
    ContentType,
    HandshakeComplete,
    HandshakeType,
    NamedGroup,
    ProtocolVersion,
    RotatingTicketKeys,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
    UnexpectedMessage,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.enums import ECPointFormat
from tls12.events import Event
from tls12.handshake import client as client_states
from tls12.handshake import server as server_states
from tls12.handshake.base import CHANGE_CIPHER_SPEC
from tls12.messages import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    DHEClientKeyExchange,
    DHEServerKeyExchange,
    ECPointFormats,
    Finished,
    HandshakeMessage,
    HelloRequest,
    NewSessionTicket,
    RenegotiationInfo,
    RSAClientKeyExchange,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    SignatureAlgorithms,
    SupportedGroups,
    UnknownHandshake,
    encode_handshake,
    max_body_lengths,
    parse_handshake,
)

from helpers import pump

Conn = ClientConnection | ServerConnection
Record = tuple[int, bytes]  # (content type, plaintext)

SUITE = CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
PLAINTEXT_UNEXPECTED_MESSAGE_ALERT = bytes.fromhex("15 0303 0002 02 0a")
# Before the ServerHello fixes the version, the client marks its records TLS 1.0, as it
# does its ClientHello (RFC 5246 E.1); nowhere else.
EARLY_CLIENT_UNEXPECTED_MESSAGE_ALERT = bytes.fromhex("15 0301 0002 02 0a")
PROTECTED_ALERT_LEN = 5 + 8 + 2 + 16  # header, explicit nonce, alert, GCM tag

# The states in handshake order, with the one message each one waits for (None: established).
CLIENT_STATES: dict[str, str | None] = {
    "ExpectServerHello": "SERVER_HELLO",
    "ExpectCertificate": "CERTIFICATE",
    "ExpectServerKeyExchange": "SERVER_KEY_EXCHANGE",
    "ExpectServerHelloDone": "SERVER_HELLO_DONE",
    "ExpectNewSessionTicket": "NEW_SESSION_TICKET",
    "ExpectChangeCipherSpec": "CHANGE_CIPHER_SPEC",
    "ExpectFinished": "FINISHED",
    "ClientTraffic": None,
}
SERVER_STATES: dict[str, str | None] = {
    "ExpectClientHello": "CLIENT_HELLO",
    "ExpectClientKeyExchange": "CLIENT_KEY_EXCHANGE",
    "ExpectChangeCipherSpec": "CHANGE_CIPHER_SPEC",
    "ExpectFinished": "FINISHED",
    "ServerTraffic": None,
}
EXPECTED = {("client", s): m for s, m in CLIENT_STATES.items()} | {("server", s): m for s, m in SERVER_STATES.items()}
STATES = list(EXPECTED)
PRE_TRAFFIC = [(side, state) for side, state in STATES if EXPECTED[side, state] is not None]
TRAFFIC = [(side, state) for side, state in STATES if EXPECTED[side, state] is None]
# Where the target has already switched its write side to the new keys (so its alert is protected).
PROTECTED_WRITES = {
    ("client", "ExpectNewSessionTicket"),
    ("client", "ExpectChangeCipherSpec"),
    ("client", "ExpectFinished"),
    ("client", "ClientTraffic"),
    ("server", "ServerTraffic"),
}

# The abbreviated handshake (a second connection resuming the first one's session): the states only it
# reaches, with the message each waits for. The client's ExpectNewSessionTicket is reached here when the
# server renews the ticket (it was sealed under an older key).
RESUMED_CLIENT_STATES: dict[str, str] = {
    "ExpectNewSessionTicket": "NEW_SESSION_TICKET",
    "ExpectResumedChangeCipherSpec": "CHANGE_CIPHER_SPEC",
    "ExpectResumedFinished": "FINISHED",
}
RESUMED_SERVER_STATES: dict[str, str] = {
    "ExpectResumedChangeCipherSpec": "CHANGE_CIPHER_SPEC",
    "ExpectResumedFinished": "FINISHED",
}
RESUMED_EXPECTED = ({("client", s): m for s, m in RESUMED_CLIENT_STATES.items()}
                    | {("server", s): m for s, m in RESUMED_SERVER_STATES.items()})
RESUMED_STATES = list(RESUMED_EXPECTED)
# Resuming, the server sends its ChangeCipherSpec first: it writes protected records from then on.
RESUMED_PROTECTED_WRITES = {("server", "ExpectResumedChangeCipherSpec"), ("server", "ExpectResumedFinished")}

KINDS = [
    "HELLO_REQUEST",
    "CLIENT_HELLO",
    "SERVER_HELLO",
    "CERTIFICATE",
    "SERVER_KEY_EXCHANGE",
    "CERTIFICATE_REQUEST",
    "SERVER_HELLO_DONE",
    "CLIENT_KEY_EXCHANGE",
    "FINISHED",
    "NEW_SESSION_TICKET",
    "CERTIFICATE_VERIFY",
    "CHANGE_CIPHER_SPEC",
]


# -- well-formed messages of every kind --------------------------------------------------


def _x25519_public() -> bytes:
    return x25519.X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def well_formed_message(kind: str, leaf: IssuedCertificate) -> HandshakeMessage:
    if kind == "HELLO_REQUEST":
        return HelloRequest()
    if kind == "CLIENT_HELLO":
        return ClientHello(
            client_version=ProtocolVersion.TLS1_2,
            random=b"\x11" * 32,
            session_id=b"",
            cipher_suites=(SUITE,),
            compression_methods=b"\x00",
            extensions=(
                SupportedGroups((NamedGroup.X25519, NamedGroup.SECP256R1)),
                ECPointFormats((ECPointFormat.UNCOMPRESSED,)),
                SignatureAlgorithms((SignatureScheme.RSA_PSS_RSAE_SHA256, SignatureScheme.RSA_PKCS1_SHA256)),
                RenegotiationInfo(b""),
            ),
        )
    if kind == "SERVER_HELLO":
        return ServerHello(
            server_version=ProtocolVersion.TLS1_2,
            random=b"\x22" * 32,
            session_id=b"",
            cipher_suite=SUITE,
            compression_method=0,
            extensions=(RenegotiationInfo(b""),),
        )
    if kind == "CERTIFICATE":
        return Certificate(tuple(c.public_bytes(Encoding.DER) for c in leaf.chain))
    if kind == "SERVER_KEY_EXCHANGE":
        return ServerKeyExchange(
            named_curve=NamedGroup.X25519,
            public=_x25519_public(),
            scheme=SignatureScheme.RSA_PSS_RSAE_SHA256,
            signature=b"\x5a" * 256,
        )
    if kind == "CERTIFICATE_REQUEST":
        return CertificateRequest(
            certificate_types=b"\x01",  # rsa_sign
            supported_signature_algorithms=(SignatureScheme.RSA_PSS_RSAE_SHA256, SignatureScheme.RSA_PKCS1_SHA256),
        )
    if kind == "SERVER_HELLO_DONE":
        return ServerHelloDone()
    if kind == "CLIENT_KEY_EXCHANGE":
        return ClientKeyExchange(_x25519_public())
    if kind == "FINISHED":
        return Finished(b"\x33" * 12)
    if kind == "NEW_SESSION_TICKET":  # RFC 5077 §3.3: lifetime hint, opaque ticket<0..2^16-1>
        return NewSessionTicket(7200, b"ticket")
    if kind == "CERTIFICATE_VERIFY":  # §7.4.8: DigitallySigned
        return CertificateVerify(SignatureScheme.RSA_PSS_RSAE_SHA256, b"\x5a" * 256)
    raise AssertionError(kind)


def well_formed(kind: str, leaf: IssuedCertificate) -> Record:
    if kind == "CHANGE_CIPHER_SPEC":
        return ContentType.CHANGE_CIPHER_SPEC, b"\x01"
    return ContentType.HANDSHAKE, encode_handshake(well_formed_message(kind, leaf))


def kind_of(record: Record) -> str:
    content_type, payload = record
    if content_type == ContentType.CHANGE_CIPHER_SPEC:
        return "CHANGE_CIPHER_SPEC"
    assert content_type == ContentType.HANDSHAKE
    return HandshakeType(payload[0]).name


# -- driving a real handshake to a state -------------------------------------------------


def split_records(wire: bytes) -> list[Record]:
    """Plaintext records as (content type, payload); protected ones come back still sealed."""
    records: list[Record] = []
    pos = 0
    while pos < len(wire):
        content_type, version, length = struct.unpack_from(">BHH", wire, pos)
        # The client may mark its ClientHello record TLS 1.0 (RFC 5246 E.1); all else is 1.2.
        assert version == ProtocolVersion.TLS1_2 or (version == ProtocolVersion.TLS1_0 and pos == 0)
        records.append((content_type, wire[pos + 5 : pos + 5 + length]))
        pos += 5 + length
    assert pos == len(wire)
    return records


def record_for(target: Conn, peer: Conn, record: Record) -> bytes:
    """`record` as the peer would send it to the target right now.

    Before the target's read keys are active it is a plaintext record; afterwards it
    is sealed by the peer's record layer, its write sequence number first set to the
    one the target expects (held-back records were already sealed once)."""
    content_type, payload = record
    read = target._records.read_cipher
    if read is None:
        return struct.pack(">BHH", content_type, ProtocolVersion.TLS1_2, len(payload)) + payload
    write = peer._records.write_cipher
    assert write is not None, "the target reads protected records but the peer never sent its CCS"
    write.seq = read.seq
    out = bytearray()
    peer._records.seal(content_type, payload, out)
    return bytes(out)


@dataclass
class Stage:
    client: ClientConnection
    server: ServerConnection
    side: str
    state: str
    held: list[Record]  # the peer's records the target has not seen yet, in order
    resumed: bool = False  # an abbreviated handshake

    @property
    def target(self) -> Conn:
        return self.client if self.side == "client" else self.server

    @property
    def peer(self) -> Conn:
        return self.server if self.side == "client" else self.client

    def record(self, record: Record) -> bytes:
        return record_for(self.target, self.peer, record)

    def deliver(self, record: Record) -> list[Event]:
        return self.target.receive_data(self.record(record))

    def finish(self) -> None:
        """Deliver what was held back, let the pair finish, and check data flows."""
        while self.held:
            self.deliver(self.held.pop(0))
        pump(self.client, self.server)
        assert self.client.handshake_complete and self.server.handshake_complete
        exchange_data(self.client, self.server)


def exchange_data(client: ClientConnection, server: ServerConnection) -> None:
    client.send_application_data(b"ping")
    assert server.receive_data(client.data_to_send()) == [ApplicationDataReceived(b"ping")]
    server.send_application_data(b"pong")
    assert client.receive_data(server.data_to_send()) == [ApplicationDataReceived(b"pong")]


def _feed(target: Conn, peer: Conn, records: list[Record]) -> list[Event]:
    events: list[Event] = []
    for record in records:
        events += target.receive_data(record_for(target, peer, record))
    return events


def drive(side: str, state: str, client_config: ClientConfig, server_config: ServerConfig) -> Stage:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    hello = split_records(client.data_to_send())
    assert [kind_of(r) for r in hello] == ["CLIENT_HELLO"]
    if side == "server" and state == "ExpectClientHello":
        stage = Stage(client, server, side, state, hello)
    elif side == "client":
        assert server.receive_data(record_for(server, client, hello[0])) == []
        flight = split_records(server.data_to_send())
        assert [kind_of(r) for r in flight] == ["SERVER_HELLO", "CERTIFICATE", "SERVER_KEY_EXCHANGE",
                                                "SERVER_HELLO_DONE"]
        order = list(CLIENT_STATES)
        step = order.index(state)
        if step < 4:
            assert _feed(client, server, flight[:step]) == []
            stage = Stage(client, server, side, state, flight[step:])
        else:
            assert _feed(client, server, flight) == []
            assert server.receive_data(client.data_to_send()) == [HandshakeComplete()]
            final = split_records(server.data_to_send())
            assert [kind_of(final[0]), final[1][0], final[2][0]] == [
                "NEW_SESSION_TICKET", ContentType.CHANGE_CIPHER_SPEC, ContentType.HANDSHAKE]
            final[2] = (ContentType.HANDSHAKE, encode_handshake(Finished(server.server_finished)))
            done = step - 4
            events = _feed(client, server, final[:done])
            assert events == ([HandshakeComplete()] if state == "ClientTraffic" else [])
            stage = Stage(client, server, side, state, final[done:])
    else:
        assert _feed(server, client, hello) == []
        assert client.receive_data(server.data_to_send()) == []
        flight = split_records(client.data_to_send())
        assert [t for t, _ in flight] == [ContentType.HANDSHAKE, ContentType.CHANGE_CIPHER_SPEC, ContentType.HANDSHAKE]
        assert kind_of(flight[0]) == "CLIENT_KEY_EXCHANGE"
        flight[2] = (ContentType.HANDSHAKE, encode_handshake(Finished(client.client_finished)))
        done = list(SERVER_STATES).index(state) - 1
        events = _feed(server, client, flight[:done])
        assert events == ([HandshakeComplete()] if state == "ServerTraffic" else [])
        if state == "ServerTraffic":
            assert client.receive_data(server.data_to_send()) == [HandshakeComplete()]
        stage = Stage(client, server, side, state, flight[done:])

    module: ModuleType = client_states if side == "client" else server_states
    assert type(stage.target._state) is getattr(module, state)
    assert client.data_to_send() == b"" and server.data_to_send() == b""
    assert client.failure is None and server.failure is None
    return stage


# -- the outcomes -------------------------------------------------------------------------


def outcome(side: str, state: str, kind: str, resumed: bool = False) -> str:
    if kind == (RESUMED_EXPECTED if resumed else EXPECTED)[side, state]:
        return "accept"
    if (side, state, kind) == ("client", "ExpectServerHelloDone", "CERTIFICATE_REQUEST"):
        return "accept_certificate_request"
    if side == "client" and kind == "HELLO_REQUEST":
        return "no_renegotiation" if state == "ClientTraffic" else "ignore"
    if (side, state, kind) == ("server", "ServerTraffic", "CLIENT_HELLO"):
        return "no_renegotiation"
    return "unexpected"


def assert_unexpected_message(stage: Stage, wire: bytes) -> None:
    """Delivering `wire` fails with unexpected_message, sent once, and the failure sticks."""
    target, peer = stage.target, stage.peer
    with pytest.raises(UnexpectedMessage) as first:
        target.receive_data(wire)
    assert target.failure is first.value
    assert target.closed
    alert = target.data_to_send()
    if (stage.side, stage.state) in (RESUMED_PROTECTED_WRITES if stage.resumed else PROTECTED_WRITES):
        assert len(alert) == PROTECTED_ALERT_LEN and alert[:3] == b"\x15\x03\x03", alert.hex()
        with pytest.raises(AlertReceivedError) as received:
            peer.receive_data(alert)
        assert received.value.description == AlertDescription.UNEXPECTED_MESSAGE
        assert received.value.level == AlertLevel.FATAL
    elif (stage.side, stage.state) == ("client", "ExpectServerHello"):
        assert alert == EARLY_CLIENT_UNEXPECTED_MESSAGE_ALERT, alert.hex()
    else:
        assert alert == PLAINTEXT_UNEXPECTED_MESSAGE_ALERT, alert.hex()
    # Sticky: the same error from every later call, and nothing more is sent.
    later = [wire, b"", b"\x17\x03\x03\x00\x00"]
    if stage.held:
        later.insert(0, stage.record(stage.held[0]))
    for data in later:
        with pytest.raises(UnexpectedMessage) as again:
            target.receive_data(data)
        assert again.value is first.value
    with pytest.raises(UnexpectedMessage):
        target.send_application_data(b"after the failure")
    assert target.data_to_send() == b""


MATRIX = [
    pytest.param(side, state, kind, id=f"{side}-{state}-{kind}-{outcome(side, state, kind)}")
    for side, state in STATES
    for kind in KINDS
]


@pytest.mark.parametrize(("side", "state", "kind"), MATRIX)
def test_state_matrix(
    *,
    side: str,
    state: str,
    kind: str,
    client_config: ClientConfig,
    server_config: ServerConfig,
    leaf: IssuedCertificate,
) -> None:
    stage = drive(side, state, client_config, server_config)
    target, peer = stage.target, stage.peer
    expect = outcome(side, state, kind)

    if expect == "accept":
        # The real next message of the handshake.
        real = stage.held.pop(0)
        assert kind_of(real) == kind
        events = stage.deliver(real)
        assert events == ([HandshakeComplete()] if kind == "FINISHED" else [])
        stage.finish()

    elif expect == "accept_certificate_request":
        assert stage.deliver(well_formed(kind, leaf)) == []
        assert target.data_to_send() == b"" and target.failure is None
        # On ServerHelloDone the client answers with an empty Certificate first (§7.4.6).
        assert stage.deliver(stage.held.pop(0)) == []
        flight = split_records(target.data_to_send())
        assert flight[0] == (ContentType.HANDSHAKE, encode_handshake(Certificate(())))
        assert [kind_of(r) for r in flight[1:3]] == ["CLIENT_KEY_EXCHANGE", "CHANGE_CIPHER_SPEC"]
        assert len(flight) == 4

    elif expect == "ignore":
        # RFC 5246 §7.4.1.1: a HelloRequest during a handshake is ignored and not hashed.
        assert stage.deliver(well_formed(kind, leaf)) == []
        assert target.data_to_send() == b"" and target.failure is None
        stage.finish()

    elif expect == "no_renegotiation":
        assert stage.deliver(well_formed(kind, leaf)) == []
        assert target.failure is None
        refusal = target.data_to_send()
        assert len(refusal) == PROTECTED_ALERT_LEN
        assert peer.receive_data(refusal) == [AlertReceived(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)]
        exchange_data(stage.client, stage.server)

    else:
        assert expect == "unexpected"
        assert_unexpected_message(stage, stage.record(well_formed(kind, leaf)))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "CHANGE_CIPHER_SPEC"])
def test_matrix_messages_are_well_formed(kind: str, leaf: IssuedCertificate) -> None:
    """The matrix's bodies parse cleanly, so a failure there is about the state, not the body."""
    content_type, frame = well_formed(kind, leaf)
    assert content_type == ContentType.HANDSHAKE
    assert HandshakeType(frame[0]).name == kind
    assert int.from_bytes(frame[1:4], "big") == len(frame) - 4
    message = parse_handshake(frame[0], frame[4:])
    assert encode_handshake(message) == frame
    assert not isinstance(message, UnknownHandshake)


# -- the abbreviated handshake's states ----------------------------------------------------


def drive_resumed(side: str, state: str, client_config: ClientConfig, server_config: ServerConfig) -> Stage:
    """A full handshake, then a second connection offering its session (by ticket), stopped with the
    target in `state`. For the client's ExpectNewSessionTicket the ticket keys rotate in between, so
    the server renews the ticket."""
    now = [1_000_000.0]
    server_config = dataclasses.replace(server_config, ticket_keys=RotatingTicketKeys(clock=lambda: now[0]))
    first = ClientConnection(client_config, server_name="localhost")
    pump(first, ServerConnection(server_config))
    assert first.session is not None and first.session.ticket
    renew = state == "ExpectNewSessionTicket"
    if renew:
        now[0] += 3600  # the next slot: the ticket's key still opens, and is no longer the newest
    client = ClientConnection(client_config, server_name="localhost", session=first.session)
    server = ServerConnection(server_config)
    assert _feed(server, client, split_records(client.data_to_send())) == []
    flight = split_records(server.data_to_send())
    assert [kind_of(flight[0]), *(t for t, _ in flight[1:])] == [
        "SERVER_HELLO", *([ContentType.HANDSHAKE] if renew else []), ContentType.CHANGE_CIPHER_SPEC,
        ContentType.HANDSHAKE]
    # The server's Finished as plaintext: it is sealed again when delivered (`record_for`).
    flight[-1] = (ContentType.HANDSHAKE, encode_handshake(Finished(server.server_finished)))
    if side == "client":
        step = [kind_of(r) for r in flight].index(RESUMED_CLIENT_STATES[state])
        assert _feed(client, server, flight[:step]) == []
        stage = Stage(client, server, side, state, flight[step:], resumed=True)
    else:
        assert _feed(client, server, flight) == [HandshakeComplete()]
        reply = split_records(client.data_to_send())
        assert [t for t, _ in reply] == [ContentType.CHANGE_CIPHER_SPEC, ContentType.HANDSHAKE]
        assert client.session_reused and client.handshake_complete
        reply[1] = (ContentType.HANDSHAKE, encode_handshake(Finished(client.client_finished)))
        done = list(RESUMED_SERVER_STATES).index(state)
        assert _feed(server, client, reply[:done]) == []
        stage = Stage(client, server, side, state, reply[done:], resumed=True)
    module: ModuleType = client_states if side == "client" else server_states
    assert type(stage.target._state) is getattr(module, state)
    assert client.data_to_send() == b"" and server.data_to_send() == b""
    assert client.failure is None and server.failure is None
    return stage


RESUMED_MATRIX = [
    pytest.param(side, state, kind, id=f"{side}-{state}-{kind}-{outcome(side, state, kind, resumed=True)}")
    for side, state in RESUMED_STATES
    for kind in KINDS
]


@pytest.mark.parametrize(("side", "state", "kind"), RESUMED_MATRIX)
def test_resumed_state_matrix(
    *, side: str, state: str, kind: str, client_config: ClientConfig, server_config: ServerConfig,
    leaf: IssuedCertificate,
) -> None:
    """The abbreviated handshake's states against every message kind: only the next one is taken (a
    client ignores HelloRequest), anything else is unexpected_message."""
    stage = drive_resumed(side, state, client_config, server_config)
    expect = outcome(side, state, kind, resumed=True)
    if expect == "accept":
        real = stage.held.pop(0)
        assert kind_of(real) == kind
        assert stage.deliver(real) == ([HandshakeComplete()] if kind == "FINISHED" else [])
        stage.finish()
        assert stage.client.session_reused and stage.server.session_reused
    elif expect == "ignore":
        assert stage.deliver(well_formed(kind, leaf)) == []
        assert stage.target.data_to_send() == b"" and stage.target.failure is None
        stage.finish()
    else:
        assert expect == "unexpected"
        assert_unexpected_message(stage, stage.record(well_formed(kind, leaf)))


# -- records that are wrong whatever the handshake message --------------------------------


@pytest.mark.parametrize(("side", "state"), [pytest.param(s, t, id=f"{s}-{t}") for s, t in PRE_TRAFFIC])
def test_application_data_before_handshake_complete(
    side: str, state: str, client_config: ClientConfig, server_config: ServerConfig
) -> None:
    stage = drive(side, state, client_config, server_config)
    assert_unexpected_message(stage, stage.record((ContentType.APPLICATION_DATA, b"too early")))


def message_in_progress(stage: Stage, *, whole_header: bool) -> bytes | None:
    """The first bytes of a handshake message of a type the target takes now (the one with the
    largest body): its whole header and a little of its body, or only part of its header (the
    only choice for an empty message). None if the state takes no handshake message at all."""
    limits = max_body_lengths(2**16)
    taken = [t for t in stage.target._state.accepts if t != CHANGE_CIPHER_SPEC]
    if not taken:
        return None
    msg_type = max(taken, key=limits.__getitem__)
    if whole_header and limits[msg_type] >= 40:
        return bytes((msg_type,)) + limits[msg_type].to_bytes(3, "big") + bytes(36)
    return bytes((msg_type, 0))


@pytest.mark.parametrize(("side", "state"), [pytest.param(s, t, id=f"{s}-{t}") for s, t in STATES])
def test_change_cipher_spec_inside_fragmented_handshake_message(
    side: str, state: str, client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate
) -> None:
    stage = drive(side, state, client_config, server_config)
    fragment = message_in_progress(stage, whole_header=True)
    if fragment is None:
        # No handshake message may even begin here: its first bytes are refused at once.
        _, frame = well_formed("CERTIFICATE", leaf)
        assert_unexpected_message(stage, stage.record((ContentType.HANDSHAKE, frame[:40])))
        return
    # The first part of a handshake message is only buffered...
    assert stage.deliver((ContentType.HANDSHAKE, fragment)) == []
    assert stage.target.data_to_send() == b""
    # ...and a ChangeCipherSpec before the rest of it is refused.
    assert_unexpected_message(stage, stage.record((ContentType.CHANGE_CIPHER_SPEC, b"\x01")))


@pytest.mark.parametrize(("side", "state"), [pytest.param(s, t, id=f"{s}-{t}") for s, t in STATES])
def test_change_cipher_spec_inside_fragmented_header(
    side: str, state: str, client_config: ClientConfig, server_config: ServerConfig
) -> None:
    stage = drive(side, state, client_config, server_config)
    fragment = message_in_progress(stage, whole_header=False)
    if fragment is None:
        header = encode_handshake(Finished(b"\x00" * 12))[:2]
        assert_unexpected_message(stage, stage.record((ContentType.HANDSHAKE, header)))
        return
    # Only two bytes of a handshake header: still a message in progress.
    assert stage.deliver((ContentType.HANDSHAKE, fragment)) == []
    assert_unexpected_message(stage, stage.record((ContentType.CHANGE_CIPHER_SPEC, b"\x01")))


@pytest.mark.parametrize(("side", "state"), [pytest.param(s, t, id=f"{s}-{t}") for s, t in TRAFFIC])
@pytest.mark.parametrize("whole_header", [True, False])
def test_application_data_inside_fragmented_handshake_message(
    side: str, state: str, whole_header: bool, client_config: ClientConfig, server_config: ServerConfig
) -> None:
    stage = drive(side, state, client_config, server_config)
    fragment = message_in_progress(stage, whole_header=whole_header)
    assert fragment is not None
    assert stage.deliver((ContentType.HANDSHAKE, fragment)) == []
    assert_unexpected_message(stage, stage.record((ContentType.APPLICATION_DATA, b"interleaved")))


def test_second_certificate_request_is_unexpected(
    client_config: ClientConfig, server_config: ServerConfig, leaf: IssuedCertificate
) -> None:
    stage = drive("client", "ExpectServerHelloDone", client_config, server_config)
    request = well_formed("CERTIFICATE_REQUEST", leaf)
    assert stage.deliver(request) == []
    assert_unexpected_message(stage, stage.record(request))


def test_coalesced_hello_request_is_ignored_mid_flight(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """A HelloRequest coalesced between two handshake messages of one record is skipped."""
    stage = drive("client", "ExpectCertificate", client_config, server_config)
    certificate, key_exchange, done = (payload for _, payload in stage.held)
    stage.held.clear()
    record = (ContentType.HANDSHAKE, certificate + encode_handshake(HelloRequest()) + key_exchange + done)
    assert stage.deliver(record) == []
    stage.finish()


# -- renegotiation refused on established connections -------------------------------------


def established(client_config: ClientConfig, server_config: ServerConfig) -> tuple[ClientConnection, ServerConnection]:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
    return client, server


@pytest.mark.parametrize("attempts", [1, 3])
def test_server_refuses_renegotiation(client_config: ClientConfig, server_config: ServerConfig, attempts: int) -> None:
    client, server = established(client_config, server_config)
    for _ in range(attempts):
        # A complete, valid ClientHello, sent on the established connection with its keys.
        hello_frame = ClientConnection(client_config, server_name="localhost").data_to_send()[5:]
        assert parse_handshake(hello_frame[0], hello_frame[4:]).msg_type == HandshakeType.CLIENT_HELLO
        out = bytearray()
        client._records.seal(ContentType.HANDSHAKE, hello_frame, out)
        assert server.receive_data(bytes(out)) == []
        refusal = server.data_to_send()
        assert client.receive_data(refusal) == [AlertReceived(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)]
        exchange_data(client, server)
    assert client.failure is None and server.failure is None


@pytest.mark.parametrize("attempts", [1, 3])
def test_client_refuses_hello_request(client_config: ClientConfig, server_config: ServerConfig, attempts: int) -> None:
    client, server = established(client_config, server_config)
    for _ in range(attempts):
        out = bytearray()
        server._records.seal(ContentType.HANDSHAKE, encode_handshake(HelloRequest()), out)
        assert client.receive_data(bytes(out)) == []
        refusal = client.data_to_send()
        assert server.receive_data(refusal) == [AlertReceived(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)]
        exchange_data(client, server)
    assert client.failure is None and server.failure is None


# -- the type decides, before the body is read ---------------------------------------------------------

#: Bodies no parser accepts: a header alone is checked against the state before any of these is read.
GARBAGE_BODIES = [b"\xff" * 7, b"", b"\x00", bytes(300)]

GARBAGE = [
    pytest.param(side, state, kind, body, id=f"{side}-{state}-{kind}-{len(body)}")
    for side, state in STATES
    for kind in KINDS
    if outcome(side, state, kind) == "unexpected"
    for body in GARBAGE_BODIES
]


@pytest.mark.parametrize(("side", "state", "kind", "body"), GARBAGE)
def test_unexpected_message_whatever_its_body(
    *, side: str, state: str, kind: str, body: bytes, client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """A message of a type the state does not expect is unexpected_message, whatever follows its
    type: the type is checked against the state on the header, before the body is parsed (or even
    buffered: the body here may be short of what the header declares)."""
    stage = drive(side, state, client_config, server_config)
    if kind == "CHANGE_CIPHER_SPEC":
        record: Record = (ContentType.CHANGE_CIPHER_SPEC, body or b"\x02")
    else:
        msg_type = HandshakeType[kind]
        record = (ContentType.HANDSHAKE, bytes((msg_type,)) + len(body).to_bytes(3, "big") + body)
    assert_unexpected_message(stage, stage.record(record))


RESUMED_GARBAGE = [
    pytest.param(side, state, kind, body, id=f"{side}-{state}-{kind}-{len(body)}")
    for side, state in RESUMED_STATES
    for kind in KINDS
    if outcome(side, state, kind, resumed=True) == "unexpected"
    for body in GARBAGE_BODIES[:2]
]


@pytest.mark.parametrize(("side", "state", "kind", "body"), RESUMED_GARBAGE)
def test_resumed_unexpected_message_whatever_its_body(
    *, side: str, state: str, kind: str, body: bytes, client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """The abbreviated handshake's states, too, refuse a message from its header alone."""
    stage = drive_resumed(side, state, client_config, server_config)
    if kind == "CHANGE_CIPHER_SPEC":
        record: Record = (ContentType.CHANGE_CIPHER_SPEC, body or b"\x02")
    else:
        record = (ContentType.HANDSHAKE, bytes((HandshakeType[kind],)) + len(body).to_bytes(3, "big") + body)
    assert_unexpected_message(stage, stage.record(record))


@pytest.mark.parametrize(("side", "state"), [pytest.param(s, t, id=f"{s}-{t}") for s, t in STATES])
def test_unexpected_message_header_declaring_the_largest_body(
    side: str, state: str, client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """Only the 4-byte header of a message no state of either side ever expects (CertificateVerify:
    these configurations never ask for a client certificate), declaring 2^24-1 bytes: unexpected_message at once."""
    stage = drive(side, state, client_config, server_config)
    header = bytes((HandshakeType.CERTIFICATE_VERIFY,)) + (2**24 - 1).to_bytes(3, "big")
    assert_unexpected_message(stage, stage.record((ContentType.HANDSHAKE, header)))


# -- the same matrix where the key exchange changes the states: DHE and static RSA -------------

# The states whose messages depend on the key exchange, in order, with the message each waits for.
KX_STATES: dict[str, list[tuple[str, str, str]]] = {
    # suite: [(side, state, the message it takes)]
    "DHE": [("client", "ExpectServerHello", "SERVER_HELLO"), ("client", "ExpectCertificate", "CERTIFICATE"),
            ("client", "ExpectServerKeyExchange", "SERVER_KEY_EXCHANGE"),
            ("client", "ExpectServerHelloDone", "SERVER_HELLO_DONE"),
            ("server", "ExpectClientHello", "CLIENT_HELLO"),
            ("server", "ExpectClientKeyExchange", "CLIENT_KEY_EXCHANGE")],
    # Static RSA: no ServerKeyExchange; after the Certificate the client waits for ServerHelloDone.
    "RSA": [("client", "ExpectServerHello", "SERVER_HELLO"), ("client", "ExpectCertificate", "CERTIFICATE"),
            ("client", "ExpectServerHelloDone", "SERVER_HELLO_DONE"),
            ("server", "ExpectClientHello", "CLIENT_HELLO"),
            ("server", "ExpectClientKeyExchange", "CLIENT_KEY_EXCHANGE")],
}
KX_SUITES = {"DHE": CipherSuite.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, "RSA": CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256}


def kx_message(kx: str, kind: str, leaf: IssuedCertificate) -> HandshakeMessage:
    """A well-formed message of `kind`, its key-exchange messages in the form of `kx`."""
    if kind == "SERVER_KEY_EXCHANGE":
        return DHEServerKeyExchange(dh_p=b"\xff" * 256, dh_g=b"\x02", dh_Ys=b"\x5a" * 256,
                                    scheme=SignatureScheme.RSA_PSS_RSAE_SHA256, signature=b"\x5a" * 256)
    if kind == "CLIENT_KEY_EXCHANGE":
        return DHEClientKeyExchange(b"\x5a" * 256) if kx == "DHE" else RSAClientKeyExchange(b"\x5a" * 256)
    return well_formed_message(kind, leaf)


KX_MATRIX = [
    pytest.param(kx, side, state, expected, kind, id=f"{kx}-{side}-{state}-{kind}")
    for kx, states in KX_STATES.items()
    for side, state, expected in states
    for kind in KINDS
]


@pytest.mark.parametrize(("kx", "side", "state", "expected", "kind"), KX_MATRIX)
def test_state_matrix_per_key_exchange(
    *, kx: str, side: str, state: str, expected: str, kind: str, ca: CertificateAuthority, leaf: IssuedCertificate
) -> None:
    suite = KX_SUITES[kx]
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[suite]),
                              server_name="localhost")
    server = ServerConnection(ServerConfig(credentials=[leaf.credential()], cipher_suites=[suite]))
    hello = split_records(client.data_to_send())
    if side == "server":
        flight = hello
    else:
        assert server.receive_data(record_for(server, client, hello[0])) == []
        flight = split_records(server.data_to_send())
        assert [kind_of(r) for r in flight] == [e for s, _, e in KX_STATES[kx] if s == "client"]
    target, peer = (client, server) if side == "client" else (server, client)
    states = [(st, e) for s, st, e in KX_STATES[kx] if s == side]
    step = [st for st, _ in states].index(state)
    held = flight[step:]
    if side == "server" and step:
        assert _feed(server, client, hello) == []
        assert client.receive_data(server.data_to_send()) == []
        held = split_records(client.data_to_send())
        assert [kind_of(r) for r in held[:2]] == ["CLIENT_KEY_EXCHANGE", "CHANGE_CIPHER_SPEC"]
        # The Finished as plaintext: it is sealed again when delivered (`record_for`).
        held[2] = (ContentType.HANDSHAKE, encode_handshake(Finished(client.client_finished)))
    elif side == "client":
        assert _feed(client, server, flight[:step]) == []
    module: ModuleType = client_states if side == "client" else server_states
    assert type(target._state) is getattr(module, state)
    stage = Stage(client, server, side, state, held)
    expect = outcome(side, state, kind) if kind != expected else "accept"
    if expect == "accept":
        real = stage.held.pop(0)
        assert kind_of(real) == kind
        assert stage.deliver(real) == []
        stage.finish()
    elif expect == "accept_certificate_request":
        assert stage.deliver(well_formed(kind, leaf)) == []
        assert target.failure is None
    elif expect == "ignore":
        assert stage.deliver(well_formed(kind, leaf)) == []
        assert target.data_to_send() == b"" and target.failure is None
        stage.finish()
    else:
        assert expect == "unexpected"
        if kind == "CHANGE_CIPHER_SPEC":
            wire = stage.record((ContentType.CHANGE_CIPHER_SPEC, b"\x01"))
        else:
            wire = stage.record((ContentType.HANDSHAKE, encode_handshake(kx_message(kx, kind, leaf))))
        assert_unexpected_message(stage, wire)
    assert peer.failure is None or expect == "unexpected"
