"""The record layer (RFC 5246 §6.2): framing, limits, protection, reassembly, sequence numbers."""

from __future__ import annotations

import dataclasses
import functools
import struct
from dataclasses import dataclass

import pytest

from tls12 import (
    AlertDescription,
    AlertReceived,
    AlertReceivedError,
    ApplicationDataReceived,
    BadRecordMac,
    ClientConfig,
    ClientConnection,
    DecodeError,
    HandshakeComplete,
    IllegalParameter,
    ProtocolVersionError,
    RecordOverflow,
    ServerConfig,
    ServerConnection,
    TLSError,
    UnexpectedMessage,
)
from tls12.crypto.aead import GCMRecordAEAD
from tls12.enums import AlertLevel
from tls12.errors import SequenceExhausted
from tls12.events import Event
from tls12.messages import HelloRequest, encode_handshake

from helpers import pump
from record_support import (
    ALERT,
    APPDATA,
    CCS,
    HANDSHAKE,
    TLS10,
    TLS12,
    KeyTracer,
    deliver_ticket,
    raw_records,
    record,
    sealed,
    split_records,
)
from record_support import expect_failure as _expect_failure

# -- helpers ------------------------------------------------------------------------

MAX_PLAINTEXT = 2**14
MAX_CIPHERTEXT = 2**14 + 2048


def header(content_type: int, length: int, version: int = TLS12) -> bytes:
    return struct.pack(">BHH", content_type, version, length)


# The record tests do not hold a protected alert to being fatal (the level), only to its description.
expect_failure = functools.partial(_expect_failure, check_level=False)


@dataclass
class Pair:
    client: ClientConnection
    server: ServerConnection
    keys: KeyTracer


def established(client_config: ClientConfig, server_config: ServerConfig) -> Pair:
    keys = KeyTracer()
    client = ClientConnection(client_config, server_name="localhost", tracer=keys)
    server = ServerConnection(server_config)
    client_events, server_events = pump(client, server)
    assert client_events == [HandshakeComplete()]
    assert server_events == [HandshakeComplete()]
    return Pair(client, server, keys)


def feed_all(conn: ClientConnection | ServerConnection, chunks: list[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events += conn.receive_data(chunk)
    return events


def refragment(data: bytes, size: int) -> list[bytes]:
    """The plaintext handshake records of a flight, re-cut into records of `size` bytes of payload.

    Everything from a ChangeCipherSpec on (the protected Finished) is kept as it is."""
    records = split_records(data)
    cut = next((i for i, (t, _, _) in enumerate(records) if t == CCS), len(records))
    assert all(t == HANDSHAKE for t, _, _ in records[:cut])
    out: list[bytes] = []
    if cut:
        version = records[0][1]
        payload = b"".join(p for _, _, p in records[:cut])
        out += [record(HANDSHAKE, payload[i : i + size], version) for i in range(0, len(payload), size)]
    return out + [record(t, p, v) for t, v, p in records[cut:]]


# -- content types -----------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [0x19, 24, 0, 19, 0xFF])
def test_unknown_content_type_to_server(server_config: ServerConfig, content_type: int) -> None:
    server = ServerConnection(server_config)
    expect_failure(server, record(content_type, b"\x01\x00", TLS10), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE)


def test_unknown_content_type_header_alone(server_config: ServerConfig) -> None:
    """The content type is checked from the header, before the body arrives."""
    server = ServerConnection(server_config)
    expect_failure(server, header(0x19, 100), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("content_type", [0x19, 24])
def test_unknown_content_type_to_client(client_config: ClientConfig, content_type: int) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    client.data_to_send()
    expect_failure(client, record(content_type, b"\x01\x00"), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE, version=TLS10)


@pytest.mark.parametrize("content_type", [0x19, 24])
def test_unknown_content_type_after_handshake(
    client_config: ClientConfig, server_config: ServerConfig, content_type: int
) -> None:
    pair = established(client_config, server_config)
    data = bytearray(sealed(pair.client, APPDATA, b"beat"))
    data[0] = content_type
    expect_failure(pair.server, bytes(data), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE,
                   peer=pair.client)


# -- record versions -----------------------------------------------------------------------


@pytest.mark.parametrize("version", [0x0301, 0x0302, 0x0300, 0x0304])
def test_wrong_record_version_to_server_after_hello(
    client_config: ClientConfig, server_config: ServerConfig, version: int
) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    f3 = split_records(client.data_to_send())
    cke = record(HANDSHAKE, f3[0][2], version)
    expect_failure(server, cke, ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)


@pytest.mark.parametrize("version", [0x0301, 0x0302])
def test_wrong_record_version_to_client_after_server_hello(
    client_config: ClientConfig, server_config: ServerConfig, version: int
) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    f2 = split_records(server.data_to_send())
    data = record(HANDSHAKE, f2[0][2]) + record(HANDSHAKE, f2[1][2], version)
    expect_failure(client, data, ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)


@pytest.mark.parametrize("version", [0x0301, 0x0300, 0x0302])
def test_any_3x_record_version_for_the_client_hello(
    client_config: ClientConfig, server_config: ServerConfig, version: int
) -> None:
    """RFC 5246 E.1: the ClientHello's record version may be any {03,xx}."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    [(t, _, payload)] = split_records(client.data_to_send())
    assert server.receive_data(record(t, payload, version)) == []
    client.receive_data(server.data_to_send())
    assert server.receive_data(client.data_to_send()) == [HandshakeComplete()]


@pytest.mark.parametrize("version", [0x0200, 0x0403, 0x0002])
def test_non_tls_record_version(server_config: ServerConfig, version: int) -> None:
    server = ServerConnection(server_config)
    expect_failure(server, header(HANDSHAKE, 10, version), ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)


def test_wrong_record_version_protected(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    data = bytearray(sealed(pair.client, APPDATA, b"data"))
    data[1:3] = b"\x03\x01"
    expect_failure(pair.server, bytes(data), ProtocolVersionError, AlertDescription.PROTOCOL_VERSION,
                   peer=pair.client)


# -- record lengths --------------------------------------------------------------------------


def test_plaintext_record_overflow_from_header(server_config: ServerConfig) -> None:
    server = ServerConnection(server_config)
    # Only the header: the check must not wait for 16 KiB of body.
    expect_failure(server, header(HANDSHAKE, MAX_PLAINTEXT + 1, TLS10), RecordOverflow,
                   AlertDescription.RECORD_OVERFLOW)


def test_plaintext_record_overflow_to_client(client_config: ClientConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    client.data_to_send()
    expect_failure(client, header(HANDSHAKE, 0xFFFF), RecordOverflow, AlertDescription.RECORD_OVERFLOW,
                   version=TLS10)


def test_plaintext_record_at_limit_waits(server_config: ServerConfig) -> None:
    server = ServerConnection(server_config)
    assert server.receive_data(header(HANDSHAKE, MAX_PLAINTEXT, TLS10)) == []
    assert server.failure is None
    assert server.data_to_send() == b""


def test_protected_record_overflow_from_header(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    expect_failure(pair.server, header(APPDATA, MAX_CIPHERTEXT + 1), RecordOverflow,
                   AlertDescription.RECORD_OVERFLOW, peer=pair.client)


def test_protected_record_overflow_to_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    expect_failure(pair.client, header(APPDATA, 0xFFFF), RecordOverflow, AlertDescription.RECORD_OVERFLOW,
                   peer=pair.server)


def test_protected_record_at_limit_waits(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    assert pair.server.receive_data(header(APPDATA, MAX_CIPHERTEXT)) == []
    assert pair.server.failure is None


def test_protected_plaintext_overflow(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """An authentic record whose plaintext is 2^14 + 1 bytes (well within 2^14 + 2048 on the wire)."""
    pair = established(client_config, server_config)
    # The client's Finished used sequence number 0.
    forged = pair.keys.cipher("client", seq=1).seal(APPDATA, b"a" * (MAX_PLAINTEXT + 1))
    assert len(forged) - 5 <= MAX_CIPHERTEXT
    expect_failure(pair.server, forged, RecordOverflow, AlertDescription.RECORD_OVERFLOW, peer=pair.client)


def test_protected_plaintext_at_limit(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    record_ = pair.keys.cipher("client", seq=1).seal(APPDATA, b"a" * MAX_PLAINTEXT)
    assert pair.server.receive_data(record_) == [ApplicationDataReceived(b"a" * MAX_PLAINTEXT)]


def test_large_writes_are_split(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    data = bytes(range(256)) * 200  # 51200 bytes
    pair.client.send_application_data(data)
    out = pair.client.data_to_send()
    lengths = [len(body) - 24 for _, _, body in split_records(out)]
    assert lengths == [MAX_PLAINTEXT, MAX_PLAINTEXT, MAX_PLAINTEXT, len(data) - 3 * MAX_PLAINTEXT]
    events = pair.server.receive_data(out)
    assert b"".join(e.data for e in events if isinstance(e, ApplicationDataReceived)) == data


def test_protected_record_shorter_than_nonce_and_tag(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    expect_failure(pair.server, record(APPDATA, bytes(23)), BadRecordMac, AlertDescription.BAD_RECORD_MAC,
                   peer=pair.client)


# -- empty and malformed non-data records ---------------------------------------------------------


def test_zero_length_handshake_record(server_config: ServerConfig) -> None:
    server = ServerConnection(server_config)
    expect_failure(server, record(HANDSHAKE, b"", TLS10), DecodeError, AlertDescription.DECODE_ERROR)


def test_zero_length_handshake_record_to_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    f2 = raw_records(server.data_to_send())
    expect_failure(client, f2[0] + record(HANDSHAKE, b""), DecodeError, AlertDescription.DECODE_ERROR)


def test_zero_length_handshake_record_protected(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    expect_failure(pair.server, sealed(pair.client, HANDSHAKE, b""), DecodeError, AlertDescription.DECODE_ERROR,
                   peer=pair.client)


@pytest.mark.parametrize("payload", [b"", b"\x02", b"\x01\x00\x00", b"\x02\x28\x00\x00"])
def test_bad_alert_record_length(server_config: ServerConfig, payload: bytes) -> None:
    server = ServerConnection(server_config)
    expect_failure(server, record(ALERT, payload, TLS10), DecodeError, AlertDescription.DECODE_ERROR)


@pytest.mark.parametrize("payload", [b"", b"\x01\x00\x00"])
def test_bad_alert_record_length_protected(
    client_config: ClientConfig, server_config: ServerConfig, payload: bytes
) -> None:
    pair = established(client_config, server_config)
    expect_failure(pair.server, sealed(pair.client, ALERT, payload), DecodeError, AlertDescription.DECODE_ERROR,
                   peer=pair.client)


@pytest.mark.parametrize("payload", [b"\x02", b"\x01\x01", b"\x00", b""])
def test_bad_change_cipher_spec(client_config: ClientConfig, server_config: ServerConfig, payload: bytes) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    f3 = raw_records(client.data_to_send())
    assert f3[1] == record(CCS, b"\x01")
    expect_failure(server, f3[0] + record(CCS, payload), DecodeError, AlertDescription.DECODE_ERROR)


def test_bad_change_cipher_spec_to_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    f4 = raw_records(deliver_ticket(client, server.data_to_send()))
    assert f4[0] == record(CCS, b"\x01")
    # The client already writes under its new keys: its alert is protected.
    expect_failure(client, record(CCS, b"\x02") + f4[1], DecodeError, AlertDescription.DECODE_ERROR, peer=server)


# -- fragmentation and coalescing -------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 100, 1000, MAX_PLAINTEXT])
def test_handshake_refragmented(client_config: ClientConfig, server_config: ServerConfig, size: int) -> None:
    """Every plaintext handshake flight re-cut into records of `size` bytes: the handshake completes.

    size=1 is one byte per record; MAX_PLAINTEXT coalesces each flight into one record."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    f1 = refragment(client.data_to_send(), size)
    assert feed_all(server, f1) == []
    f2 = refragment(server.data_to_send(), size)
    if size == MAX_PLAINTEXT:
        assert len(f2) == 1  # ServerHello, Certificate, ServerKeyExchange and ServerHelloDone in one record
    if size == 1:
        assert all(len(r) == 6 for r in f2)
    assert feed_all(client, f2) == []
    f3 = refragment(client.data_to_send(), size)  # ClientKeyExchange re-cut; CCS and Finished untouched
    assert feed_all(server, f3) == [HandshakeComplete()]
    assert feed_all(client, [server.data_to_send()]) == [HandshakeComplete()]
    client.send_application_data(b"fragmented")
    assert server.receive_data(client.data_to_send()) == [ApplicationDataReceived(b"fragmented")]


def test_coalesced_flights_in_one_call(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """A whole flight coalesced in one record, delivered in one receive_data call with the next data."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    [f2] = refragment(server.data_to_send(), MAX_PLAINTEXT)
    assert client.receive_data(f2) == []
    assert server.receive_data(client.data_to_send()) == [HandshakeComplete()]
    server.send_application_data(b"early")
    # Finished and the first application data arrive together.
    assert client.receive_data(server.data_to_send()) == [HandshakeComplete(), ApplicationDataReceived(b"early")]


def test_byte_at_a_time_transport(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Each receive_data call gets a single byte (TCP may split anywhere)."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)

    def trickle(conn: ClientConnection | ServerConnection, data: bytes) -> list[Event]:
        return feed_all(conn, [data[i : i + 1] for i in range(len(data))])

    assert trickle(server, client.data_to_send()) == []
    assert trickle(client, server.data_to_send()) == []
    assert trickle(server, client.data_to_send()) == [HandshakeComplete()]
    assert trickle(client, server.data_to_send()) == [HandshakeComplete()]
    server.send_application_data(b"xyz")
    assert trickle(client, server.data_to_send()) == [ApplicationDataReceived(b"xyz")]


def test_handshake_split_across_protected_records(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """The client's Finished, fragmented over two protected records, still verifies."""
    keys = KeyTracer()
    client = ClientConnection(client_config, server_name="localhost", tracer=keys)
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    f3 = split_records(client.data_to_send())
    finished = keys.cipher("client").open(*f3[2])
    cipher = keys.cipher("client")
    data = record(HANDSHAKE, f3[0][2]) + record(CCS, b"\x01") + cipher.seal(HANDSHAKE, finished[:5]) \
        + cipher.seal(HANDSHAKE, finished[5:])
    assert server.receive_data(data) == [HandshakeComplete()]


def test_application_data_inside_fragmented_handshake(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    keys = KeyTracer()
    client = ClientConnection(client_config, server_name="localhost", tracer=keys)
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    f3 = split_records(client.data_to_send())
    finished = keys.cipher("client").open(*f3[2])
    cipher = keys.cipher("client")
    data = record(HANDSHAKE, f3[0][2]) + record(CCS, b"\x01") + cipher.seal(HANDSHAKE, finished[:5]) \
        + cipher.seal(APPDATA, b"sneaky")
    expect_failure(server, data, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_ccs_inside_fragmented_handshake(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    f3 = split_records(client.data_to_send())
    cke = f3[0][2]
    data = record(HANDSHAKE, cke[:10]) + record(CCS, b"\x01") + record(HANDSHAKE, cke[10:])
    expect_failure(server, data, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


# -- handshake message sizes ------------------------------------------------------------------------
#
# Every message tls12 may receive has a largest legal size derived from its RFC structure, checked
# on its 4-byte header before the body is buffered; a larger declared length cannot be a
# well-formed message of that type, so it is decode_error (RFC 5246 §7.2.2: "the length of the
# message was incorrect"). Only the Certificate chain has no structural bound worth the name
# (2^24-1): its limit is configurable (max_certificate_size, 64 KiB by default), and a chain over it
# is well-formed but refused by policy: illegal_parameter, as OpenSSL and BoringSSL send for an
# excessive message size.

#: The largest ClientHello: version 2, random 32, session_id<0..32> 1+32,
#: cipher_suites<2..2^16-2> 2+65534, compression_methods<1..2^8-1> 1+255, extensions<0..2^16-1> 2+65535.
LARGEST_CLIENT_HELLO = 2 + 32 + 33 + 2 + 65534 + 1 + 255 + 2 + 65535


def hs_header(msg_type: int, length: int) -> bytes:
    return bytes((msg_type,)) + length.to_bytes(3, "big")


def test_largest_client_hello_constant() -> None:
    assert LARGEST_CLIENT_HELLO == 131_396


def test_client_hello_over_the_largest_legal_size(server_config: ServerConfig) -> None:
    server = ServerConnection(server_config)
    # A ClientHello header declaring one byte more than the largest legal one; no body follows.
    expect_failure(server, record(HANDSHAKE, hs_header(1, LARGEST_CLIENT_HELLO + 1), TLS10), DecodeError,
                   AlertDescription.DECODE_ERROR, version=TLS12)


def test_oversized_client_hello_header_split_across_records(server_config: ServerConfig) -> None:
    server = ServerConnection(server_config)
    head = hs_header(1, LARGEST_CLIENT_HELLO + 1)
    assert server.receive_data(record(HANDSHAKE, head[:2], TLS10)) == []
    expect_failure(server, record(HANDSHAKE, head[2:], TLS10), DecodeError, AlertDescription.DECODE_ERROR)


def test_client_hello_at_the_largest_legal_size_is_buffered(server_config: ServerConfig) -> None:
    """Whatever the certificate limit: a ClientHello is never refused for its size."""
    for config in (server_config, dataclasses.replace(server_config, max_certificate_size=1024)):
        server = ServerConnection(config)
        assert server.receive_data(record(HANDSHAKE, hs_header(1, LARGEST_CLIENT_HELLO), TLS10)) == []
        assert server.failure is None


@pytest.mark.parametrize(
    ("before", "msg_type", "largest"),
    [
        # ServerHello: version 2, random 32, session_id 1+32, suite 2, compression 1, extensions 2+65535.
        pytest.param(0, 2, 2 + 32 + 33 + 2 + 1 + 2 + 65535, id="ServerHello"),
        # ServerKeyExchange: its largest form, DHE's (RFC 5246 §7.4.3): dh_p, dh_g and dh_Ys of up to
        # 8192 bits (1024 bytes, the largest prime tls12 accepts) with their 2-byte lengths, then
        # DigitallySigned: scheme 2, signature<0..2^16-1> 2+65535. (ECDHE's: 1 + 2 + 256 + 2 + 2 + 65535.)
        pytest.param(2, 12, 3 * (2 + 1024) + 2 + 2 + 65535, id="ServerKeyExchange"),
        # CertificateRequest: types<1..2^8-1> 1+255, schemes<2..2^16-2> 2+65534, CAs<0..2^16-1> 2+65535.
        pytest.param(3, 13, 256 + 2 + 65534 + 2 + 65535, id="CertificateRequest"),
    ],
)
def test_largest_message_of_each_type_to_client(
    client_config: ClientConfig, server_config: ServerConfig, before: int, msg_type: int, largest: int
) -> None:
    def client_in_state() -> ClientConnection:
        client = ClientConnection(client_config, server_name="localhost")
        server = ServerConnection(server_config)
        server.receive_data(client.data_to_send())
        f2 = raw_records(server.data_to_send())
        if before:
            assert client.receive_data(b"".join(f2[:before])) == []
        return client

    client = client_in_state()
    assert client.receive_data(record(HANDSHAKE, hs_header(msg_type, largest))) == []
    assert client.failure is None
    client = client_in_state()
    expect_failure(client, record(HANDSHAKE, hs_header(msg_type, largest + 1)), DecodeError,
                   AlertDescription.DECODE_ERROR, version=TLS10 if before == 0 else TLS12)


@pytest.mark.parametrize("length", [1, 2, 12, 2**24 - 1])
def test_server_hello_done_with_a_body_is_refused_at_the_header(
    client_config: ClientConfig, server_config: ServerConfig, length: int
) -> None:
    """ServerHelloDone is empty (§7.4.5): a header declaring any body is decode_error at once."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    f2 = raw_records(server.data_to_send())
    assert client.receive_data(b"".join(f2[:3])) == []
    expect_failure(client, record(HANDSHAKE, hs_header(14, length)), DecodeError, AlertDescription.DECODE_ERROR)


@pytest.mark.parametrize(("length", "ok"), [(256, True), (257, True), (2 + 65535, True), (2 + 65536, False),
                                           (2**24 - 1, False)])
def test_client_key_exchange_size(client_config: ClientConfig, server_config: ServerConfig, length: int,
                                  ok: bool) -> None:
    """ClientKeyExchange in its largest form: DHE's dh_Yc and static RSA's EncryptedPreMasterSecret are
    opaque<1..2^16-1> (RFC 5246 §7.4.7), at most 2 + 65535 bytes (ECDHE's ecdh_Yc<1..2^8-1>: 256)."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    data = record(HANDSHAKE, hs_header(16, length))
    if ok:
        assert server.receive_data(data) == [] and server.failure is None
    else:
        expect_failure(server, data, DecodeError, AlertDescription.DECODE_ERROR)


def test_default_max_certificate_size(client_config: ClientConfig, server_config: ServerConfig) -> None:
    assert client_config.max_certificate_size == 65536

    def client_after_server_hello() -> tuple[ClientConnection, bytes]:
        client = ClientConnection(client_config, server_name="localhost")
        server = ServerConnection(server_config)
        server.receive_data(client.data_to_send())
        f2 = raw_records(server.data_to_send())
        return client, f2[0]

    client, server_hello = client_after_server_hello()
    assert client.receive_data(server_hello + record(HANDSHAKE, hs_header(11, 65536))) == []
    client, server_hello = client_after_server_hello()
    expect_failure(client, server_hello + record(HANDSHAKE, hs_header(11, 65537)), IllegalParameter,
                   AlertDescription.ILLEGAL_PARAMETER)


def test_oversized_certificate_to_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    small = dataclasses.replace(client_config, max_certificate_size=1024)
    client = ClientConnection(small, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    f2 = raw_records(server.data_to_send())
    # The real Certificate (under 1 KiB) fits; a Certificate header declaring 2000 bytes does not.
    assert len(f2[1]) - 9 < 1024
    expect_failure(client, f2[0] + record(HANDSHAKE, b"\x0b\x00\x07\xd0"), IllegalParameter,
                   AlertDescription.ILLEGAL_PARAMETER)


def test_max_handshake_size_is_the_old_name_of_max_certificate_size(client_config: ClientConfig) -> None:
    old = dataclasses.replace(client_config, max_handshake_size=2048)
    assert old.max_certificate_size == 2048
    assert ClientConfig(max_handshake_size=3000, use_system_trust=False).max_certificate_size == 3000
    new = dataclasses.replace(old, max_certificate_size=4096)
    assert new.max_certificate_size == 4096
    with pytest.raises(ValueError):
        dataclasses.replace(client_config, max_handshake_size=100)
    with pytest.raises(ValueError):
        dataclasses.replace(client_config, max_certificate_size=100)


# -- records that carry nothing ----------------------------------------------------------------------


def test_32_empty_application_data_records_are_fine(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    assert pair.server.receive_data(sealed(pair.client, APPDATA, b"", 32)) == []
    # Real data resets the count.
    assert pair.server.receive_data(sealed(pair.client, APPDATA, b"x")) == [ApplicationDataReceived(b"x")]
    assert pair.server.receive_data(sealed(pair.client, APPDATA, b"", 32)) == []
    assert pair.server.failure is None


def test_33_empty_application_data_records(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    assert pair.server.receive_data(sealed(pair.client, APPDATA, b"", 32)) == []
    expect_failure(pair.server, sealed(pair.client, APPDATA, b""), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE, peer=pair.client)


def test_33_empty_records_in_one_call(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    expect_failure(pair.server, sealed(pair.client, APPDATA, b"", 33), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE, peer=pair.client)


def test_32_warning_alerts_are_fine(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    events = pair.client.receive_data(sealed(pair.server, ALERT, b"\x01\x5a", 32))
    assert events == [AlertReceived(AlertLevel.WARNING, AlertDescription.USER_CANCELED)] * 32
    assert pair.client.failure is None


def test_33_warning_alerts(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    assert len(pair.client.receive_data(sealed(pair.server, ALERT, b"\x01\x5a", 32))) == 32
    expect_failure(pair.client, sealed(pair.server, ALERT, b"\x01\x5a"), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE, peer=pair.server)


def test_mixed_useless_records(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Empty data records and warning alerts share one count."""
    pair = established(client_config, server_config)
    data = sealed(pair.client, APPDATA, b"", 16) + sealed(pair.client, ALERT, b"\x01\x5a", 16)
    assert len(pair.server.receive_data(data)) == 16
    expect_failure(pair.server, sealed(pair.client, APPDATA, b""), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE, peer=pair.client)


# -- application data before the handshake completes ---------------------------------------------------


def test_application_data_before_client_hello(server_config: ServerConfig) -> None:
    server = ServerConnection(server_config)
    expect_failure(server, record(APPDATA, b"GET / HTTP/1.1\r\n", TLS10), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE)


def test_application_data_to_client_during_handshake(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    f2 = raw_records(server.data_to_send())
    expect_failure(client, f2[0] + record(APPDATA, b"HTTP/1.1 200 OK\r\n"), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE)


def test_protected_application_data_before_finished(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Application data sealed under the new keys but sent before the client's Finished."""
    keys = KeyTracer()
    client = ClientConnection(client_config, server_name="localhost", tracer=keys)
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    f3 = raw_records(client.data_to_send())
    early = keys.cipher("client").seal(APPDATA, b"too early")
    expect_failure(server, f3[0] + f3[1] + early, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


# -- sequence numbers ----------------------------------------------------------------------------------


def explicit_nonce(rec: bytes) -> int:
    return int.from_bytes(rec[5:13], "big")


def test_explicit_nonces_count_from_zero(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    f3 = client.data_to_send()
    assert explicit_nonce(raw_records(f3)[2]) == 0  # the client's Finished
    server.receive_data(f3)
    f4 = deliver_ticket(client, server.data_to_send())  # a plaintext NewSessionTicket first
    assert explicit_nonce(raw_records(f4)[1]) == 0  # the server's Finished
    client.receive_data(f4)
    client_nonces, server_nonces = [], []
    for i in range(5):
        client.send_application_data(b"c%d" % i)
        server.send_application_data(b"s%d" % i)
        [c] = raw_records(client.data_to_send())
        [s] = raw_records(server.data_to_send())
        client_nonces.append(explicit_nonce(c))
        server_nonces.append(explicit_nonce(s))
        assert server.receive_data(c) == [ApplicationDataReceived(b"c%d" % i)]
        assert client.receive_data(s) == [ApplicationDataReceived(b"s%d" % i)]
    assert client_nonces == [1, 2, 3, 4, 5]
    assert server_nonces == [1, 2, 3, 4, 5]
    client.close()
    [alert] = raw_records(client.data_to_send())
    assert explicit_nonce(alert) == 6


def test_replayed_record(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    pair.client.send_application_data(b"pay 100")
    data = pair.client.data_to_send()
    assert pair.server.receive_data(data) == [ApplicationDataReceived(b"pay 100")]
    expect_failure(pair.server, data, BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=pair.client)


def test_reordered_records(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    pair.client.send_application_data(b"first")
    first = pair.client.data_to_send()
    pair.client.send_application_data(b"second")
    second = pair.client.data_to_send()
    expect_failure(pair.server, second + first, BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=pair.client)


def test_dropped_record(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    pair.client.send_application_data(b"first")
    pair.client.data_to_send()
    pair.client.send_application_data(b"second")
    expect_failure(pair.server, pair.client.data_to_send(), BadRecordMac, AlertDescription.BAD_RECORD_MAC,
                   peer=pair.client)


def test_explicit_nonce_is_not_trusted(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """A record sealed (and labelled) with sequence number 2 when 1 is due: the receiver's own count
    goes into the nonce and the additional data, so skipping ahead fails."""
    pair = established(client_config, server_config)
    skipped = pair.keys.cipher("client", seq=2).seal(APPDATA, b"skipped ahead")
    expect_failure(pair.server, skipped, BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=pair.client)


def test_data_before_failure_is_delivered(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Authentic data in the same call as a bad record is delivered; the next call raises."""
    pair = established(client_config, server_config)
    pair.client.send_application_data(b"good")
    good = pair.client.data_to_send()
    pair.client.send_application_data(b"bad")
    bad = bytearray(pair.client.data_to_send())
    bad[-1] ^= 1
    assert pair.server.receive_data(good + bytes(bad)) == [ApplicationDataReceived(b"good")]
    assert isinstance(pair.server.failure, BadRecordMac)
    with pytest.raises(BadRecordMac):
        pair.server.receive_data(b"")
    with pytest.raises(AlertReceivedError) as info:
        pair.client.receive_data(pair.server.data_to_send())
    assert info.value.description == AlertDescription.BAD_RECORD_MAC


def test_record_aead_sequence_exhaustion() -> None:
    key, salt = bytes(range(32)), b"salt"
    sender = GCMRecordAEAD(key, salt)
    sender.seq = 2**64 - 1
    last = sender.seal(APPDATA, b"last")
    assert explicit_nonce(last) == 2**64 - 1
    with pytest.raises(SequenceExhausted) as info:
        sender.seal(APPDATA, b"one more")
    assert isinstance(info.value, TLSError)
    # Never wraps: still exhausted, and no record with nonce 0 was made.
    with pytest.raises(SequenceExhausted):
        sender.seal(APPDATA, b"and another")
    assert sender.seq >= 2**64 - 1

    receiver = GCMRecordAEAD(key, salt)
    receiver.seq = 2**64 - 1
    assert receiver.open(APPDATA, TLS12, last[5:]) == b"last"
    with pytest.raises(SequenceExhausted):
        receiver.open(APPDATA, TLS12, last[5:])


def test_record_aead_nonce_is_the_sequence_number() -> None:
    sender = GCMRecordAEAD(bytes(32), bytes(4))
    records = [sender.seal(APPDATA, b"x") for _ in range(3)]
    assert [r[5:13] for r in records] == [i.to_bytes(8, "big") for i in range(3)]
    # A fresh receiver accepts them in order only.
    receiver = GCMRecordAEAD(bytes(32), bytes(4))
    with pytest.raises(BadRecordMac):
        receiver.open(APPDATA, TLS12, records[1][5:])


def test_sequence_exhaustion_on_a_connection(client_config: ClientConfig, server_config: ServerConfig) -> None:
    pair = established(client_config, server_config)
    pair.client._records.write_cipher.seq = 2**64 - 1  # type: ignore[union-attr]
    pair.client.send_application_data(b"last")
    assert explicit_nonce(pair.client.data_to_send()) == 2**64 - 1
    with pytest.raises(TLSError):
        pair.client.send_application_data(b"wraps?")
    assert all(explicit_nonce(r) != 0 for r in raw_records(pair.client.data_to_send()))



# -- one set of record rules, however the bytes are cut ---------------------------------------------


def untraced_pair(client_config: ClientConfig, server_config: ServerConfig) -> tuple[ClientConnection,
                                                                                     ServerConnection]:
    """An established pair with no tracer: application data takes the short receive path."""
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
    return client, server


@pytest.mark.parametrize("cut", [None, 1, 3, 5, 6, 9])
def test_application_data_inside_fragmented_handshake_however_cut(
    client_config: ClientConfig, server_config: ServerConfig, cut: int | None
) -> None:
    """After the handshake: a protected handshake record holding the first bytes of a HelloRequest,
    then an application-data record. Refused the same whether the bytes come in one call or the
    first call ends inside the handshake record (its header or its body)."""
    client, server = untraced_pair(client_config, server_config)
    fragment = sealed(server, HANDSHAKE, encode_handshake(HelloRequest())[:2])
    data = fragment + sealed(server, APPDATA, b"interleaved")
    if cut is not None:
        assert cut < len(fragment)
        assert client.receive_data(data[:cut]) == []
        data = data[cut:]
    expect_failure(client, data, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE, peer=server)


def test_fragmented_hello_request_after_the_handshake_is_still_refused_politely(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """A HelloRequest cut into four one-byte records: 3 records that carry nothing, then the
    message; well under the limit, so it is refused with a warning and the connection goes on."""
    client, server = untraced_pair(client_config, server_config)
    frame_ = encode_handshake(HelloRequest())
    data = b"".join(sealed(server, HANDSHAKE, frame_[i : i + 1]) for i in range(4))
    assert client.receive_data(data) == []
    assert server.receive_data(client.data_to_send()) == [
        AlertReceived(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)]
    server.send_application_data(b"still here")
    assert client.receive_data(server.data_to_send()) == [ApplicationDataReceived(b"still here")]


def test_60000_one_byte_handshake_fragments_after_the_handshake(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """docs/SECURITY.md: at most 32 records in a row that carry nothing. One-byte fragments of a
    handshake message after the handshake are such records: the 33rd ends the connection."""
    client, server = untraced_pair(client_config, server_config)
    hello = ClientConnection(client_config, server_name="localhost").data_to_send()[5:]
    big = hello[:1] + (60_000).to_bytes(3, "big") + bytes(60_000)
    data = b"".join(sealed(client, HANDSHAKE, big[i : i + 1]) for i in range(60_000))
    with pytest.raises(UnexpectedMessage):
        server.receive_data(data)
    assert server.failure is not None
    with pytest.raises(AlertReceivedError) as info:
        client.receive_data(server.data_to_send())
    assert info.value.description == AlertDescription.UNEXPECTED_MESSAGE


# -- how much a reader may take from the transport ------------------------------------------------

MIXED_SIZES = [MAX_PLAINTEXT, 1, 300, MAX_PLAINTEXT - 1, 5000, 1, MAX_PLAINTEXT, 0, 2 * MAX_PLAINTEXT + 7] * 3


@pytest.mark.parametrize("sizes", [[MAX_PLAINTEXT] * 9, [1] * 40, [1000] * 30, MIXED_SIZES],
                         ids=["full", "tiny", "1000", "mixed"])
@pytest.mark.parametrize("wanted", [1, 1000, 2500, MAX_PLAINTEXT - 1, MAX_PLAINTEXT, MAX_PLAINTEXT + 1, 65536, 100_000])
def test_receive_size_completes_no_more_data_than_wanted(
    client_config: ClientConfig, server_config: ServerConfig, sizes: list[int], wanted: int
) -> None:
    """A reader that takes receive_size(wanted) bytes at a time from the transport is given, by
    the records each read completes, at most `wanted` bytes (none is decrypted and held back where
    select() cannot see it), unless the read completes just the one record under way (a record
    longer than `wanted`, as OpenSSL's reads leave the rest of it pending too); and it gets every
    byte in the end (a read never falls short of the record under way)."""
    pair = established(client_config, server_config)
    expected = bytearray()
    for i, size in enumerate(sizes):
        data = bytes([i % 251]) * size
        pair.client.send_application_data(data)
        expected += data
    stream = pair.client.data_to_send()
    got = bytearray()
    pos = 0
    while pos < len(stream):
        size = pair.server.receive_size(wanted)
        events = pair.server.receive_data(stream[pos : pos + size])
        pos += size
        records = [e.data for e in events if isinstance(e, ApplicationDataReceived)]
        delivered = b"".join(records)
        assert len(delivered) <= wanted or len(records) == 1
        got += delivered
    assert got == expected


def test_bulk_reads_end_on_record_boundaries(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Full-size records read 64 KiB of data at a time: each read is four whole records."""
    pair = established(client_config, server_config)
    pair.client.send_application_data(bytes(12 * MAX_PLAINTEXT))
    stream = pair.client.data_to_send()
    four = 4 * len(stream) // 12
    for start in range(0, len(stream), four):
        assert pair.server.receive_size(65536) == four
        events = pair.server.receive_data(stream[start : start + four])
        assert [len(e.data) for e in events if isinstance(e, ApplicationDataReceived)] == [MAX_PLAINTEXT] * 4
