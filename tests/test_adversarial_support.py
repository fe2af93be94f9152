"""Shared scripting for the adversarial tests (tests/test_adversarial_*.py); it holds no tests.

A scripted peer builds the bytes a broken or malicious peer would send: it runs a real handshake
between our client and our server flight by flight, then edits, drops, repeats, reorders or
forges messages and records before they are delivered. `expect_failure` then checks the whole
contract of a failure: the exception class and its alert, the one alert record queued for the peer
(plaintext, or protected and readable by the peer), and that the failure is sticky.

Flights of a full handshake:

    f1  client -> server   ClientHello                                  (record version 0x0301)
    f2  server -> client   ServerHello, Certificate, ServerKeyExchange, ServerHelloDone
    f3  client -> server   ClientKeyExchange, ChangeCipherSpec, {Finished}
    f4  server -> client   ChangeCipherSpec, {Finished}
"""

from __future__ import annotations

import dataclasses
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
from tls12.crypto import signatures
from tls12.crypto.aead import RecordAEAD
from tls12.enums import (
    CipherSuite,
    ECPointFormat,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
)
from tls12.messages import (
    ClientHello,
    ECPointFormats,
    ExtendedMasterSecret,
    Extension,
    HandshakeMessage,
    RenegotiationInfo,
    ServerHello,
    ServerKeyExchange,
    ServerName,
    SignatureAlgorithms,
    SupportedGroups,
    encode_handshake,
    parse_handshake,
)
from tls12.trace import SecretDerived, TraceEvent

from helpers import pump

Conn = ClientConnection | ServerConnection

HANDSHAKE, CCS, ALERT, APPDATA, HEARTBEAT = 22, 20, 21, 23, 24
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
    return frames(b"".join(p for t, _, p in split_records(data) if t == HANDSHAKE))


def frame(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


def parse(raw: bytes) -> HandshakeMessage:
    return parse_handshake(raw[0], raw[4:])


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
) -> TLSError:
    """Feed `data`: exactly `error` (or a subclass) with `alert`, the alert queued once, sticky.

    Without `peer` the alert must be the plaintext record `15 <version> 00 02 02 <alert>`; with a
    `peer` it must be one protected alert record that the peer decrypts to that fatal alert."""
    with pytest.raises(error) as info:
        conn.receive_data(data)
    exc = info.value
    assert exc.alert == alert, f"{type(exc).__name__} ({exc}) sends {exc.alert!r}, expected {alert!r}"
    out = conn.data_to_send()
    if peer is None:
        assert out == plain_alert(alert, version), out.hex()
    else:
        [(content_type, record_version, body)] = split_records(out)
        assert (content_type, record_version, len(body)) == (ALERT, TLS12, PROTECTED_ALERT_LEN)
        with pytest.raises(AlertReceivedError) as received:
            peer.receive_data(out)
        assert received.value.description == alert
        assert received.value.level == 2
    assert conn.failure is exc
    assert conn.closed
    for later in (data, b"", record(HANDSHAKE, b"\x00\x00\x00\x00")):
        with pytest.raises(error) as again:
            conn.receive_data(later)
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
        aead = RecordAEAD(self.secrets[f"{side}_write_key"], self.secrets[f"{side}_write_IV"])
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
    f3 = to_flight3(hs)
    assert hs.server.receive_data(f3) == [HandshakeComplete()]
    return hs.server.data_to_send()


def sealed(conn: Conn, content_type: int, payload: bytes, count: int = 1) -> bytes:
    """`count` protected records of `payload` sealed by `conn`'s own record layer (in sequence)."""
    out = bytearray()
    for _ in range(count):
        conn._records.seal(content_type, payload, out)
    return bytes(out)


def edit_flight(data: bytes, msg_type: int, edit: Callable[[HandshakeMessage], HandshakeMessage]) -> bytes:
    """Re-encode the one handshake message of type `msg_type` in a plaintext flight."""
    out = b""
    hits = 0
    for content_type, version, payload in split_records(data):
        new = payload
        if content_type == HANDSHAKE:
            msgs = frames(payload)
            hits += sum(raw[0] == msg_type for raw in msgs)
            new = b"".join(encode_handshake(edit(parse(raw))) if raw[0] == msg_type else raw for raw in msgs)
        out += record(content_type, new, version)
    assert hits == 1
    return out


def resign_ske(
    flight: bytes,
    client_random: bytes,
    private_key: object,
    *,
    public: bytes | None = None,
    group: NamedGroup | None = None,
    scheme: SignatureScheme | None = None,
    signed_override: Callable[[bytes], bytes] | None = None,
    signature_override: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """The flight with its ServerKeyExchange replaced: new fields, signed with `private_key`
    (over client_random + server_random + params unless `signed_override` changes what is signed;
    `signature_override` edits the finished signature)."""
    sh = parse(handshake_frames(flight)[0])
    assert isinstance(sh, ServerHello)

    def edit(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, ServerKeyExchange)
        unsigned = ServerKeyExchange(
            named_curve=msg.named_curve if group is None else group,
            public=msg.public if public is None else public,
            scheme=msg.scheme if scheme is None else scheme,
            signature=b"",
        )
        signed = client_random + sh.random + unsigned.params_bytes()
        if signed_override is not None:
            signed = signed_override(signed)
        signature = signatures.sign(private_key, unsigned.scheme, signed)  # type: ignore[arg-type]
        if signature_override is not None:
            signature = signature_override(signature)
        return dataclasses.replace(unsigned, signature=signature)

    return edit_flight(flight, 12, edit)


# -- crafted ClientHellos -----------------------------------------------------------------------


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
) -> ClientHello:
    return ClientHello(
        client_version=ProtocolVersion(version),
        random=bytes(range(32)),
        session_id=session_id,
        cipher_suites=tuple(CipherSuite(s) for s in suites),
        compression_methods=compression,
        extensions=tuple(default_extensions() if extensions is None else extensions),
    )


def hello_record(hello: ClientHello | bytes) -> bytes:
    """A ClientHello (message or raw body) framed and put in records of at most 2^14 bytes."""
    raw = encode_handshake(hello) if isinstance(hello, ClientHello) else frame(1, hello)
    return b"".join(record(HANDSHAKE, raw[i : i + 2**14], TLS10) for i in range(0, len(raw), 2**14))


def server_answers(server_config: ServerConfig, data: bytes) -> list[bytes]:
    """Feed a hello to a fresh server; it must answer with its full first flight (the frames)."""
    server = ServerConnection(server_config)
    assert server.receive_data(data) == []
    assert server.failure is None
    out = handshake_frames(server.data_to_send())
    assert [f[0] for f in out] == [2, 11, 12, 14]
    return out
