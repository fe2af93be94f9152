"""Shared by the tests that build and edit the bytes on the wire (test_negative.py, test_records.py,
test_policy.py and the adversarial tests through test_adversarial_support.py); it holds no tests.

Records and handshake frames built and taken apart by hand, `expect_failure` (the whole contract of a
failure: the exception class and its alert, the one alert record queued for the peer, stickiness),
a tracer that collects the traffic keys, a real handshake between our client and our server run
flight by flight so that a test can edit a flight before it is delivered, and crafted ClientHellos.

Flights of a full handshake:

    f1  client -> server   ClientHello                                  (record version 0x0301)
    f2  server -> client   ServerHello, Certificate, ServerKeyExchange, ServerHelloDone
    f3  client -> server   ClientKeyExchange, ChangeCipherSpec, {Finished}
    f4  server -> client   ChangeCipherSpec, {Finished}
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from tls12 import (
    AlertDescription,
    AlertReceivedError,
    ClientConfig,
    ClientConnection,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tls12.crypto.aead import ChaChaRecordAEAD, GCMRecordAEAD, RecordAEAD
from tls12.enums import CipherSuite, ContentType, ECPointFormat, NamedGroup, ProtocolVersion, SignatureScheme
from tls12.messages import (
    ClientHello,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    HandshakeMessage,
    RenegotiationInfo,
    ServerName,
    SignatureAlgorithms,
    SupportedGroups,
    encode_handshake,
    parse_handshake,
)
from tls12.trace import SecretDerived, TraceEvent

from helpers import pump

Conn = ClientConnection | ServerConnection

HANDSHAKE, CCS, ALERT, APPDATA = 22, 20, 21, 23
TLS12, TLS10 = 0x0303, 0x0301
SUITE = CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
X25519, P256, P384 = NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1
GROUPS = (X25519, P256, P384)
PSS256, PKCS256 = SignatureScheme.RSA_PSS_RSAE_SHA256, SignatureScheme.RSA_PKCS1_SHA256
PROTECTED_ALERT_LEN = 8 + 2 + 16  # explicit nonce, alert, GCM tag

# -- records and frames ---------------------------------------------------------------------


def record(content_type: int, payload: bytes, version: int = TLS12) -> bytes:
    return struct.pack(">BHH", content_type, version, len(payload)) + payload


def split_records(data: bytes) -> list[tuple[int, int, bytes]]:
    out = []
    i = 0
    while i < len(data):
        content_type, version, length = struct.unpack_from(">BHH", data, i)
        out.append((content_type, version, data[i + 5 : i + 5 + length]))
        i += 5 + length
    assert i == len(data), "trailing partial record"
    return out


def raw_records(data: bytes) -> list[bytes]:
    return [record(t, p, v) for t, v, p in split_records(data)]


def frames(payload: bytes) -> list[bytes]:
    """The handshake messages (header included) in a run of handshake-record payloads."""
    out = []
    while payload:
        end = 4 + int.from_bytes(payload[1:4], "big")
        out.append(payload[:end])
        payload = payload[end:]
    return out


def handshake_frames(data: bytes) -> list[bytes]:
    """The raw handshake messages in a plaintext flight (other records are skipped)."""
    return frames(b"".join(p for t, _, p in split_records(data) if t == HANDSHAKE))


def frame(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


def parse(raw: bytes, key_exchange: str = "ECDHE") -> HandshakeMessage:
    """One handshake frame; the key-exchange messages in the form of `key_exchange` ("ECDHE", "DHE", "RSA")."""
    return parse_handshake(raw[0], raw[4:], key_exchange)


def plain_alert(description: int, version: int = TLS12) -> bytes:
    return record(ALERT, bytes((2, description)), version)


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


# -- the failure contract -------------------------------------------------------------------


def expect_failure(
    conn: Conn,
    data: bytes,
    error: type[TLSError],
    alert: AlertDescription,
    *,
    version: int = TLS12,
    peer: Conn | None = None,
    check_level: bool = True,
    strict: bool = False,
) -> TLSError:
    """Feed `data`: exactly `error` (or a subclass) with `alert`, the alert queued once, sticky.

    Without `peer` the alert must be the plaintext record `15 <version> 00 02 02 <alert>`; with a
    `peer` it must be one protected alert record that the peer decrypts to that alert (and, with
    `check_level`, a fatal one). Sticky: `conn.failure` is the exception, a later record raises it
    again and nothing more is sent; `strict` adds that the connection is closed and that feeding
    `data` again, and feeding nothing, raise it again too."""
    with pytest.raises(error) as info:
        conn.receive_data(data)
    exc = info.value
    assert exc.alert == alert, f"{type(exc).__name__} ({exc}) sends {exc.alert!r}, expected {alert!r}"
    out = conn.data_to_send()
    if peer is None:
        assert out == plain_alert(alert, version), out.hex()
    else:
        [(content_type, record_version, body)] = split_records(out)
        # The alert is protected by the connection's own write cipher: 2 bytes plus its overhead.
        cipher = conn._records.write_cipher
        assert cipher is not None
        alert_len = 2 + cipher.overhead
        assert (content_type, record_version, len(body)) == (ALERT, TLS12, alert_len)
        if cipher.overhead == GCMRecordAEAD.overhead:
            assert alert_len == PROTECTED_ALERT_LEN
        with pytest.raises(AlertReceivedError) as received:
            peer.receive_data(out)
        assert received.value.description == alert
        if check_level:
            assert received.value.level == 2
    assert conn.failure is exc
    later = [record(HANDSHAKE, b"\x00\x00\x00\x00")]
    if strict:
        assert conn.closed
        later = [data, b"", *later]
    for more in later:
        with pytest.raises(error) as again:
            conn.receive_data(more)
        assert again.value is exc
    assert conn.data_to_send() == b""
    return exc


# -- keys from the trace ------------------------------------------------------------------------


@dataclass
class KeyTracer:
    """Collects the traffic keys a connection derives (SecretDerived trace events)."""

    secrets: dict[str, bytes] = field(default_factory=dict)

    def __call__(self, event: TraceEvent) -> None:
        if isinstance(event, SecretDerived):
            self.secrets[event.label] = event.value

    def cipher(self, side: str, seq: int = 0) -> RecordAEAD:
        """One side's write protection (the IV's length names the nonce rule: 4 for AES-GCM, 12 for
        ChaCha20-Poly1305), at sequence number `seq`."""
        iv = self.secrets[f"{side}_write_IV"]
        cls = GCMRecordAEAD if len(iv) == GCMRecordAEAD.iv_len else ChaChaRecordAEAD
        aead = cls(self.secrets[f"{side}_write_key"], iv)
        aead.seq = seq
        return aead


# -- a scripted handshake -----------------------------------------------------------------------


@dataclass
class Handshake:
    client: ClientConnection
    server: ServerConnection
    client_keys: KeyTracer
    server_keys: KeyTracer


def start(client_config: ClientConfig, server_config: ServerConfig, name: str = "localhost") -> Handshake:
    client_keys, server_keys = KeyTracer(), KeyTracer()
    return Handshake(
        ClientConnection(client_config, server_name=name, tracer=client_keys),
        ServerConnection(server_config, tracer=server_keys),
        client_keys,
        server_keys,
    )


def established(client_config: ClientConfig, server_config: ServerConfig) -> Handshake:
    hs = start(client_config, server_config)
    assert pump(hs.client, hs.server) == ([HandshakeComplete()], [HandshakeComplete()])
    return hs


def to_flight2(hs: Handshake) -> bytes:
    """Run f1; return f2 (not yet delivered)."""
    assert hs.server.receive_data(hs.client.data_to_send()) == []
    return hs.server.data_to_send()


def to_flight3(hs: Handshake) -> bytes:
    """Run f1 and f2; return f3 (not yet delivered)."""
    assert hs.client.receive_data(to_flight2(hs)) == []
    return hs.client.data_to_send()


def to_flight4(hs: Handshake) -> bytes:
    """Run f1 to f3; return the server's ChangeCipherSpec and Finished (not yet delivered). The
    NewSessionTicket the server sends before them (the client asked for a ticket, RFC 5077 §3.3) is
    delivered first: what these tests forge or check is the last two records."""
    f3 = to_flight3(hs)
    assert hs.server.receive_data(f3) == [HandshakeComplete()]
    return deliver_ticket(hs.client, hs.server.data_to_send())


def deliver_ticket(client: ClientConnection, final_flight: bytes) -> bytes:
    """The server's final flight after its NewSessionTicket record, if it starts with one (then
    delivered to the client): its ChangeCipherSpec and Finished."""
    records = raw_records(final_flight)
    if records[0][0] != ContentType.HANDSHAKE:
        return final_flight
    assert client.receive_data(records[0]) == []
    return final_flight[len(records[0]):]


def sealed(conn: Conn, content_type: int, payload: bytes, count: int = 1) -> bytes:
    """`count` protected records of `payload` sealed by `conn`'s own record layer (in sequence)."""
    out = bytearray()
    for _ in range(count):
        conn._records.seal(content_type, payload, out)
    return bytes(out)


def edit_flight(data: bytes, msg_type: int, edit: Callable[[HandshakeMessage], HandshakeMessage],
                key_exchange: str = "ECDHE") -> bytes:
    """Re-encode the one handshake message of type `msg_type` in a plaintext flight, fixing record lengths
    (key-exchange messages are parsed in the form of `key_exchange`)."""
    out = b""
    hits = 0
    for content_type, version, payload in split_records(data):
        new = payload
        if content_type == HANDSHAKE:
            msgs = frames(payload)
            hits += sum(raw[0] == msg_type for raw in msgs)
            new = b"".join(encode_handshake(edit(parse(raw, key_exchange))) if raw[0] == msg_type else raw
                           for raw in msgs)
        out += record(content_type, new, version)
    assert hits == 1
    return out


# -- crafted ClientHellos: like our client's, with every field open to change ---------------------


def default_extensions() -> list[Extension]:
    return [
        ServerName(("localhost",)),
        SupportedGroups(GROUPS),
        ECPointFormats((ECPointFormat.UNCOMPRESSED,)),
        SignatureAlgorithms((PSS256, SignatureScheme.RSA_PSS_RSAE_SHA384, PKCS256)),
        ExtendedMasterSecret(),
        RenegotiationInfo(b""),
    ]


def make_hello(
    *,
    version: int = TLS12,
    suites: Sequence[int] = (SUITE,),
    compression: bytes = b"\x00",
    session_id: bytes = b"",
    extensions: Sequence[Extension] | None = None,
    drop: Sequence[type] = (),
    add: Sequence[Extension] = (),
) -> ClientHello:
    """`extensions` (by default `default_extensions()`) less those of the types in `drop`, plus `add`."""
    exts = list(default_extensions() if extensions is None else extensions)
    exts = [e for e in exts if not isinstance(e, tuple(drop))] + list(add)
    return ClientHello(
        client_version=ProtocolVersion(version),
        random=bytes(range(32)),
        session_id=session_id,
        cipher_suites=tuple(CipherSuite(s) for s in suites),
        compression_methods=compression,
        extensions=tuple(exts),
    )


def hello_record(hello: ClientHello | bytes) -> bytes:
    """A ClientHello (message or raw body) framed and put in records of at most 2^14 bytes."""
    raw = encode_handshake(hello) if isinstance(hello, ClientHello) else frame(1, hello)
    return b"".join(record(HANDSHAKE, raw[i : i + 2**14], TLS10) for i in range(0, len(raw), 2**14))
