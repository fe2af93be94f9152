"""Negative tests: every failure raises the right TLSError *and* sends the right alert.

Malicious inputs are made by intercepting and editing real flights (f1 to f4 of a full
handshake, as record_support.py draws them) between our ClientConnection and ServerConnection.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tls12 import (
    AlertDescription,
    AlertReceivedError,
    ApplicationDataReceived,
    BadCertificate,
    BadRecordMac,
    CertificateExpired,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DecryptError,
    HandshakeComplete,
    HandshakeFailure,
    HostnameMismatch,
    ProtocolVersionError,
    ServerConfig,
    ServerConnection,
    TLSError,
    TruncatedConnection,
    UnexpectedMessage,
    UnknownCA,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.enums import CipherSuite, ContentType, HandshakeType, ProtocolVersion
from tls12.messages import Certificate, ClientHello, Finished, encode_handshake, parse_handshake

from helpers import pump
from record_support import (
    ALERT,
    CCS,
    HANDSHAKE,
    TLS10,
    TLS12,
    deliver_ticket,
    established,
    expect_failure,
    flip,
    plain_alert,
    raw_records,
    record,
    split_records,
    start,
    to_flight3,
    to_flight4,
)

# -- helpers ------------------------------------------------------------------------


def edit_client_hello(data: bytes, **changes: object) -> bytes:
    """Our ClientHello record with fields replaced, re-encoded and re-framed."""
    [(content_type, version, payload)] = split_records(data)
    hello = parse_handshake(payload[0], payload[4:])
    assert isinstance(hello, ClientHello)
    edited = dataclasses.replace(hello, **changes)  # type: ignore[arg-type]
    return record(content_type, encode_handshake(edited), version)


# -- module-scope certificates (key generation is slow: reuse the leaf's key) --------


@pytest.fixture(scope="module")
def other_ca() -> CertificateAuthority:
    return CertificateAuthority("some other CA")


@pytest.fixture(scope="module")
def expired_leaf(ca: CertificateAuthority, leaf: IssuedCertificate) -> IssuedCertificate:
    now = datetime.datetime.now(datetime.UTC)
    return ca.issue(not_before=now - datetime.timedelta(days=60), not_after=now - datetime.timedelta(days=1),
                    private_key=leaf.private_key)


@pytest.fixture(scope="module")
def future_leaf(ca: CertificateAuthority, leaf: IssuedCertificate) -> IssuedCertificate:
    now = datetime.datetime.now(datetime.UTC)
    return ca.issue(not_before=now + datetime.timedelta(days=1), not_after=now + datetime.timedelta(days=60),
                    private_key=leaf.private_key)


def config_for(issued: IssuedCertificate) -> ServerConfig:
    return ServerConfig(certificate_chain=issued.chain, private_key=issued.private_key)


# -- tampered ciphertext -> bad_record_mac ---------------------------------------------


@pytest.mark.parametrize("where", [5, 12, 13, 30, -1])
def test_tampered_application_data_to_server(
    client_config: ClientConfig, server_config: ServerConfig, where: int
) -> None:
    hs = established(client_config, server_config)
    hs.client.send_application_data(b"attack at dawn")
    data = hs.client.data_to_send()
    # Bytes 5..12 are the explicit nonce, then ciphertext, then the tag: any flip must fail.
    expect_failure(hs.server, flip(data, where % len(data)), BadRecordMac, AlertDescription.BAD_RECORD_MAC,
                   peer=hs.client)


def test_tampered_application_data_to_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = established(client_config, server_config)
    hs.server.send_application_data(b"attack at dawn")
    data = hs.server.data_to_send()
    expect_failure(hs.client, flip(data, 20, 0x80), BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=hs.server)


def test_tampered_record_header_is_authenticated(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """The content type is in the additional data: relabelling a record breaks the tag."""
    hs = established(client_config, server_config)
    hs.client.send_application_data(b"\x01\x00")
    data = bytearray(hs.client.data_to_send())
    data[0] = ALERT
    expect_failure(hs.server, bytes(data), BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=hs.client)


def test_tampered_client_finished(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    assert [r[0] for r in f3] == [HANDSHAKE, CCS, HANDSHAKE]
    f3[2] = flip(f3[2], len(f3[2]) - 5)
    # The server has no write key yet: the alert goes out in the clear.
    expect_failure(hs.server, b"".join(f3), BadRecordMac, AlertDescription.BAD_RECORD_MAC)


def test_tampered_server_finished(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f4 = raw_records(to_flight4(hs))
    assert [r[0] for r in f4] == [CCS, HANDSHAKE]
    f4[1] = flip(f4[1], 15)
    expect_failure(hs.client, b"".join(f4), BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=hs.server)


# -- wrong Finished (authentic record, wrong verify_data) -> decrypt_error ------------------


@pytest.mark.parametrize("verify_data", [bytes(12), b"\xff" * 12])
def test_wrong_client_finished(client_config: ClientConfig, server_config: ServerConfig, verify_data: bytes) -> None:
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    # Seal a Finished with the client's own write key at sequence number 0, as the real one was.
    forged = hs.client_keys.cipher("client").seal(HANDSHAKE, encode_handshake(Finished(verify_data)))
    assert len(forged) == len(f3[2])
    expect_failure(hs.server, f3[0] + f3[1] + forged, DecryptError, AlertDescription.DECRYPT_ERROR)
    assert not hs.server.handshake_complete


def test_wrong_client_finished_alert_reaches_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    forged = hs.client_keys.cipher("client").seal(HANDSHAKE, encode_handshake(Finished(bytes(12))))
    with pytest.raises(DecryptError):
        hs.server.receive_data(f3[0] + f3[1] + forged)
    with pytest.raises(AlertReceivedError) as info:
        hs.client.receive_data(hs.server.data_to_send())
    assert info.value.description == AlertDescription.DECRYPT_ERROR


def test_wrong_server_finished(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f4 = raw_records(to_flight4(hs))
    assert hs.server.handshake_complete
    real = hs.client_keys.cipher("server").open(HANDSHAKE, TLS12, split_records(f4[1])[0][2])
    assert real[0] == HandshakeType.FINISHED
    wrong = encode_handshake(Finished(flip(real[4:], 0)))
    forged = hs.client_keys.cipher("server").seal(HANDSHAKE, wrong)
    expect_failure(hs.client, f4[0] + forged, DecryptError, AlertDescription.DECRYPT_ERROR, peer=hs.server)
    assert not hs.client.handshake_complete


def test_wrong_finished_sealed_by_the_peer_record_layer(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """The same, with the forged Finished sealed by the server's own record layer after its CCS."""
    hs = start(client_config, server_config)
    f3 = to_flight3(hs)
    assert hs.server.receive_data(f3) == [HandshakeComplete()]
    f4 = raw_records(deliver_ticket(hs.client, hs.server.data_to_send()))
    hs.server._records.write_cipher.seq = 0  # type: ignore[union-attr]  # re-use the Finished's slot
    out = bytearray()
    hs.server._records.seal(ContentType.HANDSHAKE, encode_handshake(Finished(b"\x5a" * 12)), out)
    expect_failure(hs.client, f4[0] + bytes(out), DecryptError, AlertDescription.DECRYPT_ERROR, peer=hs.server)


def test_finished_of_wrong_length(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    forged = hs.client_keys.cipher("client").seal(HANDSHAKE, encode_handshake(Finished(bytes(11))))
    with pytest.raises(TLSError) as info:
        hs.server.receive_data(f3[0] + f3[1] + forged)
    assert info.value.alert in (AlertDescription.DECODE_ERROR, AlertDescription.DECRYPT_ERROR)
    assert hs.server.data_to_send() == plain_alert(info.value.alert)


# -- ServerKeyExchange signature -> decrypt_error -------------------------------------------


@pytest.mark.parametrize("offset", [-1, -50, -200])
def test_bad_server_key_exchange_signature(
    client_config: ClientConfig, server_config: ServerConfig, offset: int
) -> None:
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    f2 = raw_records(hs.server.data_to_send())
    assert [r[5] for r in f2] == [HandshakeType.SERVER_HELLO, HandshakeType.CERTIFICATE,
                                   HandshakeType.SERVER_KEY_EXCHANGE, HandshakeType.SERVER_HELLO_DONE]
    # The SKE record ends with the 256-byte RSA signature.
    f2[2] = flip(f2[2], len(f2[2]) + offset)
    expect_failure(hs.client, b"".join(f2), DecryptError, AlertDescription.DECRYPT_ERROR)
    assert hs.client.data_to_send() == b""


def test_bad_ske_signature_over_a_tampered_public_key(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """The signature covers the ECDHE public value: changing the key (not the signature) fails too."""
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    f2 = raw_records(hs.server.data_to_send())
    # record header 5, handshake header 4, curve_type 1, named_curve 2, length 1: the key starts at 13.
    f2[2] = flip(f2[2], 20)
    expect_failure(hs.client, b"".join(f2), DecryptError, AlertDescription.DECRYPT_ERROR)


# -- certificates ------------------------------------------------------------------------------


def test_wrong_host_name(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config, name="example.com")
    hs.server.receive_data(hs.client.data_to_send())
    exc = expect_failure(hs.client, hs.server.data_to_send(), HostnameMismatch, AlertDescription.BAD_CERTIFICATE)
    assert isinstance(exc, HostnameMismatch)
    assert not hs.client.handshake_complete


def test_wrong_ip_address(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config, name="127.0.0.2")
    hs.server.receive_data(hs.client.data_to_send())
    expect_failure(hs.client, hs.server.data_to_send(), HostnameMismatch, AlertDescription.BAD_CERTIFICATE)


def test_bad_certificate_alert_reaches_server(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config, name="example.com")
    hs.server.receive_data(hs.client.data_to_send())
    with pytest.raises(HostnameMismatch):
        hs.client.receive_data(hs.server.data_to_send())
    with pytest.raises(AlertReceivedError) as info:
        hs.server.receive_data(hs.client.data_to_send())
    assert info.value.description == AlertDescription.BAD_CERTIFICATE


def test_unknown_ca(other_ca: CertificateAuthority, server_config: ServerConfig) -> None:
    hs = start(ClientConfig(trust_anchors=[other_ca.certificate]), server_config)
    hs.server.receive_data(hs.client.data_to_send())
    expect_failure(hs.client, hs.server.data_to_send(), UnknownCA, AlertDescription.UNKNOWN_CA)


def test_expired_certificate(client_config: ClientConfig, expired_leaf: IssuedCertificate) -> None:
    hs = start(client_config, config_for(expired_leaf))
    hs.server.receive_data(hs.client.data_to_send())
    expect_failure(hs.client, hs.server.data_to_send(), CertificateExpired, AlertDescription.CERTIFICATE_EXPIRED)


def test_not_yet_valid_certificate(client_config: ClientConfig, future_leaf: IssuedCertificate) -> None:
    hs = start(client_config, config_for(future_leaf))
    hs.server.receive_data(hs.client.data_to_send())
    expect_failure(hs.client, hs.server.data_to_send(), CertificateExpired, AlertDescription.CERTIFICATE_EXPIRED)


def test_verify_certificates_false_accepts_unknown_ca(
    other_ca: CertificateAuthority, server_config: ServerConfig
) -> None:
    hs = established(ClientConfig(trust_anchors=[other_ca.certificate], verify_certificates=False), server_config)
    assert hs.client.peer_certificate_chain[0] == server_config.certificate_chain[0]
    hs.client.send_application_data(b"hi")
    assert hs.server.receive_data(hs.client.data_to_send()) == [ApplicationDataReceived(b"hi")]


def test_verify_certificates_false_accepts_expired(expired_leaf: IssuedCertificate) -> None:
    established(ClientConfig(verify_certificates=False), config_for(expired_leaf))


def test_check_hostname_false_accepts_wrong_name(ca: CertificateAuthority, server_config: ServerConfig) -> None:
    hs = start(ClientConfig(trust_anchors=[ca.certificate], check_hostname=False), server_config, name="example.com")
    client_events, server_events = pump(hs.client, hs.server)
    assert client_events == [HandshakeComplete()]
    assert server_events == [HandshakeComplete()]
    # The name is still sent as SNI.
    assert hs.server.server_name == "example.com"


def test_check_hostname_false_still_rejects_unknown_ca(
    other_ca: CertificateAuthority, server_config: ServerConfig
) -> None:
    hs = start(ClientConfig(trust_anchors=[other_ca.certificate], check_hostname=False), server_config,
               name="example.com")
    hs.server.receive_data(hs.client.data_to_send())
    expect_failure(hs.client, hs.server.data_to_send(), UnknownCA, AlertDescription.UNKNOWN_CA)


def test_check_hostname_false_still_rejects_expired(ca: CertificateAuthority, expired_leaf: IssuedCertificate) -> None:
    hs = start(ClientConfig(trust_anchors=[ca.certificate], check_hostname=False), config_for(expired_leaf))
    hs.server.receive_data(hs.client.data_to_send())
    expect_failure(hs.client, hs.server.data_to_send(), CertificateExpired, AlertDescription.CERTIFICATE_EXPIRED)


# -- ClientHello the server must refuse ---------------------------------------------------------


# Known suites the server does not enable (static RSA is off by default), unknown ones, TLS 1.3's.
@pytest.mark.parametrize("suites", [(0x009C,), (0x009D,), (0x009C, 0x0035, 0x00FF), (0x1301, 0x1302, 0x1303)])
def test_no_common_cipher_suite(
    client_config: ClientConfig, server_config: ServerConfig, suites: tuple[int, ...]
) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    hello = edit_client_hello(client.data_to_send(), cipher_suites=tuple(CipherSuite(s) for s in suites))
    expect_failure(server, hello, HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE)
    assert server.cipher_suite is None or server.cipher_suite not in suites


def test_no_common_cipher_suite_alert_reaches_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    with pytest.raises(HandshakeFailure):
        server.receive_data(edit_client_hello(client.data_to_send(), cipher_suites=(CipherSuite(0x009C),)))
    with pytest.raises(AlertReceivedError) as info:
        client.receive_data(server.data_to_send())
    assert info.value.description == AlertDescription.HANDSHAKE_FAILURE


@pytest.mark.parametrize("version", [0x0302, 0x0301, 0x0300])
def test_old_client_version(client_config: ClientConfig, server_config: ServerConfig, version: int) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    hello = edit_client_hello(client.data_to_send(), client_version=ProtocolVersion(version))
    expect_failure(server, hello, ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)
    assert server.version is None


def test_tls11_client_hello_handcrafted(server_config: ServerConfig) -> None:
    """A minimal TLS 1.1 ClientHello, byte for byte (no extensions at all)."""
    body = (b"\x03\x02" + bytes(32) + b"\x00" + b"\x00\x04\xc0\x14\x00\x2f" + b"\x01\x00")
    hello = bytes((1,)) + len(body).to_bytes(3, "big") + body
    server = ServerConnection(server_config)
    expect_failure(server, record(HANDSHAKE, hello, TLS10), ProtocolVersionError, AlertDescription.PROTOCOL_VERSION)


# -- ChangeCipherSpec out of order (CVE-2014-0224) -------------------------------------------------


def test_early_ccs_from_client_before_client_key_exchange(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    assert hs.server.data_to_send()
    expect_failure(hs.server, record(CCS, b"\x01"), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_early_ccs_then_client_key_exchange(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """CCS moved in front of the ClientKeyExchange in the client's real flight."""
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    expect_failure(hs.server, f3[1] + f3[0] + f3[2], UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_ccs_before_client_hello(server_config: ServerConfig) -> None:
    server = ServerConnection(server_config)
    expect_failure(server, record(CCS, b"\x01", TLS10), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("after", [1, 2, 3])
def test_early_ccs_to_client_before_server_hello_done(
    client_config: ClientConfig, server_config: ServerConfig, after: int
) -> None:
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    f2 = raw_records(hs.server.data_to_send())
    data = b"".join(f2[:after]) + record(CCS, b"\x01")
    expect_failure(hs.client, data, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)
    assert hs.client.data_to_send() == b""


def test_early_ccs_to_client_before_server_hello(client_config: ClientConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    client.data_to_send()
    # Before the ServerHello, the client still writes record version 0x0301.
    expect_failure(client, record(CCS, b"\x01"), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE,
                   version=TLS10)


def test_second_ccs_to_client(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """After the server's CCS the read key is active: a second plaintext CCS is not a valid
    protected record."""
    hs = start(client_config, server_config)
    f4 = raw_records(to_flight4(hs))
    expect_failure(hs.client, f4[0] + record(CCS, b"\x01"), BadRecordMac, AlertDescription.BAD_RECORD_MAC,
                   peer=hs.server)


# -- EOF ------------------------------------------------------------------------------------------


def test_eof_during_handshake_client(client_config: ClientConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    assert client.data_to_send()
    with pytest.raises(TruncatedConnection) as info:
        client.receive_data(b"")
    assert info.value.alert is None
    assert client.data_to_send() == b""
    assert client.failure is info.value
    with pytest.raises(TruncatedConnection):
        client.receive_data(b"")


def test_eof_during_handshake_server(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    assert hs.server.data_to_send()
    with pytest.raises(TruncatedConnection) as info:
        hs.server.receive_data(b"")
    assert info.value.alert is None
    assert hs.server.data_to_send() == b""


def test_eof_after_handshake_without_close_notify(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = established(client_config, server_config)
    hs.server.send_application_data(b"partial")
    assert hs.client.receive_data(hs.server.data_to_send()) == [ApplicationDataReceived(b"partial")]
    with pytest.raises(TruncatedConnection) as info:
        hs.client.receive_data(b"")
    assert info.value.alert is None
    assert hs.client.data_to_send() == b""
    with pytest.raises(TruncatedConnection):
        hs.server.receive_data(b"")
    assert hs.server.data_to_send() == b""


def test_eof_after_close_notify(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = established(client_config, server_config)
    hs.server.close()
    assert hs.client.receive_data(hs.server.data_to_send()) == [ConnectionClosed()]
    assert hs.client.receive_data(b"") == []
    assert hs.client.failure is None
    # The client answered with its own close_notify, which the server reads without error.
    assert hs.server.receive_data(hs.client.data_to_send()) == [ConnectionClosed()]
    assert hs.server.receive_data(b"") == []
    assert hs.client.closed and hs.server.closed
    assert hs.server.failure is None


def test_close_notify_during_handshake_is_an_error(client_config: ClientConfig) -> None:
    """A close_notify before the handshake completes is not a clean close."""
    client = ClientConnection(client_config, server_name="localhost")
    client.data_to_send()
    with pytest.raises(AlertReceivedError) as info:
        client.receive_data(record(ALERT, b"\x01\x00"))
    assert info.value.description == AlertDescription.CLOSE_NOTIFY
    # RFC 5246 §7.2.1: answered with our own close_notify (in a record marked TLS 1.0, as the
    # client's records are until the ServerHello settles the version), and nothing else.
    assert client.data_to_send() == record(ALERT, b"\x01\x00", TLS10)
    assert client.failure is info.value and client.closed
    with pytest.raises(AlertReceivedError):
        client.receive_data(record(ALERT, b"\x01\x00"))
    assert client.data_to_send() == b""


def test_close_notify_to_server_during_handshake_is_answered(client_config: ClientConfig,
                                                            server_config: ServerConfig) -> None:
    """The server, after its first flight: its close_notify answer is a plaintext TLS 1.2 record."""
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    hs.server.data_to_send()
    with pytest.raises(AlertReceivedError) as info:
        hs.server.receive_data(record(ALERT, b"\x01\x00"))
    assert info.value.description == AlertDescription.CLOSE_NOTIFY
    assert "handshake" in str(info.value)
    assert hs.server.data_to_send() == record(ALERT, b"\x01\x00")
    assert not hs.server.handshake_complete


def test_close_notify_during_handshake_answered_under_the_new_keys(client_config: ClientConfig,
                                                                   server_config: ServerConfig) -> None:
    """The client has sent its Finished (its write side is protected) and waits for the server's
    ChangeCipherSpec; a close_notify comes instead: the client answers with a protected
    close_notify, which the server reads as a clean close."""
    hs = start(client_config, server_config)
    f3 = to_flight3(hs)
    assert hs.server.receive_data(f3) == [HandshakeComplete()]
    hs.server.data_to_send()
    with pytest.raises(AlertReceivedError) as info:
        hs.client.receive_data(record(ALERT, b"\x01\x00"))
    assert info.value.description == AlertDescription.CLOSE_NOTIFY
    answer = hs.client.data_to_send()
    [(content_type, version, body)] = split_records(answer)
    assert (content_type, version, len(body)) == (ALERT, TLS12, 8 + 2 + 16)
    assert hs.server.receive_data(answer) == [ConnectionClosed()]


@pytest.mark.parametrize("description", [0x5A, 0x64, 0x70, 0x2A])  # user_canceled, no_renegotiation, ...
def test_four_warning_alerts_during_the_handshake_are_tolerated(
    client_config: ClientConfig, server_config: ServerConfig, description: int
) -> None:
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    events = hs.server.receive_data(record(ALERT, bytes((1, description))) * 4)
    assert len(events) == 4 and hs.server.failure is None
    assert hs.client.receive_data(hs.server.data_to_send()) == []
    assert pump(hs.client, hs.server) == ([HandshakeComplete()], [HandshakeComplete()])


def test_five_warning_alerts_in_a_row_during_the_handshake(
    client_config: ClientConfig, server_config: ServerConfig
) -> None:
    """As OpenSSL bounds them (MAX_WARN_ALERT_COUNT): the 5th warning alert in a row before the
    handshake completes ends it with unexpected_message."""
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    hs.server.data_to_send()
    assert len(hs.server.receive_data(record(ALERT, b"\x01\x5a") * 4)) == 4
    expect_failure(hs.server, record(ALERT, b"\x01\x5a"), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_five_warning_alerts_to_the_client_in_one_call(client_config: ClientConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    client.data_to_send()
    expect_failure(client, record(ALERT, b"\x01\x5a") * 5, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE,
                   version=TLS10)


def test_warning_alerts_separated_by_handshake_messages(client_config: ClientConfig,
                                                        server_config: ServerConfig) -> None:
    """Only a run counts: four warnings before each message of the server's flight are fine."""
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    flight = raw_records(hs.server.data_to_send())
    data = b"".join(record(ALERT, b"\x01\x5a") * 4 + rec for rec in flight)
    assert len(hs.client.receive_data(data)) == 4 * len(flight)
    assert pump(hs.client, hs.server) == ([HandshakeComplete()], [HandshakeComplete()])


# -- messages out of order (state-machine attacks) -------------------------------------------------


@pytest.mark.parametrize(
    ("keep", "name"),
    [((0, 2, 3), "no Certificate"), ((0, 1, 3), "no ServerKeyExchange"), ((1, 2, 3), "no ServerHello"),
     ((0, 0, 1, 2, 3), "two ServerHellos"), ((0, 1, 1, 2, 3), "two Certificates")],
)
def test_server_flight_out_of_order(
    client_config: ClientConfig, server_config: ServerConfig, keep: tuple[int, ...], name: str
) -> None:
    hs = start(client_config, server_config)
    hs.server.receive_data(hs.client.data_to_send())
    f2 = raw_records(hs.server.data_to_send())
    # Before the ServerHello is accepted the client still writes 0x0301.
    version = TLS10 if keep[0] != 0 else TLS12
    expect_failure(hs.client, b"".join(f2[i] for i in keep), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE, version=version)
    assert hs.client.data_to_send() == b""


def test_plaintext_finished_without_ccs(client_config: ClientConfig, server_config: ServerConfig) -> None:
    """Skipping ChangeCipherSpec: a Finished in the clear where the CCS is due."""
    hs = start(client_config, server_config)
    f3 = raw_records(to_flight3(hs))
    finished = record(HANDSHAKE, encode_handshake(Finished(bytes(12))))
    expect_failure(hs.server, f3[0] + finished, UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


def test_server_skips_ccs(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    f4 = raw_records(to_flight4(hs))
    expect_failure(hs.client, record(HANDSHAKE, encode_handshake(Finished(bytes(12)))), UnexpectedMessage,
                   AlertDescription.UNEXPECTED_MESSAGE, peer=hs.server)
    assert len(f4) == 2


def test_second_client_hello_during_handshake(client_config: ClientConfig, server_config: ServerConfig) -> None:
    hs = start(client_config, server_config)
    hello = hs.client.data_to_send()
    hs.server.receive_data(hello)
    hs.server.data_to_send()
    # Re-framed with record version 0x0303: the version is settled once the hellos are exchanged.
    [(_, _, payload)] = split_records(hello)
    expect_failure(hs.server, record(HANDSHAKE, payload), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("msg_type", [HandshakeType.FINISHED, HandshakeType.CLIENT_KEY_EXCHANGE,
                                      HandshakeType.SERVER_HELLO, HandshakeType.NEW_SESSION_TICKET,
                                      HandshakeType.CERTIFICATE_VERIFY, HandshakeType.KEY_UPDATE, 99])
def test_server_first_message_not_client_hello(server_config: ServerConfig, msg_type: int) -> None:
    server = ServerConnection(server_config)
    # Bodies that parse where the type is known (Finished takes anything, CKE needs a vector).
    body = b"\x01\x04" if msg_type == HandshakeType.CLIENT_KEY_EXCHANGE else b""
    if msg_type == HandshakeType.SERVER_HELLO:
        body = b"\x03\x03" + bytes(32) + b"\x00\xc0\x30\x00"
    frame = bytes((msg_type,)) + len(body).to_bytes(3, "big") + body
    expect_failure(server, record(HANDSHAKE, frame, TLS10), UnexpectedMessage, AlertDescription.UNEXPECTED_MESSAGE)


# -- weak keys ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_leaf(ca: CertificateAuthority) -> IssuedCertificate:
    return ca.issue(key_size=1024)


def test_server_config_refuses_a_small_rsa_key(small_leaf: IssuedCertificate) -> None:
    with pytest.raises(ValueError, match="too small"):
        config_for(small_leaf)


def test_client_refuses_a_small_rsa_server_key(
    client_config: ClientConfig, server_config: ServerConfig, small_leaf: IssuedCertificate
) -> None:
    """A 1024-bit key could be factored, and it signs the ECDHE key: bad_certificate."""
    weak = dataclasses.replace(server_config)
    # Only a peer that is not tls12 would present such a key: bypass our own refusal.
    credential = copy.copy(server_config.credentials[0])
    der = (small_leaf.certificate.public_bytes(Encoding.DER),)
    object.__setattr__(credential, "private_key", small_leaf.private_key)
    object.__setattr__(credential, "chain", (small_leaf.certificate,))
    object.__setattr__(credential, "chain_der", der)
    object.__setattr__(weak, "credentials", (credential,))
    object.__setattr__(weak, "certificate_messages", {id(credential): encode_handshake(Certificate(der))})
    hs = start(client_config, weak)
    hs.server.receive_data(hs.client.data_to_send())
    exc = expect_failure(hs.client, hs.server.data_to_send(), BadCertificate, AlertDescription.BAD_CERTIFICATE,
                         version=0x0303)
    assert "too small" in str(exc)
