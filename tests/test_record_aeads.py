"""Record protection for every AEAD of the suite table: AES-128-GCM, AES-256-GCM (RFC 5288) and
ChaCha20-Poly1305 (RFC 7905), each checked against an independent implementation.

* OpenSSL (the stdlib `ssl` module in memory over MemoryBIOs), pinned to each suite, both roles:
  its key log is ours, and every record either side sent opens with a nonce and additional data
  built here by hand from RFC 5288 / RFC 7905 and RFC 5246 §6.2.3.3 (the PRF too is written out
  here with the standard library's HMAC).
* RFC 8439 §2.8.2's ChaCha20-Poly1305 vector through the record code's nonce construction, and
  a hand-computed RFC 7905 nonce.
* The record rules for both nonce rules: nonces never repeat, sequence numbers never wrap,
  tampering is bad_record_mac, a ChaCha20 record is never read as if it had an explicit nonce,
  and the short and general receive paths agree.
"""

from __future__ import annotations

import contextlib
import datetime
import hmac
import json
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.poly1305 import Poly1305

from tls12 import (
    ApplicationDataReceived,
    ClientConfig,
    ClientConnection,
    DeterministicProvider,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.aead import ChaChaRecordAEAD, GCMRecordAEAD, RecordAEAD, record_aead
from tls12.crypto.suites import SUITES, AEADKind, SuiteSpec
from tls12.enums import AlertDescription, CipherSuite
from tls12.errors import BadRecordMac, RecordOverflow, SequenceExhausted
from tls12.events import Event
from tls12.explain import FORMATS, Recorder, render
from tls12.explain.capture import C2S, S2C, Capture, Flow
from tls12.explain.replay import replay
from tls12.trace import RecordTrace, TraceEvent

from helpers import StdlibPeer, pump, pump_stdlib
from record_support import APPDATA, TLS12, established, expect_failure, raw_records, record

AES128 = CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
AES256 = CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
CHACHA = CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
SPOKEN_AEADS = (AES128, AES256, CHACHA)
MAX_PLAINTEXT = 2**14


def suite_id(suite: CipherSuite) -> str:
    return SUITES[suite].openssl_name


# -- an independent reading: the PRF, the nonce and the additional data written out by hand ----------


def prf(secret: bytes, label: bytes, seed: bytes, n: int, hash_name: str) -> bytes:
    """RFC 5246 §5, P_hash with the suite's hash, from the standard library."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < n:
        a = hmac.new(secret, a, hash_name).digest()
        out += hmac.new(secret, a + seed, hash_name).digest()
    return out[:n]


def key_block(spec: SuiteSpec, master: bytes, client_random: bytes, server_random: bytes) -> dict[str, bytes]:
    """RFC 5246 §6.3 for an AEAD suite: client key, server key, client IV, server IV."""
    k, s = spec.key_len, spec.fixed_iv_len
    block = prf(master, b"key expansion", server_random + client_random, 2 * (k + s), spec.prf_hash.name)
    return {"client_key": block[:k], "server_key": block[k : 2 * k],
            "client_iv": block[2 * k : 2 * k + s], "server_iv": block[2 * k + s :]}


def open_by_hand(spec: SuiteSpec, key: bytes, iv: bytes, seq: int, rec: bytes) -> tuple[int, bytes]:
    """One whole record opened with the raw AEAD: RFC 5288 (salt ‖ explicit nonce) or RFC 7905
    (IV XOR the sequence number, nothing sent); additional data per RFC 5246 §6.2.3.3."""
    content_type, version, fragment = rec[0], rec[1:3], rec[5:]
    if spec.aead is AEADKind.AES_GCM:
        nonce, body = iv + fragment[:8], fragment[8:]
        aead: AESGCM | ChaCha20Poly1305 = AESGCM(key)
    else:
        padded = seq.to_bytes(12, "big")
        nonce, body = bytes(a ^ b for a, b in zip(iv, padded, strict=True)), fragment
        aead = ChaCha20Poly1305(key)
    aad = seq.to_bytes(8, "big") + bytes([content_type]) + version + (len(body) - 16).to_bytes(2, "big")
    return content_type, aead.decrypt(nonce, body, aad)


def chacha20_poly1305_by_hand(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """RFC 8439 §2.8 from its two parts: the ChaCha20 stream (block counter 1 on) and Poly1305 keyed
    by block 0, over aad ‖ pad16 ‖ ciphertext ‖ pad16 ‖ le64(len aad) ‖ le64(len ciphertext)."""
    def block_stream(counter: int) -> Cipher[None]:
        return Cipher(algorithms.ChaCha20(key, counter.to_bytes(4, "little") + nonce), mode=None)
    one_time_key = block_stream(0).encryptor().update(bytes(32))
    ciphertext = block_stream(1).encryptor().update(plaintext)

    def pad16(data: bytes) -> bytes:
        return bytes(-len(data) % 16)
    mac_data = (aad + pad16(aad) + ciphertext + pad16(ciphertext)
                + len(aad).to_bytes(8, "little") + len(ciphertext).to_bytes(8, "little"))
    return ciphertext + Poly1305.generate_tag(one_time_key, mac_data)


# -- published and hand-computed vectors -----------------------------------------------------------

# RFC 8439 §2.8.2.
RFC8439_KEY = bytes(range(0x80, 0xA0))
RFC8439_NONCE = bytes.fromhex("070000004041424344454647")
RFC8439_AAD = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
RFC8439_PLAINTEXT = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
                     b"future, sunscreen would be it.")
RFC8439_CIPHERTEXT = bytes.fromhex(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
    "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116")
RFC8439_TAG = bytes.fromhex("1ae10b594f09e26a7e902ecbd0600691")


def test_rfc8439_vector_by_hand() -> None:
    """The hand construction below reproduces the published vector (so it can judge our records)."""
    assert chacha20_poly1305_by_hand(RFC8439_KEY, RFC8439_NONCE, RFC8439_PLAINTEXT, RFC8439_AAD) == \
        RFC8439_CIPHERTEXT + RFC8439_TAG
    assert ChaCha20Poly1305(RFC8439_KEY).encrypt(RFC8439_NONCE, RFC8439_PLAINTEXT, RFC8439_AAD) == \
        RFC8439_CIPHERTEXT + RFC8439_TAG


def test_rfc8439_vector_through_the_record_nonce() -> None:
    """RFC 8439 §2.8.2's nonce is 07000000 ‖ 4041424344454647: an IV of 07000000 ‖ 0(8) XOR sequence
    number 0x4041424344454647. Sealed at that sequence number, the record carries the published
    ciphertext right after its header (no explicit nonce) and the Poly1305 tag over TLS's additional
    data, as the hand construction computes it."""
    seq = 0x4041424344454647
    sender = ChaChaRecordAEAD(RFC8439_KEY, bytes.fromhex("07000000") + bytes(8))
    assert sender.nonce(seq) == RFC8439_NONCE
    sender.seq = seq
    rec = sender.seal(APPDATA, RFC8439_PLAINTEXT)
    assert rec[:5] == bytes([APPDATA]) + TLS12.to_bytes(2, "big") + (len(RFC8439_PLAINTEXT) + 16).to_bytes(2, "big")
    assert rec[5:-16] == RFC8439_CIPHERTEXT
    tls_aad = seq.to_bytes(8, "big") + bytes([APPDATA]) + TLS12.to_bytes(2, "big") + \
        len(RFC8439_PLAINTEXT).to_bytes(2, "big")
    assert rec[5:] == chacha20_poly1305_by_hand(RFC8439_KEY, RFC8439_NONCE, RFC8439_PLAINTEXT, tls_aad)
    receiver = ChaChaRecordAEAD(RFC8439_KEY, bytes.fromhex("07000000") + bytes(8))
    receiver.seq = seq
    assert receiver.open(APPDATA, TLS12, rec[5:]) == RFC8439_PLAINTEXT
    assert receiver.seq == seq + 1


def test_rfc7905_nonce_by_hand() -> None:
    """RFC 7905 §2: the 64-bit sequence number, left-padded with zeros to 12 bytes, XORed with the IV
    (the IV's first 4 bytes are untouched; computed here byte by byte)."""
    iv = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")
    cipher = ChaChaRecordAEAD(bytes(32), iv)
    assert cipher.nonce(0) == iv
    assert cipher.nonce(0x0102030405060708) == bytes.fromhex("a0a1a2a3" "a5a7a5a3adafada3")
    assert cipher.nonce(2**64 - 1) == bytes.fromhex("a0a1a2a3" "5b5a59585756" "5554")


# -- the suite rows choose the record protection ---------------------------------------------------


@pytest.mark.parametrize("suite", list(SUITES), ids=suite_id)
def test_every_row_builds_its_record_protection(suite: CipherSuite) -> None:
    spec = SUITES[suite]
    cipher = record_aead(spec, bytes(spec.key_len), bytes(spec.fixed_iv_len))
    expected = GCMRecordAEAD if spec.aead is AEADKind.AES_GCM else ChaChaRecordAEAD
    assert type(cipher) is expected
    assert (cipher.explicit_nonce_len, cipher.overhead) == (spec.record_iv_len, spec.record_overhead)
    rec = cipher.seal(APPDATA, b"hello")
    assert len(rec) == 5 + spec.record_overhead + 5
    assert record_aead(spec, bytes(spec.key_len), bytes(spec.fixed_iv_len)).open(APPDATA, TLS12, rec[5:]) == b"hello"
    with pytest.raises(ValueError):
        record_aead(spec, bytes(spec.key_len + 1), bytes(spec.fixed_iv_len))
    with pytest.raises(ValueError):
        record_aead(spec, bytes(spec.key_len), bytes(spec.fixed_iv_len + 1))


def _cipher(kind: str, seq: int = 0) -> RecordAEAD:
    cipher: RecordAEAD = (GCMRecordAEAD(bytes(range(32)), b"salt") if kind == "gcm"
                          else ChaChaRecordAEAD(bytes(range(32)), bytes(range(12))))
    cipher.seq = seq
    return cipher


KINDS = ("gcm", "chacha")


@pytest.mark.parametrize("kind", KINDS)
def test_nonces_never_repeat(kind: str) -> None:
    sender = _cipher(kind)
    records = [sender.seal(APPDATA, b"same") for _ in range(64)]
    assert sender.seq == 64
    assert len({r[5:] for r in records}) == 64  # the same plaintext never seals the same way twice
    if kind == "chacha":
        assert all(len(r) == 5 + 4 + 16 for r in records)
        chacha = sender
        assert isinstance(chacha, ChaChaRecordAEAD)
        assert len({chacha.nonce(seq) for seq in range(64)}) == 64
    else:
        assert [r[5:13] for r in records] == [seq.to_bytes(8, "big") for seq in range(64)]
    receiver = _cipher(kind)
    assert [receiver.open(APPDATA, TLS12, r[5:]) for r in records] == [b"same"] * 64


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_exhaustion_refuses(kind: str) -> None:
    sender = _cipher(kind, 2**64 - 1)
    last = sender.seal(APPDATA, b"last")
    for _ in range(2):
        with pytest.raises(SequenceExhausted):
            sender.seal(APPDATA, b"wraps?")
    assert sender.seq == 2**64  # never back to 0
    receiver = _cipher(kind, 2**64 - 1)
    assert receiver.open(APPDATA, TLS12, last[5:]) == b"last"
    with pytest.raises(SequenceExhausted):
        receiver.open(APPDATA, TLS12, last[5:])
    # A record sealed at sequence number 0 is not what 2^64 - 1 opens (the nonce does not wrap).
    first = _cipher(kind, 0).seal(APPDATA, b"last")
    with pytest.raises(BadRecordMac):
        _cipher(kind, 2**64 - 1).open(APPDATA, TLS12, first[5:])


@pytest.mark.parametrize("kind", KINDS)
def test_every_tampered_byte_is_bad_record_mac(kind: str) -> None:
    """Any byte of the explicit nonce (AES-GCM), the ciphertext or the tag, and the header's type and
    version (in the additional data), changed: bad_record_mac, nothing else."""
    rec = _cipher(kind, 7).seal(APPDATA, b"attack at dawn")
    fragment = rec[5:]
    for i in range(len(fragment)):
        for mask in (0x01, 0x80):
            tampered = bytearray(fragment)
            tampered[i] ^= mask
            with pytest.raises(BadRecordMac):
                _cipher(kind, 7).open(APPDATA, TLS12, bytes(tampered))
    for content_type, version in ((22, TLS12), (21, TLS12), (APPDATA, 0x0302), (APPDATA, 0x0304)):
        with pytest.raises(BadRecordMac):
            _cipher(kind, 7).open(content_type, version, fragment)
    with pytest.raises(BadRecordMac):  # the wrong sequence number
        _cipher(kind, 8).open(APPDATA, TLS12, fragment)
    assert _cipher(kind, 7).open(APPDATA, TLS12, fragment) == b"attack at dawn"


@pytest.mark.parametrize("kind", KINDS)
def test_short_and_long_records(kind: str) -> None:
    overhead = _cipher(kind).overhead
    for n in range(overhead):
        with pytest.raises(BadRecordMac) as info:
            _cipher(kind).open(APPDATA, TLS12, bytes(n))
        assert info.value.alert == AlertDescription.BAD_RECORD_MAC
    assert _cipher(kind).open(APPDATA, TLS12, _cipher(kind).seal(APPDATA, b"")[5:]) == b""
    too_long = _cipher(kind).seal(APPDATA, bytes(MAX_PLAINTEXT + 1))
    with pytest.raises(RecordOverflow):
        _cipher(kind).open(APPDATA, TLS12, too_long[5:])
    at_limit = _cipher(kind).seal(APPDATA, bytes(MAX_PLAINTEXT))
    assert _cipher(kind).open(APPDATA, TLS12, at_limit[5:]) == bytes(MAX_PLAINTEXT)


@pytest.mark.parametrize("kind", KINDS)
def test_open_at_reads_the_body_where_it_lies(kind: str) -> None:
    """The record path hands the cipher the caller's bytes and the body's bounds: the body is read
    in place, whatever surrounds it; bounds one byte off are bad_record_mac."""
    records = [_cipher(kind, 3).seal(APPDATA, b"in the middle"), _cipher(kind, 3).seal(APPDATA, b"")]
    for rec in records:
        start, end = 7 + 5, 7 + len(rec)
        for data in (b"x" * 7 + rec + b"y" * 9, bytearray(b"x" * 7 + rec), memoryview(b"x" * 7 + rec)):
            assert _cipher(kind, 3).open_at(APPDATA, TLS12, data, start, end) == _cipher(kind, 3).open(
                APPDATA, TLS12, rec[5:])
        data = b"x" * 7 + rec + b"y"
        for bounds in ((start - 1, end), (start + 1, end), (start, end - 1), (start, end + 1)):
            with pytest.raises(BadRecordMac):
                _cipher(kind, 3).open_at(APPDATA, TLS12, data, *bounds)


def test_chacha_record_is_not_read_as_having_an_explicit_nonce() -> None:
    """Eight bytes that look like an explicit nonce are plaintext to ChaCha20 and kept whole; an
    AES-GCM-shaped record (explicit nonce first) or 8 bytes inserted after the header fail; a
    ChaCha20 record of 16 to 23 bytes (shorter than AES-GCM's nonce and tag) is sound."""
    looks_like_nonce = (0).to_bytes(8, "big") + b"payload"
    rec = _cipher("chacha").seal(APPDATA, looks_like_nonce)
    assert len(rec) == 5 + len(looks_like_nonce) + 16
    assert _cipher("chacha").open(APPDATA, TLS12, rec[5:]) == looks_like_nonce
    with pytest.raises(BadRecordMac):
        _cipher("chacha").open(APPDATA, TLS12, (0).to_bytes(8, "big") + rec[5:])
    gcm_shaped = _cipher("gcm").seal(APPDATA, b"payload")
    with pytest.raises(BadRecordMac):
        _cipher("chacha").open(APPDATA, TLS12, gcm_shaped[5:])
    short = _cipher("chacha").seal(APPDATA, b"1234567")
    assert len(short) - 5 == 23 < GCMRecordAEAD.overhead
    assert _cipher("chacha").open(APPDATA, TLS12, short[5:]) == b"1234567"


# -- our two ends, each suite -----------------------------------------------------------------------


def configs(ca: CertificateAuthority, leaf: IssuedCertificate, suite: CipherSuite,
            key_log: Callable[[str], None] | None = None) -> tuple[ClientConfig, ServerConfig]:
    client = ClientConfig(trust_anchors=[ca.certificate], cipher_suites=(suite,), key_log=key_log)
    server = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, cipher_suites=(suite,),
                          key_log=key_log)
    return client, server


@pytest.mark.parametrize("suite", SPOKEN_AEADS, ids=suite_id)
def test_our_ends_speak_each_suite(ca: CertificateAuthority, leaf: IssuedCertificate, suite: CipherSuite) -> None:
    client_config, server_config = configs(ca, leaf, suite)
    pair = established(client_config, server_config)
    assert pair.client.cipher_suite == pair.server.cipher_suite == suite
    spec = SUITES[suite]
    assert len(pair.client_keys.secrets["client_write_key"]) == spec.key_len
    assert len(pair.client_keys.secrets["client_write_IV"]) == spec.fixed_iv_len
    for size in (1, 256, MAX_PLAINTEXT, 40000):
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        pair.client.send_application_data(data)
        out = pair.client.data_to_send()
        assert [len(r) - 5 for r in raw_records(out)] == \
            [min(MAX_PLAINTEXT, size - i) + spec.record_overhead for i in range(0, size, MAX_PLAINTEXT)]
        events = pair.server.receive_data(out)
        assert b"".join(e.data for e in events if isinstance(e, ApplicationDataReceived)) == data


@pytest.fixture(scope="module")
def chacha_pair_configs(ca: CertificateAuthority, leaf: IssuedCertificate) -> tuple[ClientConfig, ServerConfig]:
    return configs(ca, leaf, CHACHA)


def test_chacha_tampering_on_a_connection(chacha_pair_configs: tuple[ClientConfig, ServerConfig]) -> None:
    client_config, server_config = chacha_pair_configs
    cases: list[tuple[str, Callable[[bytes], bytes]]] = [
        ("tag", lambda r: r[:-1] + bytes([r[-1] ^ 1])),
        ("ciphertext", lambda r: r[:5] + bytes([r[5] ^ 0x40]) + r[6:]),
        ("type", lambda r: bytes([22]) + r[1:]),
        ("an 8-byte explicit nonce inserted", lambda r: record(APPDATA, bytes(8) + r[5:])),
        ("shorter than the tag", lambda r: record(APPDATA, r[5:20])),
    ]
    for name, tamper in cases:
        pair = established(client_config, server_config)
        pair.client.send_application_data(b"hi")
        rec = pair.client.data_to_send()
        assert len(rec) == 5 + 2 + 16
        expect_failure(pair.server, tamper(rec), BadRecordMac, AlertDescription.BAD_RECORD_MAC, peer=pair.client)
        assert name


def test_chacha_record_length_bounds(chacha_pair_configs: tuple[ClientConfig, ServerConfig]) -> None:
    """check_header's bounds follow the cipher: a ChaCha20 record is at least its 16-byte tag (an
    empty one carries nothing but is sound), at most 2^14 + 2048 on the wire; its plaintext at most 2^14."""
    client_config, server_config = chacha_pair_configs
    pair = established(client_config, server_config)
    empty = pair.client_keys.cipher("client", seq=1).seal(APPDATA, b"")
    assert len(empty) == 5 + 16
    assert pair.server.receive_data(empty) == []
    assert pair.server.failure is None
    at_limit = pair.client_keys.cipher("client", seq=2).seal(APPDATA, bytes(MAX_PLAINTEXT))
    assert pair.server.receive_data(at_limit) == [ApplicationDataReceived(bytes(MAX_PLAINTEXT))]
    over = pair.client_keys.cipher("client", seq=3).seal(APPDATA, bytes(MAX_PLAINTEXT + 1))
    expect_failure(pair.server, over, RecordOverflow, AlertDescription.RECORD_OVERFLOW, peer=pair.client)

    pair = established(client_config, server_config)
    expect_failure(pair.server, record(APPDATA, bytes(15)), BadRecordMac, AlertDescription.BAD_RECORD_MAC,
                   peer=pair.client)
    pair = established(client_config, server_config)
    expect_failure(pair.server, record(APPDATA, b"")[:3] + (2**14 + 2049).to_bytes(2, "big"), RecordOverflow,
                   AlertDescription.RECORD_OVERFLOW, peer=pair.client)


# -- the short path and the general path agree ----------------------------------------------------


def _deterministic(ca: CertificateAuthority, leaf: IssuedCertificate, suite: CipherSuite,
                   tracer: Callable[[TraceEvent], None] | None) -> tuple[ClientConnection, ServerConnection]:
    now = leaf.certificate.not_valid_before_utc + datetime.timedelta(days=1)
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=(suite,),
                                           provider=DeterministicProvider(b"paths-client", now=now)),
                              server_name="localhost")
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                                           cipher_suites=(suite,),
                                           signature_schemes=(SignatureScheme.RSA_PKCS1_SHA256,),
                                           provider=DeterministicProvider(b"paths-server", now=now)),
                              tracer=tracer)
    return client, server


@pytest.mark.parametrize("suite", SPOKEN_AEADS, ids=suite_id)
def test_short_and_general_paths_agree(ca: CertificateAuthority, leaf: IssuedCertificate,
                                       suite: CipherSuite) -> None:
    """One client stream (the same seeds make the same handshake) into a server on the short path
    (no tracer) and one held to the general path (a tracer), cut in many ways: same events, same
    bytes back."""
    streams: list[bytes] = []
    for tracer in (None, [].append):
        client, server = _deterministic(ca, leaf, suite, tracer)
        assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
        for size in (1, 100, 16384, 16385, 300, 0, 5):
            client.send_application_data(bytes(range(256)) * (size // 256) + bytes(size % 256))
        client.close()
        streams.append(client.data_to_send())
    assert streams[0] == streams[1]
    stream = streams[0]
    results = []
    for cut in (len(stream), 1, 5, 7, 21, 4096, 16384 + 5 + 16):
        for tracer in (None, [].append):
            _, server = _deterministic(ca, leaf, suite, tracer)
            client, _ = _deterministic(ca, leaf, suite, None)
            pump(client, server)
            assert server._fast_receive is (tracer is None)
            events: list[Event] = []
            for start in range(0, len(stream), cut):
                events += server.receive_data(stream[start : start + cut])
            results.append((events, server.data_to_send()))
    assert all(r == results[0] for r in results)
    data = b"".join(e.data for e in results[0][0] if isinstance(e, ApplicationDataReceived))
    assert len(data) == 1 + 100 + 16384 + 16385 + 300 + 5


# -- tracing and the explanation ------------------------------------------------------------------


@pytest.mark.parametrize("suite", SPOKEN_AEADS, ids=suite_id)
def test_traced_records_show_the_explicit_nonce_or_none(ca: CertificateAuthority, leaf: IssuedCertificate,
                                                         suite: CipherSuite) -> None:
    spec = SUITES[suite]
    client_config, server_config = configs(ca, leaf, suite)
    recorder = Recorder()
    client = ClientConnection(client_config, server_name="localhost", tracer=recorder.tracer("client"))
    server = ServerConnection(server_config, tracer=recorder.tracer("server"))
    pump(client, server)
    client.send_application_data(b"ping")
    server.receive_data(client.data_to_send())
    server.send_application_data(b"pong")
    client.receive_data(server.data_to_send())
    client.close()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    protected = [t.event for t in recorder.events if isinstance(t.event, RecordTrace) and t.event.protected]
    assert len(protected) == 3 * 2 * 2  # Finished, data, close_notify: each side, sent and received
    for r in protected:
        assert r.length == r.plaintext_length + spec.record_overhead
        if spec.record_iv_len:
            assert r.explicit_nonce == (r.seq or 0).to_bytes(8, "big")
        else:
            assert r.explicit_nonce is None
    for fmt in FORMATS:
        assert render(recorder.events, fmt)
    text = render(recorder.events, "text")
    if spec.record_iv_len:
        assert "seq 1, nonce 0000000000000001, 28 bytes = 8 + 4 + 16" in text
    else:
        assert "seq 1, no explicit nonce, 20 bytes = 4 + 16" in text


# -- OpenSSL, pinned to each suite, both roles ---------------------------------------------------------


def _stdlib_context(pem_dir: Path, suite: CipherSuite, server: bool, keylog: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if server:
        ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    else:
        ctx.load_verify_locations(pem_dir / "ca.pem")
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(SUITES[suite].openssl_name)
    ctx.set_ecdh_curve("X25519")
    ctx.keylog_filename = str(keylog)
    return ctx


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("suite", SPOKEN_AEADS, ids=suite_id)
def test_records_match_openssl(pem_dir: Path, ca: CertificateAuthority, leaf: IssuedCertificate, tmp_path: Path,
                               suite: CipherSuite, role: str) -> None:
    """tls12 as `role` against OpenSSL pinned to `suite`, in memory. The key logs agree; both ways,
    data of several record sizes arrives whole; every record each side sent after the handshake
    opens by hand with the keys the key log gives and the suite's nonce rule."""
    spec = SUITES[suite]
    our_log: list[str] = []
    client_config, server_config = configs(ca, leaf, suite, our_log.append)
    ours: ClientConnection | ServerConnection
    if role == "client":
        ours = ClientConnection(client_config, server_name="localhost")
        peer = StdlibPeer(_stdlib_context(pem_dir, suite, True, tmp_path / "keys.log"), server_side=True)
    else:
        ours = ServerConnection(server_config)
        peer = StdlibPeer(_stdlib_context(pem_dir, suite, False, tmp_path / "keys.log"), server_side=False,
                          server_hostname="localhost")
    assert HandshakeComplete() in pump_stdlib(ours, peer)
    assert ours.cipher_suite == suite
    cipher = peer.obj.cipher()
    assert cipher is not None and cipher[0] == spec.openssl_name and cipher[1] == "TLSv1.2"
    openssl_log = [line for line in (tmp_path / "keys.log").read_text().splitlines() if line.startswith("CLIENT")]
    assert openssl_log == our_log and len(our_log) == 1
    _, client_random, master = our_log[0].split()
    assert bytes.fromhex(client_random) == ours.client_random
    keys = key_block(spec, bytes.fromhex(master), ours.client_random, ours.server_random)
    ours_side, peer_side = ("client", "server") if role == "client" else ("server", "client")

    sizes = (1, 256, MAX_PLAINTEXT, 20000)
    payloads = [bytes((i + n) % 251 for i in range(n)) for n in sizes]
    for payload in payloads:
        ours.send_application_data(payload)
    ours_wire = ours.data_to_send()
    peer.incoming.write(ours_wire)
    got = b""
    while len(got) < sum(sizes):
        got += peer.obj.read(65536)
    assert got == b"".join(payloads)
    for payload in payloads:
        peer.obj.write(payload)
    peer_wire = peer.outgoing.read()
    events = ours.receive_data(peer_wire)
    assert b"".join(e.data for e in events if isinstance(e, ApplicationDataReceived)) == b"".join(payloads)

    # Sequence number 0 was each side's Finished: application data starts at 1.
    for side, wire in ((ours_side, ours_wire), (peer_side, peer_wire)):
        opened = [open_by_hand(spec, keys[f"{side}_key"], keys[f"{side}_iv"], seq, rec)
                  for seq, rec in enumerate(raw_records(wire), start=1)]
        assert all(t == APPDATA for t, _ in opened)
        assert b"".join(p for _, p in opened) == b"".join(payloads), side
        if spec.record_iv_len == 0:
            assert all(len(rec) - 5 == len(p) + 16 for rec, (_, p) in zip(raw_records(wire), opened, strict=True))
    if spec.aead is AEADKind.CHACHA20_POLY1305:
        # The hand-computed RFC 7905 nonce of OpenSSL's first data record: its IV XOR 1 in the last byte.
        iv = keys[f"{peer_side}_iv"]
        nonce = iv[:11] + bytes([iv[11] ^ 1])
        first = raw_records(peer_wire)[0]
        aad = (1).to_bytes(8, "big") + first[:3] + (1).to_bytes(2, "big")
        assert ChaCha20Poly1305(keys[f"{peer_side}_key"]).decrypt(nonce, first[5:], aad) == payloads[0]
        ours_cipher = ChaChaRecordAEAD(keys[f"{peer_side}_key"], iv)
        assert ours_cipher.nonce(1) == nonce


@pytest.mark.parametrize("suite", SPOKEN_AEADS, ids=suite_id)
def test_replayed_capture_opens_each_suite(pem_dir: Path, tmp_path: Path, suite: CipherSuite) -> None:
    """The explanation of a capture between two OpenSSL ends (any peer's bytes, with its key log)
    opens the records of each suite and shows ChaCha20's records without an explicit nonce."""
    server = StdlibPeer(_stdlib_context(pem_dir, suite, True, tmp_path / "s.log"), server_side=True)
    client = StdlibPeer(_stdlib_context(pem_dir, suite, False, tmp_path / "c.log"), server_side=False,
                        server_hostname="localhost")
    flows: list[Flow] = []
    for _ in range(6):
        for peer, direction, other in ((client, "c2s", server), (server, "s2c", client)):
            with contextlib.suppress(ssl.SSLWantReadError):
                peer.obj.do_handshake()
            data = peer.outgoing.read()
            if data:
                flows.append((C2S if direction == "c2s" else S2C, data))
                other.incoming.write(data)
    client.obj.write(b"GET / HTTP/1.0\r\n\r\n")
    data = client.outgoing.read()
    flows.append((C2S, data))
    server.incoming.write(data)
    assert server.obj.read(100) == b"GET / HTTP/1.0\r\n\r\n"
    doc = json.loads(render(replay(Capture(flows), (tmp_path / "c.log").read_text()), "json"))
    assert doc["complete"] is True
    records = [r for step in doc["steps"] for r in step.get("records", [])] + \
        [i["record"] for i in doc.get("after_handshake", []) if i.get("record")]
    protected = [r for r in records if r["protected"]]
    assert protected
    if SUITES[suite].record_iv_len:
        assert all(r["explicit_nonce"] is not None for r in protected)
    else:
        assert all(r["explicit_nonce"] is None for r in protected)
    assert "GET / HTTP/1.0" in render(replay(Capture(flows), (tmp_path / "c.log").read_text()), "text")



@pytest.mark.parametrize("suite", [AES256, CHACHA], ids=suite_id)
def test_short_protected_record_refused_from_its_header(ca: CertificateAuthority, leaf: IssuedCertificate,
                                                         suite: CipherSuite) -> None:
    """A protected record's header announcing fewer bytes than the cipher's explicit nonce and tag
    (23 for AES-GCM, 15 for ChaCha20) is bad_record_mac at once, before its body is awaited; the
    shortest sound length (the overhead itself: an empty record) waits for its body."""
    overhead = SUITES[suite].record_overhead
    client_config, server_config = configs(ca, leaf, suite)
    pair = established(client_config, server_config)
    expect_failure(pair.server, record(APPDATA, b"")[:3] + (overhead - 1).to_bytes(2, "big"), BadRecordMac,
                   AlertDescription.BAD_RECORD_MAC, peer=pair.client)
    pair = established(client_config, server_config)
    assert pair.server.receive_data(record(APPDATA, b"")[:3] + overhead.to_bytes(2, "big")) == []
    assert pair.server.failure is None
