"""Known-answer tests against oracles that share no code with tls12.

* The TLS 1.2 PRF with SHA-384 against OpenSSL's own TLS1-PRF, run through the
  ``openssl kdf`` command line (CI installs openssl: if it is missing these tests
  FAIL, they never skip), plus literal vectors pinned from that command.
* The master secret of real connections against the stdlib ssl module's key log
  (OpenSSL writes it, we write ours through ``ClientConfig/ServerConfig.key_log``).
* The key block and both Finished verify_data of those connections, recomputed
  with ``openssl kdf`` from the tracer's secrets and the handshake messages' bytes.
* One AES-GCM record, byte by byte, against cryptography's AESGCM used directly,
  and pinned as literal hex.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tls12 import (
    ApplicationDataReceived,
    ClientConfig,
    ClientConnection,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto import prf
from tls12.crypto.aead import GCMRecordAEAD
from tls12.errors import BadRecordMac
from tls12.messages import Alert, ChangeCipherSpec, HelloRequest
from tls12.trace import MessageTrace, SecretDerived, TraceEvent

from helpers import StdlibPeer, pump_stdlib, stdlib_client_context, stdlib_server_context

SHA384 = hashes.SHA384()

# -- the oracle: openssl kdf ... TLS1-PRF ----------------------------------------------

# `openssl kdf` prints the derived key as upper-case hex bytes joined by colons.
_OPENSSL_KDF_OUTPUT = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2})*")


def openssl_prf(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """P_SHA384(secret, label ‖ seed) as computed by OpenSSL's TLS1-PRF KDF.

    openssl kdf -keylen N -kdfopt digest:SHA384 -kdfopt hexsecret:<secret>
                -kdfopt hexseed:<label ‖ seed> TLS1-PRF
    """
    exe = shutil.which("openssl")
    if exe is None:
        pytest.fail("openssl is not on PATH: the known-answer tests need it (CI installs it)")
    assert secret, "openssl kdf cannot take an empty secret"
    cmd = [
        exe, "kdf",
        "-keylen", str(length),
        "-kdfopt", "digest:SHA384",
        "-kdfopt", f"hexsecret:{secret.hex()}",
        "-kdfopt", f"hexseed:{(label + seed).hex()}",
        "TLS1-PRF",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed: {proc.stderr}"
    text = proc.stdout.strip()
    assert _OPENSSL_KDF_OUTPUT.fullmatch(text), f"unexpected `openssl kdf` output: {proc.stdout!r}"
    out = bytes.fromhex(text.replace(":", ""))
    assert len(out) == length
    return out


def _material(tag: str, n: int) -> bytes:
    """Reproducible arbitrary bytes for test inputs."""
    return hashlib.shake_256(tag.encode()).digest(n)


# -- 1. the PRF ----------------------------------------------------------------------

# (secret length, label, seed length, output length). The SHA-384 block is 48 bytes
# and the HMAC block 128: lengths straddle both, the secret goes past 128 (HMAC then
# hashes the key), and labels and seeds are those the handshake uses.
PRF_CASES = [
    (48, b"master secret", 64, 48),
    (32, b"extended master secret", 48, 48),
    (48, b"key expansion", 64, 72),
    (48, b"client finished", 48, 12),
    (48, b"server finished", 48, 12),
    (16, b"test label", 16, 148),
    (1, b"x", 1, 1),
    (200, b"long secret", 10, 100),
    (48, b"", 300, 47),
    (48, b"many blocks", 32, 1000),
]


@pytest.mark.parametrize(("secret_len", "label", "seed_len", "length"), PRF_CASES)
def test_prf_matches_openssl(secret_len: int, label: bytes, seed_len: int, length: int) -> None:
    secret = _material(f"secret {secret_len} {label!r}", secret_len)
    seed = _material(f"seed {seed_len} {label!r}", seed_len)
    ours = prf.prf(secret, label, seed, length, SHA384)
    assert len(ours) == length
    assert ours == openssl_prf(secret, label, seed, length)


# Computed once with openssl 3.0 (the commands are in each comment) and pinned here, so
# the test still means something should `openssl kdf` change its output.
PINNED = [
    # openssl kdf -keylen 148 -kdfopt digest:SHA384 -kdfopt hexsecret:b80b733d6ceefcdc71566ea48e5567df
    #   -kdfopt hexseed:74657374206c6162656ccd665cf6a8447dd6ff8b27555edb7465 TLS1-PRF
    # (label "test label"; 148 is not a multiple of 48)
    (
        "b80b733d6ceefcdc71566ea48e5567df",
        b"test label",
        "cd665cf6a8447dd6ff8b27555edb7465",
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0"
        "e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
        "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e099070"
        "3d73e56f",
    ),
    # openssl kdf -keylen 72 -kdfopt digest:SHA384 -kdfopt hexsecret:000102...2f
    #   -kdfopt hexseed:6b657920657870616e73696f6ea0a1...bf TLS1-PRF
    # (a key block: label "key expansion", secret 00..2f, seed a0..bf)
    (
        bytes(range(48)).hex(),
        b"key expansion",
        bytes(range(0xA0, 0xC0)).hex(),
        "0e65b4c0bd809f4709e1f2fa0ab75e2cdac577e6afe7953312af9f8928ddbf734b53f9de379f826f6029af8c808e34dd"
        "5d08174ff77c1c6014d2dbdb36ce6bac9cd04defabb891a1",
    ),
]


@pytest.mark.parametrize(("secret_hex", "label", "seed_hex", "expected_hex"), PINNED)
def test_prf_pinned_vectors(secret_hex: str, label: bytes, seed_hex: str, expected_hex: str) -> None:
    secret, seed, expected = bytes.fromhex(secret_hex), bytes.fromhex(seed_hex), bytes.fromhex(expected_hex)
    assert prf.prf(secret, label, seed, len(expected), SHA384) == expected
    # Every prefix is the PRF of that length.
    for n in (1, 12, 48, 49, len(expected) - 1):
        assert prf.prf(secret, label, seed, n, SHA384) == expected[:n]
    # And the oracle still agrees with what it printed when the vector was pinned.
    assert openssl_prf(secret, label, seed, len(expected)) == expected


def test_prf_wrappers_match_openssl() -> None:
    """The labels and seed orders of RFC 5246 §8.1, §6.3, §7.4.9 and RFC 7627 §4."""
    pms, cr, sr = _material("pms", 32), _material("client random", 32), _material("server random", 32)
    session_hash, handshake_hash = _material("session hash", 48), _material("handshake hash", 48)
    master = prf.master_secret(pms, cr, sr, SHA384)
    assert master == openssl_prf(pms, b"master secret", cr + sr, 48)
    assert prf.extended_master_secret(pms, session_hash, SHA384) == openssl_prf(
        pms, b"extended master secret", session_hash, 48
    )
    assert prf.key_block(master, cr, sr, 72, SHA384) == openssl_prf(master, b"key expansion", sr + cr, 72)
    for label in (b"client finished", b"server finished"):
        assert prf.verify_data(master, label, handshake_hash, 12, SHA384) == openssl_prf(
            master, label, handshake_hash, 12
        )


# -- 2. and 3. real connections against the stdlib ssl module (OpenSSL) ---------------


@dataclass
class StdlibRun:
    ems: bool  # what the stdlib peer was configured with (we always offer or accept it)
    ours: ClientConnection | ServerConnection
    peer: StdlibPeer
    our_key_log: list[str]
    stdlib_key_log: list[str]
    trace: list[TraceEvent]


SIDES_AND_EMS = [
    pytest.param(("client", True), id="our-client-ems"),
    pytest.param(("client", False), id="our-client-no-ems"),
    pytest.param(("server", True), id="our-server-ems"),
    pytest.param(("server", False), id="our-server-no-ems"),
]


@pytest.fixture(params=SIDES_AND_EMS)
def stdlib_run(
    request: pytest.FixtureRequest, pem_dir: Path, tmp_path: Path, ca: CertificateAuthority, leaf: IssuedCertificate
) -> StdlibRun:
    """A full handshake plus one message each way; the param is (the side *we* play, EMS on the stdlib side)."""
    side, ems = request.param
    keylog = tmp_path / "stdlib.keylog"
    our_key_log: list[str] = []
    trace: list[TraceEvent] = []
    ours: ClientConnection | ServerConnection
    if side == "client":
        ctx = stdlib_server_context(pem_dir, ems=ems)
        ctx.keylog_filename = str(keylog)
        peer = StdlibPeer(ctx, server_side=True)
        config = ClientConfig(trust_anchors=[ca.certificate], key_log=our_key_log.append)
        ours = ClientConnection(config, server_name="localhost", tracer=trace.append)
    else:
        ctx = stdlib_client_context(pem_dir, ems=ems)
        ctx.keylog_filename = str(keylog)
        peer = StdlibPeer(ctx, server_side=False, server_hostname="localhost")
        server_config = ServerConfig(
            certificate_chain=leaf.chain, private_key=leaf.private_key, key_log=our_key_log.append
        )
        ours = ServerConnection(server_config, tracer=trace.append)
    assert pump_stdlib(ours, peer) == [HandshakeComplete()]
    # Data both ways: the keys we derived are the ones OpenSSL uses.
    ours.send_application_data(b"ping")
    peer.incoming.write(ours.data_to_send())
    assert peer.obj.read() == b"ping"
    peer.obj.write(b"pong")
    assert ours.receive_data(peer.outgoing.read()) == [ApplicationDataReceived(b"pong")]
    lines = [line for line in keylog.read_text().splitlines() if line and not line.startswith("#")]
    return StdlibRun(ems, ours, peer, our_key_log, lines, trace)


def _secrets(trace: list[TraceEvent]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for event in trace:
        if isinstance(event, SecretDerived):
            assert event.label not in out, f"{event.label} derived twice"
            out[event.label] = event.value
    return out


def test_master_secret_matches_openssl_key_log(stdlib_run: StdlibRun) -> None:
    run = stdlib_run
    assert run.ours.extended_master_secret is run.ems
    master = _secrets(run.trace)["master_secret"]
    assert len(master) == 48
    expected = f"CLIENT_RANDOM {run.ours.client_random.hex()} {master.hex()}"
    assert run.our_key_log == [expected]
    assert run.stdlib_key_log == [expected]


def _handshake_frames(trace: list[TraceEvent]) -> list[bytes]:
    """The transcript: every handshake message in order, as whole frames, without
    HelloRequest, ChangeCipherSpec and alerts."""
    frames = []
    for event in trace:
        if isinstance(event, MessageTrace) and not isinstance(event.message, ChangeCipherSpec | Alert | HelloRequest):
            raw = event.raw
            assert len(raw) >= 4 and int.from_bytes(raw[1:4], "big") == len(raw) - 4, raw[:8].hex()
            frames.append(raw)
    return frames


CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_KEY_EXCHANGE, SERVER_HELLO_DONE = 1, 2, 11, 12, 14
CLIENT_KEY_EXCHANGE, FINISHED, NEW_SESSION_TICKET = 16, 20, 4


def test_key_block_and_verify_data_match_openssl(stdlib_run: StdlibRun) -> None:
    run = stdlib_run
    conn, secrets = run.ours, _secrets(run.trace)
    frames = _handshake_frames(run.trace)
    # A NewSessionTicket before the server's Finished: both clients ask for a ticket (RFC 5077 §3.3);
    # OpenSSL issues one either way, tls12 only for a session with the extended master secret.
    ticket = [NEW_SESSION_TICKET] if run.ems or isinstance(conn, ClientConnection) else []
    assert [f[0] for f in frames] == [
        CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_KEY_EXCHANGE, SERVER_HELLO_DONE,
        CLIENT_KEY_EXCHANGE, FINISHED, *ticket, FINISHED,
    ]  # fmt: skip
    # The randoms, read from the hellos' bytes (type, length, version, then random).
    client_random, server_random = frames[0][6:38], frames[1][6:38]
    assert (conn.client_random, conn.server_random) == (client_random, server_random)

    # Master secret, from the ECDH shared secret.
    pms, master = secrets["pre_master_secret"], secrets["master_secret"]
    assert conn.extended_master_secret is run.ems
    if run.ems:
        session_hash = hashlib.sha384(b"".join(frames[:6])).digest()  # through ClientKeyExchange
        assert master == openssl_prf(pms, b"extended master secret", session_hash, 48)
    else:
        assert master == openssl_prf(pms, b"master secret", client_random + server_random, 48)

    # Key block: server_random first; client key, server key, client salt, server salt.
    key_block = openssl_prf(master, b"key expansion", server_random + client_random, 72)
    assert secrets["key_block"] == key_block
    assert secrets["client_write_key"] == key_block[0:32]
    assert secrets["server_write_key"] == key_block[32:64]
    assert secrets["client_write_IV"] == key_block[64:68]
    assert secrets["server_write_IV"] == key_block[68:72]

    # Finished: the client's hash ends at ClientKeyExchange, the server's adds the client Finished
    # (and the NewSessionTicket, RFC 5077 §3.3).
    client_hash = hashlib.sha384(b"".join(frames[:6])).digest()
    server_hash = hashlib.sha384(b"".join(frames[:-1])).digest()
    client_verify = openssl_prf(master, b"client finished", client_hash, 12)
    server_verify = openssl_prf(master, b"server finished", server_hash, 12)
    assert conn.client_finished == client_verify == frames[6][4:]
    assert conn.server_finished == server_verify == frames[-1][4:]
    # OpenSSL's own view: tls-unique is the first Finished of the handshake (RFC 5929 §3.1).
    assert run.peer.obj.get_channel_binding("tls-unique") == client_verify


# -- 4. one sealed record ------------------------------------------------------------

AEAD_KEY = bytes(range(0x40, 0x60))
AEAD_SALT = bytes.fromhex("c0ffee01")
AEAD_PLAINTEXT = b"known-answer record"
APPLICATION_DATA = 23

# Computed once with cryptography's AESGCM directly (key 40..5f, salt c0ffee01, nonce
# salt ‖ seq, AAD seq ‖ 17 0303 0013), see `_independent_record`.
PINNED_RECORDS = {
    0: "170303002b000000000000000057648a421e2e3fcd2f34a29b1aca262dca509ca665c0657402ee0bc67f9ff4e3e3efca",
    1: "170303002b0000000000000001e6ba59a1363752038da97e28fc9ab5f68899fb165bc3b79a4d4455ff8938fb5e616f9c",
}


def _independent_record(seq: int, content_type: int, plaintext: bytes) -> bytes:
    explicit = seq.to_bytes(8, "big")
    aad = explicit + bytes([content_type]) + b"\x03\x03" + len(plaintext).to_bytes(2, "big")
    body = explicit + AESGCM(AEAD_KEY).encrypt(AEAD_SALT + explicit, plaintext, aad)
    return bytes([content_type]) + b"\x03\x03" + len(body).to_bytes(2, "big") + body


def test_sealed_record_layout_and_known_answer() -> None:
    sender = GCMRecordAEAD(AEAD_KEY, AEAD_SALT)
    for seq in (0, 1):
        record = sender.seal(APPLICATION_DATA, AEAD_PLAINTEXT)
        assert len(record) == 5 + 8 + len(AEAD_PLAINTEXT) + 16
        assert record[0] == APPLICATION_DATA
        assert record[1:3] == b"\x03\x03"
        assert int.from_bytes(record[3:5], "big") == len(record) - 5 == 8 + len(AEAD_PLAINTEXT) + 16
        assert record[5:13] == seq.to_bytes(8, "big")  # the explicit nonce is the sequence number
        assert record == _independent_record(seq, APPLICATION_DATA, AEAD_PLAINTEXT)
        assert record.hex() == PINNED_RECORDS[seq]
    assert sender.seq == 2


def test_sealed_record_round_trips() -> None:
    sender, receiver = GCMRecordAEAD(AEAD_KEY, AEAD_SALT), GCMRecordAEAD(AEAD_KEY, AEAD_SALT)
    for seq in (0, 1):
        record = sender.seal(APPLICATION_DATA, AEAD_PLAINTEXT)
        assert receiver.open(record[0], 0x0303, record[5:]) == AEAD_PLAINTEXT
        assert receiver.seq == seq + 1
    # An empty fragment is the shortest valid record: nonce and tag only.
    empty = sender.seal(APPLICATION_DATA, b"")
    assert len(empty) == 5 + 24 and empty == _independent_record(2, APPLICATION_DATA, b"")
    assert receiver.open(APPLICATION_DATA, 0x0303, empty[5:]) == b""


def test_every_flipped_bit_is_bad_record_mac() -> None:
    record = bytes.fromhex(PINNED_RECORDS[0])
    body = record[5:]
    for i in range(len(body)):
        for bit in (0x01, 0x80):
            tampered = bytearray(body)
            tampered[i] ^= bit
            with pytest.raises(BadRecordMac):
                GCMRecordAEAD(AEAD_KEY, AEAD_SALT).open(APPLICATION_DATA, 0x0303, bytes(tampered))
    # The header is authenticated too (through the AAD), and so is the sequence number.
    with pytest.raises(BadRecordMac):
        GCMRecordAEAD(AEAD_KEY, AEAD_SALT).open(22, 0x0303, body)
    with pytest.raises(BadRecordMac):
        GCMRecordAEAD(AEAD_KEY, AEAD_SALT).open(APPLICATION_DATA, 0x0302, body)
    with pytest.raises(BadRecordMac):
        GCMRecordAEAD(AEAD_KEY, AEAD_SALT).open(APPLICATION_DATA, 0x0303, bytes.fromhex(PINNED_RECORDS[1])[5:])
    # The untampered body still opens.
    assert GCMRecordAEAD(AEAD_KEY, AEAD_SALT).open(APPLICATION_DATA, 0x0303, body) == AEAD_PLAINTEXT


@pytest.mark.parametrize("length", range(24))
def test_record_shorter_than_nonce_and_tag_is_bad_record_mac(length: int) -> None:
    body = bytes.fromhex(PINNED_RECORDS[0])[5 : 5 + length]
    assert len(body) == length
    with pytest.raises(BadRecordMac):
        GCMRecordAEAD(AEAD_KEY, AEAD_SALT).open(APPLICATION_DATA, 0x0303, body)

