"""Adversarial conversations at the record layer: every bit of a protected record, short and
empty records of each type, explicit nonces, interleaved alerts, a long connection's nonces, the
sequence-number limit, and output amplification.

test_records.py already covers content types, record versions, overflow, fragmentation,
coalescing, replay, reordering and the runs of empty records; this file adds what it does not.
"""

from __future__ import annotations

import contextlib
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from test_adversarial_support import expect_failure
from tls12 import (
    AlertDescription,
    AlertLevel,
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
    TruncatedConnection,
    UnexpectedMessage,
)
from tls12.errors import SequenceExhausted
from tls12.messages import HelloRequest, encode_handshake

from record_support import (
    ALERT,
    APPDATA,
    CCS,
    HANDSHAKE,
    TLS10,
    TLS12,
    established,
    flip,
    raw_records,
    record,
    sealed,
    split_records,
    start,
    to_flight2,
    to_flight3,
)

MAX_CIPHERTEXT = 2**14 + 2048
VALID_TYPES = (CCS, ALERT, HANDSHAKE, APPDATA)

# -- every bit of a protected record -------------------------------------------------------------


def _expected_for_header_flip(byte: int, mask: int, rec: bytes) -> tuple[type[TLSError] | None, AlertDescription]:
    """What flipping one header bit of a protected application-data record must give."""
    flipped = flip(rec, byte, mask)
    content_type, _version, length = struct.unpack_from(">BHH", flipped)
    if byte == 0:
        if content_type in VALID_TYPES:  # another valid type: the type is in the additional data
            return BadRecordMac, AlertDescription.BAD_RECORD_MAC
        return UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE
    if byte in (1, 2):
        return ProtocolVersionError, AlertDescription.PROTOCOL_VERSION
    if length > MAX_CIPHERTEXT:
        return RecordOverflow, AlertDescription.RECORD_OVERFLOW
    if length > len(rec) - 5:
        return None, AlertDescription.CLOSE_NOTIFY  # waits for the rest: a truncation at EOF
    return BadRecordMac, AlertDescription.BAD_RECORD_MAC


def test_every_bit_of_a_protected_record(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Each of the 248 bits of a protected record carrying b"hi" flipped, on a fresh connection:
    header bits give the alert their field calls for; any nonce, ciphertext or tag bit is
    bad_record_mac; a longer length waits, and EOF then reports truncation, sending nothing."""
    hs = established(client_config, server_config)
    hs.client.send_application_data(b"hi")
    original = hs.client.data_to_send()
    assert len(original) == 5 + 8 + 2 + 16
    for bit in range(len(original) * 8):
        byte, mask = bit // 8, 1 << (bit % 8)
        pair = established(client_config, server_config)
        pair.client.send_application_data(b"hi")
        rec = pair.client.data_to_send()
        if byte >= 5:
            expect_failure(pair.server, flip(rec, byte, mask), BadRecordMac, AlertDescription.BAD_RECORD_MAC,
                           peer=pair.client)
            continue
        error, alert = _expected_for_header_flip(byte, mask, rec)
        if error is None:
            assert pair.server.receive_data(flip(rec, byte, mask)) == []
            with pytest.raises(TruncatedConnection):
                pair.server.receive_data(b"")
            assert pair.server.data_to_send() == b""
        else:
            expect_failure(pair.server, flip(rec, byte, mask), error, alert, peer=pair.client)


# -- short and empty records ----------------------------------------------------------------------


@pytest.mark.parametrize("content_type", VALID_TYPES)
@pytest.mark.parametrize("length", [0, 1, 8, 9, 23, 24])
def test_protected_record_too_short_or_unauthentic(
    client_config: ClientConfig, server_config: ServerConfig, content_type: int, length: int
) -> None:
    """Bodies shorter than nonce + tag (24 bytes), and a 24-byte body of zeros (an empty plaintext
    with a wrong tag), of every content type: bad_record_mac, never a decode of garbage."""
    hs = established(client_config, server_config)
    expect_failure(hs.server, record(content_type, bytes(length)), BadRecordMac, AlertDescription.BAD_RECORD_MAC,
                   peer=hs.client)


def test_zero_length_ccs_protected(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """After the handshake a ChangeCipherSpec is not expected, whatever its body: unexpected_message
    (the empty body is not even read; test_zero_length_ccs_where_one_is_expected reads one)."""
    hs = established(client_config, server_config)
    expect_failure(hs.server, sealed(hs.client, CCS, b""), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE,
                   peer=hs.client)


def test_zero_length_ccs_where_one_is_expected(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Where a ChangeCipherSpec is expected (the server after the ClientKeyExchange), an empty
    one is malformed: decode_error."""
    hs = start(client_config, server_config)
    f3 = split_records(to_flight3(hs))
    assert f3[0][0] == HANDSHAKE and f3[1][0] == CCS
    assert hs.server.receive_data(record(*f3[0][::2])) == []
    expect_failure(hs.server, record(CCS, b""), DecodeError, AlertDescription.DECODE_ERROR)


@pytest.mark.parametrize(
    ("content_type", "error", "alert"),
    [(CCS, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE), (APPDATA, UnexpectedMessage,
                                                                     AlertDescription.UNEXPECTED_MESSAGE)],
)
def test_zero_length_plaintext_record_to_server(
    server_config: ServerConfig, content_type: int, error: type[TLSError], alert: AlertDescription
) -> None:
    """Before the ClientHello: a CCS (empty or not) is not expected; empty application data is
    still data before the handshake. (Empty handshake and alert records: test_records.py.)"""
    expect_failure(ServerConnection(server_config), record(content_type, b"", TLS10), error, alert)


@pytest.mark.parametrize(
    ("content_type", "error", "alert"),
    [(HANDSHAKE, DecodeError, AlertDescription.DECODE_ERROR), (ALERT, DecodeError, AlertDescription.DECODE_ERROR),
     (CCS, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE),
     (APPDATA, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)],
)
def test_zero_length_plaintext_record_to_client(
    client_config: ClientConfig, content_type: int, error: type[TLSError], alert: AlertDescription
) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    client.data_to_send()
    expect_failure(client, record(content_type, b""), error, alert, version=TLS10)


# -- the explicit nonce -----------------------------------------------------------------------------


def _seal_with_explicit(key: bytes, salt: bytes, seq: int, explicit: bytes, content_type: int,
                        plaintext: bytes) -> bytes:
    aad = struct.pack(">QBHH", seq, content_type, TLS12, len(plaintext))
    body = explicit + AESGCM(key).encrypt(salt + explicit, plaintext, aad)
    return record(content_type, body)


def test_authentic_record_with_another_explicit_nonce_is_accepted(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """RFC 5288 §3: the sender chooses nonce_explicit (the sequence number is only a MAY), and the
    receiver uses it as sent; the sequence number stays in the additional data. A peer with
    random explicit nonces is accepted, and a replay of its record is still refused."""
    hs = established(client_config, server_config)
    key, salt = hs.client_keys.secrets["client_write_key"], hs.client_keys.secrets["client_write_IV"]
    rec = _seal_with_explicit(key, salt, 1, os.urandom(8), APPDATA, b"random nonce")
    assert hs.server.receive_data(rec) == [ApplicationDataReceived(b"random nonce")]
    # The same bytes again: the sequence number moved on, the tag no longer matches.
    expect_failure(hs.server, rec, BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=hs.client)


def test_explicit_nonce_with_the_wrong_sequence_number(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """A record sealed for sequence number 0 (the Finished's) but carrying nonce 1: the receiver's
    own count (1) goes into the additional data, so it fails whatever the explicit nonce says."""
    hs = established(client_config, server_config)
    key, salt = hs.client_keys.secrets["client_write_key"], hs.client_keys.secrets["client_write_IV"]
    rec = _seal_with_explicit(key, salt, 0, (1).to_bytes(8, "big"), APPDATA, b"stale")
    expect_failure(hs.server, rec, BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=hs.client)


# -- interleaved alerts ---------------------------------------------------------------------------


def test_warning_alert_between_handshake_fragments(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """RFC 5246 §6.2.1: records of different types may be interleaved. A warning alert in the
    middle of the server's Certificate is reported and the handshake goes on."""
    hs = start(client_config, server_config)
    f2 = raw_records(to_flight2(hs))
    cert = f2[1][5:]
    data = f2[0] + record(HANDSHAKE, cert[:100]) + record(ALERT, b"\x01\x5a") + record(HANDSHAKE, cert[100:])
    events = hs.client.receive_data(data + f2[2] + f2[3])
    assert events == [AlertReceived(AlertLevel.WARNING, AlertDescription.USER_CANCELED)]
    assert hs.server.receive_data(hs.client.data_to_send()) == [HandshakeComplete()]
    assert hs.client.receive_data(hs.server.data_to_send()) == [HandshakeComplete()]


def test_fatal_alert_between_handshake_fragments(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """A fatal alert ends the connection wherever it comes; nothing is sent back (RFC 5246 §7.2)."""
    hs = start(client_config, server_config)
    f2 = raw_records(to_flight2(hs))
    cert = f2[1][5:]
    with pytest.raises(AlertReceivedError) as info:
        hs.client.receive_data(f2[0] + record(HANDSHAKE, cert[:100]) + record(ALERT, b"\x02\x28"))
    assert info.value.description == AlertDescription.HANDSHAKE_FAILURE
    assert hs.client.data_to_send() == b""
    with pytest.raises(AlertReceivedError):
        hs.client.receive_data(record(HANDSHAKE, cert[100:]))


def test_warning_alerts_interleaved_with_data(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = established(client_config, server_config)
    data = sealed(hs.server, APPDATA, b"one") + sealed(hs.server, ALERT, b"\x01\xfe") + sealed(hs.server, APPDATA,
                                                                                               b"two")
    assert hs.client.receive_data(data) == [
        ApplicationDataReceived(b"one"),
        AlertReceived(AlertLevel.WARNING, AlertDescription(0xFE)),
        ApplicationDataReceived(b"two"),
    ]


@pytest.mark.parametrize("level", [0, 3, 255])
def test_alert_with_an_invalid_level(client_config: ClientConfig, server_config: ServerConfig, level: int) -> None:
    hs = established(client_config, server_config)
    expect_failure(hs.client, sealed(hs.server, ALERT, bytes((level, 0))), IllegalParameter,
                   AlertDescription.ILLEGAL_PARAMETER, peer=hs.server)


# -- a long connection: the explicit nonce never repeats ---------------------------------------------


def test_explicit_nonce_never_repeats_over_a_long_connection(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """3,000 records each way (small writes and 48 KiB writes split into 16 KiB records): every
    explicit nonce is new, in order, and the two directions never share a (key, nonce) pair."""
    hs = established(client_config, server_config)
    secrets = hs.client_keys.secrets
    assert secrets["client_write_key"] != secrets["server_write_key"]
    assert secrets["client_write_IV"] != secrets["server_write_IV"]
    for sender, receiver in ((hs.client, hs.server), (hs.server, hs.client)):
        nonces: list[int] = []
        received = bytearray()
        sent = bytearray()
        for i in range(2990):
            payload = bytes((i % 256,)) * (1 + i % 50)
            sender.send_application_data(payload)
            sent += payload
        sender.send_application_data(b"L" * (3 * 2**14))
        sent += b"L" * (3 * 2**14)
        out = sender.data_to_send()
        for _, _, body in split_records(out):
            nonces.append(int.from_bytes(body[:8], "big"))
        for event in receiver.receive_data(out):
            assert isinstance(event, ApplicationDataReceived)
            received += event.data
        assert received == sent
        assert nonces == list(range(1, 1 + len(nonces)))  # 0 was the Finished
        assert len(nonces) == 2993


# -- the sequence-number limit ---------------------------------------------------------------------


def test_read_sequence_limit_ends_the_connection(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """The record numbered 2^64 - 1 is the last one read; the next fails the connection (no wrap to
    0: a record sealed for sequence number 0 is never accepted either)."""
    hs = established(client_config, server_config)
    last = 2**64 - 1
    hs.server._records.read_cipher.seq = last  # type: ignore[union-attr]
    assert hs.server.receive_data(hs.client_keys.cipher("client", seq=last).seal(APPDATA, b"last")) == [
        ApplicationDataReceived(b"last")]
    wrapped = hs.client_keys.cipher("client", seq=0).seal(APPDATA, b"wrapped")
    with pytest.raises(SequenceExhausted) as info:
        hs.server.receive_data(wrapped)
    assert hs.server.failure is info.value
    assert hs.server.closed
    assert info.value.alert == AlertDescription.INTERNAL_ERROR
    out = split_records(hs.server.data_to_send())
    assert [t for t, _, _ in out] == [ALERT]


def test_write_sequence_limit_closes_the_connection(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """RFC 5246 §6.1: a sequence number must not wrap; tls12 cannot renegotiate, so the connection
    must end. After the last record, the connection is failed for good: the error sticks,
    close() and receive_data() do not raise anything new, and no record ever reuses nonce 0."""
    hs = established(client_config, server_config)
    hs.client._records.write_cipher.seq = 2**64 - 1  # type: ignore[union-attr]
    hs.client.send_application_data(b"last")
    assert raw_records(hs.client.data_to_send())[0][5:13] == b"\xff" * 8
    with pytest.raises(SequenceExhausted) as info:
        hs.client.send_application_data(b"one too many")
    assert hs.client.data_to_send() == b""
    assert hs.client.failure is info.value
    assert hs.client.closed
    hs.client.close()  # must not raise: closing a failed connection does nothing
    with pytest.raises(SequenceExhausted):
        hs.client.receive_data(b"")
    assert hs.client.data_to_send() == b""


# -- output amplification ---------------------------------------------------------------------------


def test_coalesced_hello_requests_do_not_amplify(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """One 16 KiB protected record can hold 4,096 HelloRequests. Answering each with its own
    no_renegotiation alert (31 bytes) would send back 8 times what came in and seal 4,096 records.
    The answer to one record must stay small: at most MAX_USELESS_RECORDS (32) refusals, then the
    connection is cut off like any other run of records that carry nothing."""
    hs = established(client_config, server_config)
    flood = sealed(hs.server, HANDSHAKE, encode_handshake(HelloRequest()) * 4096)
    assert len(flood) < 2**14 + 100
    with contextlib.suppress(UnexpectedMessage):
        hs.client.receive_data(flood)
    answer = hs.client.data_to_send()
    assert len(answer) <= 33 * 31, f"{len(flood)} bytes in, {len(answer)} bytes out"
