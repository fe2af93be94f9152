"""Adversarial conversations about the handshake: duplicated, reflected and tampered messages,
Finished forgery bit by bit, renegotiation, SSLv2 and fallback signals.

What test_negative.py, test_state_matrix.py and test_policy.py already prove (skipped messages,
early ChangeCipherSpec, every state against every message kind, refused renegotiation) is not
repeated here; docs/SECURITY.md maps each attack to its tests.
"""

from __future__ import annotations

import dataclasses

import pytest

from test_adversarial_support import expect_failure, server_answers
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
    DecryptError,
    HandshakeComplete,
    ProtocolVersionError,
    ServerConfig,
    ServerConnection,
    UnexpectedMessage,
)
from tls12.enums import CipherSuite, ExtensionType, HandshakeType, NamedGroup, ProtocolVersion
from tls12.messages import (
    ClientHello,
    ExtendedMasterSecret,
    Finished,
    HandshakeMessage,
    HelloRequest,
    RenegotiationInfo,
    ServerHello,
    SessionTicket,
    SupportedGroups,
    SupportedVersions,
    UnknownExtension,
    encode_handshake,
)

from helpers import pump
from record_support import (
    ALERT,
    CCS,
    HANDSHAKE,
    PROTECTED_ALERT_LEN,
    SUITE,
    TLS10,
    TLS12,
    edit_flight,
    established,
    flip,
    frame,
    handshake_frames,
    hello_record,
    make_hello,
    parse,
    raw_records,
    record,
    sealed,
    split_records,
    start,
    to_flight2,
    to_flight3,
    to_flight4,
)

FALLBACK_SCSV = CipherSuite.TLS_FALLBACK_SCSV

# -- duplicated messages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "name"),
    [((0, 1, 2, 2, 3), "ServerKeyExchange twice"), ((0, 1, 2, 1, 3), "Certificate after ServerKeyExchange"),
     ((0, 2, 1, 3), "ServerKeyExchange before Certificate"), ((0, 1, 3, 2), "ServerHelloDone before SKE")],
)
def test_server_flight_duplicated_or_reordered(
    client_config: ClientConfig, server_config: ServerConfig, order: tuple[int, ...], name: str
) -> None:
    hs = start(client_config, server_config)
    f2 = raw_records(to_flight2(hs))
    expect_failure(hs.client, b"".join(f2[i] for i in order), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_server_hello_done_twice(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """The first ServerHelloDone makes the client answer (f3) and switch its write keys: the second
    one is unexpected_message, sent protected after the client's own flight."""
    hs = start(client_config, server_config)
    f2 = raw_records(to_flight2(hs))
    with pytest.raises(UnexpectedMessage) as info:
        hs.client.receive_data(b"".join(f2) + f2[3])
    assert info.value.alert == AlertDescription.UNEXPECTED_MESSAGE
    out = split_records(hs.client.data_to_send())
    assert [t for t, _, _ in out] == [HANDSHAKE, CCS, HANDSHAKE, ALERT]
    assert len(out[-1][2]) == PROTECTED_ALERT_LEN
    # The server, given the client's flight, reads the alert under the client's keys.
    with pytest.raises(AlertReceivedError) as received:
        hs.server.receive_data(b"".join(record(t, p, v) for t, v, p in out))
    assert received.value.description == AlertDescription.UNEXPECTED_MESSAGE
    assert not hs.client.handshake_complete


def test_client_key_exchange_twice(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    expect_failure(hs.server, f3[0] + f3[0] + f3[1] + f3[2], UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_change_cipher_spec_twice_to_server(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """After the first CCS the server reads protected records: a second plaintext CCS cannot be one."""
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    expect_failure(hs.server, f3[0] + f3[1] + f3[1] + f3[2], BadRecordMac, AlertDescription.BAD_RECORD_MAC)


def test_client_finished_twice(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """A second, authentic client Finished (sealed in sequence) after the handshake completed."""
    hs = established(client_config, server_config)
    again = sealed(hs.client, HANDSHAKE, encode_handshake(Finished(hs.client.client_finished)))
    expect_failure(hs.server, again, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE, peer=hs.client)


def test_server_finished_twice(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = established(client_config, server_config)
    again = sealed(hs.server, HANDSHAKE, encode_handshake(Finished(hs.server.server_finished)))
    expect_failure(hs.client, again, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE, peer=hs.server)


# -- reflection: a side's own messages sent back to it -----------------------------------------------


def test_client_hello_reflected_to_client(client_config: ClientConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    hello = client.data_to_send()
    expect_failure(client, hello, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE, version=TLS10)


def test_server_flight_reflected_to_server(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f2 = to_flight2(hs)
    expect_failure(hs.server, f2, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_client_flight_reflected_to_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """The client's ClientKeyExchange echoed back while it waits for the server's CCS."""
    hs = start(client_config, server_config)
    f3 = to_flight3(hs)
    assert hs.server.receive_data(f3) == [HandshakeComplete()]  # so the server can read the alert
    expect_failure(hs.client, f3, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE, peer=hs.server)


def test_server_finished_reflected_to_server(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Each direction has its own key: a Finished sealed with the server's write key (what the
    server itself would send), reflected after the client's CKE and CCS, is bad_record_mac."""
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    assert hs.server.receive_data(f3[0] + f3[1]) == []
    own = hs.server_keys.cipher("server").seal(HANDSHAKE, encode_handshake(Finished(hs.client.client_finished)))
    expect_failure(hs.server, own, BadRecordMac, AlertDescription.BAD_RECORD_MAC)


# -- the transcript binds everything (a MITM that edits hellos is caught by Finished) ----------------


def _edit_hello(data: bytes) -> bytes:
    def change(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, ClientHello)
        exts = tuple(
            SupportedGroups((NamedGroup.SECP256R1,)) if isinstance(e, SupportedGroups) else e
            for e in msg.extensions if not isinstance(e, ExtendedMasterSecret)
        )
        return dataclasses.replace(msg, extensions=exts)

    return edit_flight(data, HandshakeType.CLIENT_HELLO, change)


def test_mitm_edits_client_hello(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """A man in the middle strips extended_master_secret and narrows the groups to secp256r1. Each
    change is acceptable on its own, so the server and client go along, but the Finished messages
    cover the whole transcript: the server refuses the client's Finished (decrypt_error)."""
    hs = start(client_config, server_config)
    assert hs.server.receive_data(_edit_hello(hs.client.data_to_send())) == []
    assert hs.client.receive_data(hs.server.data_to_send()) == []
    assert hs.client.group == NamedGroup.SECP256R1 and not hs.client.extended_master_secret
    expect_failure(hs.server, hs.client.data_to_send(), DecryptError, AlertDescription.DECRYPT_ERROR)
    assert not hs.server.handshake_complete


def test_mitm_edits_server_hello(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Stripping the server's extended_master_secret answer (the ServerHello is not signed): the
    two sides derive different master secrets and the server refuses the client's Finished."""
    hs = start(client_config, server_config)
    f2 = to_flight2(hs)

    def strip(msg: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(msg, ServerHello)
        return dataclasses.replace(msg, extensions=tuple(e for e in msg.extensions
                                                         if not isinstance(e, ExtendedMasterSecret)))

    assert hs.client.receive_data(edit_flight(f2, HandshakeType.SERVER_HELLO, strip)) == []
    assert not hs.client.extended_master_secret and hs.server.extended_master_secret
    # The client's Finished is sealed under keys the server does not have.
    expect_failure(hs.server, hs.client.data_to_send(), BadRecordMac, AlertDescription.BAD_RECORD_MAC)


# -- Finished: every bit, every wrong length ------------------------------------------------------


def test_client_finished_every_bit_flipped(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Each of the 96 bits of the client's verify_data flipped, in an authentic record: decrypt_error."""
    for bit in range(96):
        hs = start(client_config, server_config)
        f3 = raw_records(to_flight3(hs))
        verify_data = flip(hs.client.client_finished, bit // 8, 1 << (bit % 8))
        forged = hs.client_keys.cipher("client").seal(HANDSHAKE, encode_handshake(Finished(verify_data)))
        expect_failure(hs.server, f3[0] + f3[1] + forged, DecryptError, AlertDescription.DECRYPT_ERROR)
        assert not hs.server.handshake_complete


def test_server_finished_every_bit_flipped(client_config: ClientConfig, server_config: ServerConfig) -> None:
    for bit in range(96):
        hs = start(client_config, server_config)
        f4 = raw_records(to_flight4(hs))
        verify_data = flip(hs.server.server_finished, bit // 8, 1 << (bit % 8))
        forged = hs.client_keys.cipher("server").seal(HANDSHAKE, encode_handshake(Finished(verify_data)))
        expect_failure(hs.client, f4[0] + forged, DecryptError, AlertDescription.DECRYPT_ERROR, peer=hs.server)
        assert not hs.client.handshake_complete


@pytest.mark.parametrize("length", [0, 1, 11, 13, 32, 48, 1000])
def test_client_finished_of_wrong_length(client_config: ClientConfig, server_config: ServerConfig,
                                         length: int) -> None:
    """verify_data is 12 bytes for this suite (RFC 5246 §7.4.9): any other length is decode_error,
    as OpenSSL (SSL_R_BAD_DIGEST_LENGTH) and Go send; the true value's prefix does not help."""
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    verify_data = (hs.client.client_finished * 100)[:length]
    forged = hs.client_keys.cipher("client").seal(HANDSHAKE, encode_handshake(Finished(verify_data)))
    expect_failure(hs.server, f3[0] + f3[1] + forged, DecodeError, AlertDescription.DECODE_ERROR)


@pytest.mark.parametrize("length", [0, 11, 13])
def test_server_finished_of_wrong_length(client_config: ClientConfig, server_config: ServerConfig,
                                         length: int) -> None:
    hs = start(client_config, server_config)
    f4 = raw_records(to_flight4(hs))
    verify_data = (hs.server.server_finished * 2)[:length]
    forged = hs.client_keys.cipher("server").seal(HANDSHAKE, encode_handshake(Finished(verify_data)))
    expect_failure(hs.client, f4[0] + forged, DecodeError, AlertDescription.DECODE_ERROR, peer=hs.server)


# -- renegotiation -------------------------------------------------------------------------------


def test_secure_renegotiation_attempt_is_refused(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """A renegotiation ClientHello done by the book (RFC 5746 §3.5: renegotiation_info carries the
    client's verify_data) is refused all the same: warning no_renegotiation, connection usable."""
    hs = established(client_config, server_config)
    hello = make_hello(extensions=[*(e for e in make_hello().extensions if not isinstance(e, RenegotiationInfo)),
                                   RenegotiationInfo(hs.client.client_finished)])
    assert hs.server.receive_data(sealed(hs.client, HANDSHAKE, encode_handshake(hello))) == []
    assert hs.client.receive_data(hs.server.data_to_send()) == [
        AlertReceived(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)]
    hs.client.send_application_data(b"still here")
    assert hs.server.receive_data(hs.client.data_to_send()) == [ApplicationDataReceived(b"still here")]


def test_plaintext_client_hello_after_handshake(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Renegotiation in the clear (the 2009 prefix attack's shape) is not even a valid record."""
    hs = established(client_config, server_config)
    expect_failure(hs.server, hello_record(make_hello())[:1] + b"\x03\x03" + hello_record(make_hello())[3:],
                   BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=hs.client)


def test_hello_request_with_a_body(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """HelloRequest is empty (§7.4.1.1): a body is decode_error, during the handshake too."""
    hs = start(client_config, server_config)
    f2 = raw_records(to_flight2(hs))
    expect_failure(hs.client, f2[0] + record(HANDSHAKE, frame(HandshakeType.HELLO_REQUEST, b"\x00")),
                   DecodeError, AlertDescription.DECODE_ERROR)


def test_flood_of_hello_requests_is_cut_off(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Each refused HelloRequest makes the client answer with an alert and carries no data. Like
    the other records that carry nothing (empty records, warnings: MAX_USELESS_RECORDS = 32), an
    endless run of them must end the connection instead of being answered forever."""
    hs = established(client_config, server_config)
    assert hs.client.receive_data(sealed(hs.server, HANDSHAKE, encode_handshake(HelloRequest()), 32)) == []
    assert hs.client.failure is None
    hs.client.data_to_send()
    with pytest.raises(UnexpectedMessage):
        hs.client.receive_data(sealed(hs.server, HANDSHAKE, encode_handshake(HelloRequest()), 100))


def test_flood_of_renegotiation_client_hellos_is_cut_off(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """The same for a server: each refused ClientHello is parsed (up to 131,396 bytes) and answered."""
    hs = established(client_config, server_config)
    hello = encode_handshake(make_hello())
    assert hs.server.receive_data(sealed(hs.client, HANDSHAKE, hello, 32)) == []
    assert hs.server.failure is None
    hs.server.data_to_send()
    with pytest.raises(UnexpectedMessage):
        hs.server.receive_data(sealed(hs.client, HANDSHAKE, hello, 100))


def test_refused_renegotiation_then_data_resets_the_count(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """The control for the floods: refusals separated by real data never end the connection."""
    hs = established(client_config, server_config)
    for _ in range(40):
        assert hs.client.receive_data(sealed(hs.server, HANDSHAKE, encode_handshake(HelloRequest()))) == []
        assert hs.client.receive_data(sealed(hs.server, 23, b"data")) == [ApplicationDataReceived(b"data")]
    assert hs.client.failure is None


# -- an SSLv2-format ClientHello -------------------------------------------------------------------

# RFC 5246 E.2: msg_length with the top bit set (0x80 0x28), msg_type 1, version 3.1, then
# cipher_specs (3-byte SSLv2 codes), session id and challenge.
SSLV2_HELLO = bytes.fromhex(
    "8028 01 0301 000f 0000 0010"
    "00c030 00c02f 000035 00002f 000005"
    "0123456789abcdef0123456789abcdef"
)


def test_sslv2_format_client_hello(server_config: ServerConfig) -> None:
    """tls12 never accepts the SSLv2 hello format (RFC 6176 prohibits SSL 2.0; RFC 5246 E.2 only
    lets servers accept it). The first byte 0x80 reads as record type 128, which RFC 5246 §6 says
    MUST get unexpected_message; that is the answer asserted here, as a TLS alert record. (Go names
    the case and sends protocol_version instead; both are fatal and neither speaks SSLv2 back.)
    The server decides from the first header, without waiting for the 40-byte body."""
    assert len(SSLV2_HELLO) == 2 + 0x28
    expect_failure(ServerConnection(server_config), SSLV2_HELLO[:5], UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE)
    expect_failure(ServerConnection(server_config), SSLV2_HELLO, UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE)


# -- TLS_FALLBACK_SCSV (RFC 7507) -----------------------------------------------------------------


def test_fallback_scsv_at_tls12_is_accepted(server_config: ServerConfig) -> None:
    """RFC 7507 §3: inappropriate_fallback only when the server supports a version higher than
    client_version. tls12's highest is TLS 1.2, so a TLS 1.2 hello with the SCSV (a client that
    fell back from TLS 1.3) is served normally, as OpenSSL, Go and BoringSSL do."""
    server_answers(server_config, hello_record(make_hello(suites=(SUITE, FALLBACK_SCSV))))
    server_answers(server_config, hello_record(make_hello(suites=(FALLBACK_SCSV, SUITE), extensions=[
        *make_hello().extensions, SupportedVersions((ProtocolVersion.TLS1_2,))])))


def test_fallback_scsv_below_tls12_is_protocol_version(server_config: ServerConfig) -> None:
    """A TLS 1.1 hello with the SCSV: RFC 7507 would call it inappropriate_fallback, but no TLS 1.1
    connection is possible at all here; like OpenSSL, Go and BoringSSL (version negotiation runs
    before the SCSV check) tls12 answers protocol_version."""
    server = ServerConnection(server_config)
    hello = hello_record(make_hello(version=0x0302, suites=(SUITE, FALLBACK_SCSV)))
    expect_failure(server, hello, ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)


def test_client_never_signals_fallback(client_config: ClientConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    [hello] = handshake_frames(client.data_to_send())
    msg = parse(hello)
    assert isinstance(msg, ClientHello)
    assert FALLBACK_SCSV not in msg.cipher_suites
    assert msg.client_version == ProtocolVersion.TLS1_2


# -- other connections are unharmed ----------------------------------------------------------------


def test_a_hostile_peer_does_not_harm_other_connections(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """Connections sharing one ServerConfig: one is fed garbage and fails; the others, before and
    after it on the same configuration, complete and exchange data."""
    before = start(client_config, server_config)
    assert before.server.receive_data(before.client.data_to_send()) == []
    hostile = ServerConnection(server_config)
    expect_failure(hostile, hello_record(b"\x03\x03" + bytes(10)), DecodeError, AlertDescription.DECODE_ERROR)
    hostile2 = ServerConnection(server_config)
    with pytest.raises(UnexpectedMessage):
        hostile2.receive_data(SSLV2_HELLO)
    after = start(client_config, server_config)
    for pair in (before, after):
        pump(pair.client, pair.server)
        assert pair.client.handshake_complete and pair.server.handshake_complete
        pair.client.send_application_data(b"fine")
        assert pair.server.receive_data(pair.client.data_to_send()) == [ApplicationDataReceived(b"fine")]


def test_unknown_extension_named_like_tls13_is_not_echoed(server_config: ServerConfig) -> None:
    """key_share, pre_shared_key and early_data offered to a TLS 1.2 server: ignored, never echoed,
    and the handshake proceeds (a TLS 1.3 client falling back must not be confused)."""
    hello = make_hello(extensions=[
        *make_hello().extensions,
        UnknownExtension(ExtensionType.KEY_SHARE, b"\x00\x24\x00\x1d\x00\x20" + bytes(range(32))),
        UnknownExtension(ExtensionType.EARLY_DATA, b""),
        UnknownExtension(ExtensionType.PSK_KEY_EXCHANGE_MODES, b"\x01\x01"),
        UnknownExtension(ExtensionType.PRE_SHARED_KEY, b"\x00\x0b\x00\x05abcde\x00\x00\x00\x00\x00\x21\x20"
                         + bytes(32)),
    ])
    sh = parse(server_answers(server_config, hello_record(hello))[0])
    assert isinstance(sh, ServerHello)
    types = {int(e.ext_type) for e in sh.extensions}
    assert not types & {ExtensionType.KEY_SHARE, ExtensionType.EARLY_DATA, ExtensionType.PRE_SHARED_KEY,
                        ExtensionType.PSK_KEY_EXCHANGE_MODES, ExtensionType.SUPPORTED_VERSIONS}
    assert sh.server_version == TLS12


# -- no resumption of what the server never made -------------------------------------------------


def test_resumption_attempt_gets_a_full_handshake(server_config: ServerConfig) -> None:
    """A ClientHello offering a session_id the server never issued and a ticket it cannot open gets
    a full handshake: its session_id is not echoed (the server promises a new ticket instead, the
    client having asked for one), so a forged resumption has nothing to resume
    (tests/test_resumption.py covers real ones)."""
    hello = make_hello(session_id=bytes(range(32)), extensions=[
        *make_hello().extensions, UnknownExtension(ExtensionType.SESSION_TICKET, bytes(range(64)))])
    flight = server_answers(server_config, hello_record(hello))
    sh = parse(flight[0])
    assert isinstance(sh, ServerHello)
    assert sh.session_id == b""
    assert SessionTicket() in sh.extensions
    assert [f[0] for f in flight] == [HandshakeType.SERVER_HELLO, HandshakeType.CERTIFICATE,
                                       HandshakeType.SERVER_KEY_EXCHANGE, HandshakeType.SERVER_HELLO_DONE]
