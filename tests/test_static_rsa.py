"""Static RSA key exchange: the server is no padding oracle (RFC 5246 §7.4.7.1; Bleichenbacher, ROBOT, Marvin).

Whatever is wrong with the EncryptedPreMasterSecret (bad PKCS#1 padding, a message of the wrong
length, the wrong version, a ciphertext of the wrong size) the server says nothing at the
ClientKeyExchange: it goes on with a random premaster, and the handshake fails at the client's
Finished exactly as it does for a good premaster whose Finished does not authenticate. The alert
bytes on the wire are the same in every case. (With an AEAD suite the client's Finished record is
the first one protected under keys from the premaster: keys the client does not share fail the
record, bad_record_mac. Only a client that holds the premaster can make a Finished that opens but
does not verify (decrypt_error), and such a client learns nothing from the difference: it already
knows the premaster.)
"""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tls12 import ClientConfig, ClientConnection, HandshakeComplete, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.provider import DeterministicProvider
from tls12.enums import AlertDescription, CipherSuite, HandshakeType
from tls12.errors import BadRecordMac
from tls12.messages import RSAClientKeyExchange, encode_handshake

from helpers import pump
from record_support import expect_failure, parse, record, split_records

HANDSHAKE, CCS = 22, 20
SUITE = CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256
NOW = datetime.datetime.now(datetime.UTC)  # inside the throwaway certificates' validity


@pytest.fixture(scope="module")
def rsa_leaf(ca: CertificateAuthority) -> IssuedCertificate:
    return ca.issue(("localhost",), key_type="rsa")


def configs(ca: CertificateAuthority, leaf: IssuedCertificate) -> tuple[ClientConfig, ServerConfig]:
    return (ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[SUITE]),
            ServerConfig(credentials=[leaf.credential()], cipher_suites=[SUITE]))


def _raw_rsa(key: rsa.RSAPublicKey, em: bytes) -> bytes:
    numbers = key.public_numbers()
    k = (key.key_size + 7) // 8
    return pow(int.from_bytes(em, "big"), numbers.e, numbers.n).to_bytes(k, "big")


def _encrypt_raw(key: rsa.RSAPublicKey, message: bytes, block_type: bytes = b"\x02") -> bytes:
    """PKCS#1 v1.5 encryption done by hand, so that the padding can be made wrong on purpose."""
    k = (key.key_size + 7) // 8
    padding = bytes((i % 255) + 1 for i in range(k - 3 - len(message)))  # non-zero bytes
    return _raw_rsa(key, b"\x00" + block_type + padding + b"\x00" + message)


def _bad_premasters(key: rsa.RSAPublicKey) -> dict[str, bytes]:
    good = b"\x03\x03" + bytes(range(46))
    return {
        "bad padding": _encrypt_raw(key, good, block_type=b"\x01"),
        "no zero separator": _raw_rsa(key, b"\x00\x02" + b"\x01" * ((key.key_size + 7) // 8 - 2)),
        "wrong length (47 bytes)": _encrypt_raw(key, good[:47]),
        "wrong length (49 bytes)": _encrypt_raw(key, good + b"\x00"),
        "wrong version": _encrypt_raw(key, b"\x03\x02" + bytes(range(46))),
        "short ciphertext": bytes(16),
        "empty ciphertext": b"",
    }


def _flight3(ca: CertificateAuthority, leaf: IssuedCertificate, seed: bytes) -> tuple[ServerConnection, list[bytes]]:
    """A server after its first flight, and the client's third flight as records: ClientKeyExchange,
    ChangeCipherSpec, Finished."""
    _, server_config = configs(ca, leaf)
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=[SUITE],
                                           provider=DeterministicProvider(seed, now=NOW)), server_name="localhost")
    server = ServerConnection(server_config)
    assert server.receive_data(client.data_to_send()) == []
    assert client.receive_data(server.data_to_send()) == []
    records = [record(t, body, v) for t, v, body in split_records(client.data_to_send())]
    assert [r[0] for r in records] == [HANDSHAKE, CCS, HANDSHAKE]
    assert isinstance(parse(records[0][5:], "RSA"), RSAClientKeyExchange)
    return server, records


def _cke(encrypted: bytes) -> bytes:
    return record(HANDSHAKE, encode_handshake(RSAClientKeyExchange(encrypted)))


def test_static_rsa_handshake_completes(ca: CertificateAuthority, rsa_leaf: IssuedCertificate) -> None:
    client_config, server_config = configs(ca, rsa_leaf)
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
    assert client.cipher_suite == server.cipher_suite == SUITE
    assert client.group is None and client.signature_scheme is None


def test_client_premaster_is_version_and_46_random_bytes(ca: CertificateAuthority, rsa_leaf: IssuedCertificate) -> None:
    """RFC 5246 §7.4.7.1: client_version (0x0303) then 46 random bytes, sent with its 2-byte length."""
    _, records = _flight3(ca, rsa_leaf, b"premaster")
    body = records[0][5 + 4:]
    assert int.from_bytes(body[:2], "big") == len(body) - 2 == 256
    key = rsa_leaf.private_key
    assert isinstance(key, rsa.RSAPrivateKey)
    premaster = key.decrypt(body[2:], padding.PKCS1v15())
    assert len(premaster) == 48 and premaster[:2] == b"\x03\x03"


def test_every_bad_premaster_gets_the_same_alert(ca: CertificateAuthority, rsa_leaf: IssuedCertificate) -> None:
    """The alert bytes are identical for every bad premaster and for a good one whose Finished is wrong."""
    public = rsa_leaf.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    answers: dict[str, bytes] = {}
    for kind, encrypted in _bad_premasters(public).items():
        server, records = _flight3(ca, rsa_leaf, kind.encode())
        # Nothing at the ClientKeyExchange, nor at the ChangeCipherSpec: the handshake goes on.
        assert server.receive_data(_cke(encrypted) + records[1]) == []
        assert server.data_to_send() == b"" and server.failure is None
        exc = expect_failure(server, records[2], BadRecordMac, AlertDescription.BAD_RECORD_MAC)
        answers[kind] = bytes((exc.alert,))
    # A good premaster, and a Finished that does not authenticate (changed on the way).
    server, records = _flight3(ca, rsa_leaf, b"good")
    assert server.receive_data(records[0] + records[1]) == []
    finished = bytearray(records[2])
    finished[-1] ^= 1
    expect_failure(server, bytes(finished), BadRecordMac, AlertDescription.BAD_RECORD_MAC)
    # The same good premaster with its Finished intact completes: the flights above were sound.
    server, records = _flight3(ca, rsa_leaf, b"good")
    assert server.receive_data(b"".join(records)) == [HandshakeComplete()]
    assert set(answers.values()) == {bytes((AlertDescription.BAD_RECORD_MAC,))}


def test_bad_premaster_alert_bytes_on_the_wire(ca: CertificateAuthority, rsa_leaf: IssuedCertificate) -> None:
    """Byte for byte: what the server sends after each kind of bad premaster, and after a good one."""
    public = rsa_leaf.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    wire: dict[str, bytes] = {}
    cases = dict(_bad_premasters(public))
    cases["good premaster, wrong Finished"] = b""
    for kind, encrypted in cases.items():
        server, records = _flight3(ca, rsa_leaf, b"same client")
        cke = records[0] if kind.startswith("good") else _cke(encrypted)
        finished = bytearray(records[2])
        if kind.startswith("good"):
            finished[-1] ^= 1
        with pytest.raises(BadRecordMac):
            server.receive_data(cke + records[1] + bytes(finished))
        wire[kind] = server.data_to_send()
    assert len(set(wire.values())) == 1, wire
    assert next(iter(wire.values())) == bytes.fromhex("15030300020214")  # fatal bad_record_mac, in the clear


def test_rsa_client_key_exchange_form() -> None:
    """EncryptedPreMasterSecret with its 2-byte length; any length parses (refusing some would be an oracle)."""
    for encrypted in (b"", b"\x01", bytes(256), bytes(512)):
        raw = encode_handshake(RSAClientKeyExchange(encrypted))
        assert raw[0] == HandshakeType.CLIENT_KEY_EXCHANGE
        assert raw[4:6] == len(encrypted).to_bytes(2, "big")
        assert parse(raw, "RSA") == RSAClientKeyExchange(encrypted)
