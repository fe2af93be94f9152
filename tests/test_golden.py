"""Golden transcripts: a whole deterministic connection, replayed byte for byte.

Our client talks to our server in memory with fixed inputs only:

* the CA certificate, server certificate and RSA-2048 key in tests/data/
  (ca.pem, server.pem, server.key);
* `DeterministicProvider` on both sides (fixed randoms, ephemeral keys, and a
  clock fixed at 2026-01-01), with a seed per side and group;
* the server restricted to one group and to RSA_PKCS1_SHA256 (PKCS#1 v1.5
  signatures are deterministic, PSS ones are not);
* the server's session ticket keys derived from a fixed secret, and both sides'
  session clock fixed at the same instant (the client asks for a ticket: the
  server's last flight carries a NewSessionTicket).

Besides the three ECDHE_RSA transcripts (one per group), one transcript per other kind of suite
(`KINDS`): ECDHE_ECDSA over a P-256 certificate (tests/data/ecdsa-ca.pem, server-ecdsa.pem and
.key; ECDSA signatures use RFC 6979 nonces, so they are reproducible), DHE_RSA over ffdhe2048, and
static RSA. Static RSA's ClientKeyExchange is PKCS#1 v1.5 encryption, whose padding bytes
`cryptography` draws itself: the client's third flight cannot be reproduced, so for it the
recording pins the server (fed the recorded client flights, it answers byte for byte), the first
two flights, and the premaster inside the client's ClientKeyExchange.

The exchange is: the handshake, b"ping" from the client, b"pong" from the
server, then close_notify both ways. Every flight (all bytes one side sends
before the other answers) is a flow in tests/data/golden/<group>.txt::

    # comment lines (ignored)
    >>> Flow 1 (client to server)
    160301...            hex, 32 bytes a line
    >>> Flow 2 (server to client)
    ...

The tests check that a live run reproduces every flow exactly, and that each
side on its own (fed the other side's recorded flows) answers with exactly the
recorded bytes.

Re-recording, after an intended change to what goes on the wire::

    pytest tests/test_golden.py --update-golden

rewrites tests/data/golden/*.txt from the current implementation instead of
comparing (and creates the PEM inputs if they are missing; existing ones are
kept). Review the diff before committing it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tls12 import (
    ApplicationDataReceived,
    CipherSuite,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    DeterministicProvider,
    HandshakeComplete,
    NamedGroup,
    ServerConfig,
    ServerConnection,
    SignatureScheme,
)
from tls12.certs import CertificateAuthority
from tls12.events import Event
from tls12.messages import RSAClientKeyExchange, parse_handshake

from helpers import fixed_sessions

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
CA_PEM, SERVER_PEM, SERVER_KEY = DATA / "ca.pem", DATA / "server.pem", DATA / "server.key"
ECDSA_CA_PEM, ECDSA_SERVER_PEM = DATA / "ecdsa-ca.pem", DATA / "server-ecdsa.pem"
ECDSA_SERVER_KEY = DATA / "server-ecdsa.key"

GROUPS = {"x25519": NamedGroup.X25519, "secp256r1": NamedGroup.SECP256R1, "secp384r1": NamedGroup.SECP384R1}


@dataclass(frozen=True)
class Kind:
    """One suite of another kind than ECDHE_RSA, both sides restricted to it."""

    suite: CipherSuite
    group: NamedGroup | None
    scheme: SignatureScheme | None
    ca: Path = CA_PEM
    cert: Path = SERVER_PEM
    key: Path = SERVER_KEY
    #: False: the client's ClientKeyExchange is randomised outside the provider (static RSA).
    client_reproducible: bool = True


KINDS = {
    "ecdhe_ecdsa_p256": Kind(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, NamedGroup.SECP256R1,
                             SignatureScheme.ECDSA_SECP256R1_SHA256, ECDSA_CA_PEM, ECDSA_SERVER_PEM, ECDSA_SERVER_KEY),
    "dhe_rsa": Kind(CipherSuite.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, NamedGroup.FFDHE2048,
                    SignatureScheme.RSA_PKCS1_SHA256),
    "static_rsa": Kind(CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256, None, None, client_reproducible=False),
}
SERVER_NAME = "localhost"
PING, PONG = b"ping", b"pong"
CLOCK = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)  # DeterministicProvider's default, stated

C2S, S2C = "client to server", "server to client"
Conn = ClientConnection | ServerConnection
Flow = tuple[str, bytes]  # (direction, every byte of the flight)


def _update(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# -- the fixed inputs ------------------------------------------------------------------


def _create_pem_inputs() -> None:
    """Run once (by --update-golden when the files are missing); the files are then committed."""
    ca = CertificateAuthority("tls12 golden CA", now=datetime.datetime(2025, 12, 1, tzinfo=datetime.UTC))
    # The CA is valid 2025-11-30 .. 2035-11-29; the leaf stays inside it.
    leaf = ca.issue((SERVER_NAME, "127.0.0.1"), not_after=datetime.datetime(2035, 11, 1, tzinfo=datetime.UTC))
    DATA.mkdir(exist_ok=True)
    CA_PEM.write_bytes(ca.cert_pem())
    SERVER_PEM.write_bytes(leaf.cert_pem())
    SERVER_KEY.write_bytes(leaf.key_pem())


def _create_ecdsa_inputs() -> None:
    """An ECDSA P-256 CA and leaf for the ECDHE_ECDSA transcript (run once, like `_create_pem_inputs`)."""
    ca = CertificateAuthority("tls12 golden ECDSA CA", key_type="ecdsa",
                              now=datetime.datetime(2025, 12, 1, tzinfo=datetime.UTC))
    leaf = ca.issue((SERVER_NAME, "127.0.0.1"), key_type="ecdsa",
                    not_after=datetime.datetime(2035, 11, 1, tzinfo=datetime.UTC))
    ECDSA_CA_PEM.write_bytes(ca.cert_pem())
    ECDSA_SERVER_PEM.write_bytes(leaf.cert_pem())
    ECDSA_SERVER_KEY.write_bytes(leaf.key_pem())


def _clock() -> float:
    return CLOCK.timestamp()


def _configs(name: str) -> tuple[ClientConfig, ServerConfig]:
    """Fresh configs (and so fresh providers, whose output depends on how often they were called)."""
    if name in KINDS:
        kind = KINDS[name]
        client = ClientConfig(
            trust_anchors=x509.load_pem_x509_certificates(kind.ca.read_bytes()),
            cipher_suites=(kind.suite,),
            provider=DeterministicProvider(seed=f"tls12 golden client {name}".encode(), now=CLOCK),
            clock=_clock,
        )
        extra: dict[str, object] = {}
        if kind.group is not None:
            extra["groups"] = (kind.group,)
        if kind.scheme is not None:
            extra["signature_schemes"] = (kind.scheme,)
        server = ServerConfig.from_pem_files(
            kind.cert, kind.key, cipher_suites=(kind.suite,),
            provider=DeterministicProvider(seed=f"tls12 golden server {name}".encode(), now=CLOCK), **extra,
            **fixed_sessions(CLOCK),
        )
        return client, server
    client = ClientConfig(
        trust_anchors=x509.load_pem_x509_certificates(CA_PEM.read_bytes()),
        provider=DeterministicProvider(seed=f"tls12 golden client {name}".encode(), now=CLOCK),
        clock=_clock,
    )
    server = ServerConfig.from_pem_files(
        SERVER_PEM,
        SERVER_KEY,
        groups=(GROUPS[name],),
        signature_schemes=(SignatureScheme.RSA_PKCS1_SHA256,),
        provider=DeterministicProvider(seed=f"tls12 golden server {name}".encode(), now=CLOCK),
        **fixed_sessions(CLOCK),
    )
    return client, server


# -- the exchange ----------------------------------------------------------------------


def _send(data: bytes) -> Callable[[Conn], None]:
    return lambda conn: conn.send_application_data(data)


def _close(conn: Conn) -> None:
    conn.close()


@dataclass(frozen=True)
class Step:
    direction: str
    what: str
    receiver_events: list[Event]  # what the receiving side must report for this flow
    then: Callable[[Conn], None] | None = None  # what the receiving side does next


SCRIPT = [
    Step(C2S, "ClientHello", []),
    Step(S2C, "ServerHello, Certificate, ServerKeyExchange, ServerHelloDone", []),
    Step(C2S, "ClientKeyExchange, ChangeCipherSpec, Finished", [HandshakeComplete()]),
    Step(S2C, "NewSessionTicket, ChangeCipherSpec, Finished", [HandshakeComplete()], _send(PING)),
    Step(C2S, "application data", [ApplicationDataReceived(PING)], _send(PONG)),
    Step(S2C, "application data", [ApplicationDataReceived(PONG)], _close),
    Step(C2S, "close_notify", [ConnectionClosed()]),  # the server answers it by itself
    Step(S2C, "close_notify", [ConnectionClosed()]),
]


def _run_live(name: str) -> list[Flow]:
    """Our client against our server; returns every flow."""
    client_config, server_config = _configs(name)
    client = ClientConnection(client_config, server_name=SERVER_NAME)
    server = ServerConnection(server_config)
    flows: list[Flow] = []
    for n, step in enumerate(SCRIPT, 1):
        sender, receiver = (client, server) if step.direction == C2S else (server, client)
        data = sender.data_to_send()
        assert data, f"flow {n} ({step.what}) is empty"
        flows.append((step.direction, data))
        assert receiver.receive_data(data) == step.receiver_events, f"flow {n} ({step.what})"
        if step.then is not None:
            step.then(receiver)
    assert client.data_to_send() == server.data_to_send() == b""
    assert client.closed and server.closed and client.failure is None and server.failure is None
    if name in KINDS:
        kind = KINDS[name]
        assert client.cipher_suite == server.cipher_suite == kind.suite
        assert client.group == server.group == kind.group
        assert client.signature_scheme == server.signature_scheme == kind.scheme
    else:
        assert client.group == server.group == GROUPS[name]
        assert client.signature_scheme == SignatureScheme.RSA_PKCS1_SHA256
    return flows


def _replay_one_side(name: str, side: str, flows: list[Flow]) -> None:
    """Play one side alone: feed it the other side's recorded flows, and require that
    everything it sends is byte-identical to the recording."""
    client_config, server_config = _configs(name)
    conn: Conn
    if side == "client":
        conn, own = ClientConnection(client_config, server_name=SERVER_NAME), C2S
    else:
        conn, own = ServerConnection(server_config), S2C
    for n, (step, (direction, recorded)) in enumerate(zip(SCRIPT, flows, strict=True), 1):
        assert direction == step.direction
        if direction == own:
            _assert_same_bytes(conn.data_to_send(), recorded, f"{name} {side}, flow {n} ({step.what})")
        else:
            assert conn.receive_data(recorded) == step.receiver_events, f"{name} {side}, flow {n} ({step.what})"
            if step.then is not None:
                step.then(conn)
    assert conn.data_to_send() == b""
    assert conn.closed and conn.failure is None


# -- the file format -------------------------------------------------------------------

_HEADER = re.compile(r">>> Flow (\d+) \((client to server|server to client)\)")
_HEX_LINE = re.compile(r"(?:[0-9a-f]{2})+")
_BYTES_PER_LINE = 32
_CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}


def _records(data: bytes) -> list[bytes]:
    """Split a flow into its records (only to annotate the file)."""
    out, pos = [], 0
    while pos < len(data):
        end = pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
        out.append(data[pos:end])
        pos = end
    return out


def _format(name: str, flows: list[Flow]) -> str:
    if name in KINDS:
        kind = KINDS[name]
        what = (f"{kind.suite.name}, group {kind.group.name.lower() if kind.group else '-'}, "
                f"signature {kind.scheme.name.lower() if kind.scheme else '-'},")
        files = f"tests/data/{kind.ca.name}, {kind.cert.name} + {kind.key.name}."
    else:
        what = f"ECDHE-RSA-AES128-GCM-SHA256 over {name}, RSA_PKCS1_SHA256,"
        files = "tests/data/{ca,server}.pem + server.key."
    lines = [
        f"# tls12 golden transcript: {what}",
        f"# DeterministicProvider on both sides, clock 2026-01-01, {files}",
        "# Generated by tests/test_golden.py; re-record with: pytest tests/test_golden.py --update-golden",
        "# Lines starting with '#' are ignored when the file is read.",
    ]
    for n, ((direction, data), step) in enumerate(zip(flows, SCRIPT, strict=True), 1):
        lines += ["", f">>> Flow {n} ({direction})", f"# {step.what}"]
        for record in _records(data):
            kind = _CONTENT_TYPES.get(record[0], f"type {record[0]}")
            lines.append(f"# record: {kind}, version {record[1:3].hex()}, {len(record) - 5} bytes")
            lines += [record[i : i + _BYTES_PER_LINE].hex() for i in range(0, len(record), _BYTES_PER_LINE)]
    return "\n".join(lines) + "\n"


def _parse(text: str) -> list[Flow]:
    flows: list[tuple[str, bytearray]] = []
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        header = _HEADER.fullmatch(line)
        if header is not None:
            assert int(header[1]) == len(flows) + 1, f"line {lineno}: flows out of order"
            flows.append((header[2], bytearray()))
        else:
            assert flows, f"line {lineno}: hex before the first flow header"
            assert _HEX_LINE.fullmatch(line), f"line {lineno}: not lower-case hex: {line!r}"
            flows[-1][1].extend(bytes.fromhex(line))
    assert all(data for _, data in flows), "a flow without bytes"
    return [(direction, bytes(data)) for direction, data in flows]


_written: dict[str, list[Flow]] = {}


def _golden(name: str, update: bool) -> list[Flow]:
    """The recorded flows for `name`; with --update-golden, record them first (once a session)."""
    path = GOLDEN / f"{name}.txt"
    if update and name not in _written:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        flows = _run_live(name)
        path.write_text(_format(name, flows))
        _written[name] = flows
    assert path.exists(), f"{path} is missing: record it with pytest tests/test_golden.py --update-golden"
    flows = _parse(path.read_text())
    assert [d for d, _ in flows] == [step.direction for step in SCRIPT], f"{path}: unexpected flows"
    return flows


def _assert_same_bytes(actual: bytes, expected: bytes, what: str) -> None:
    if actual == expected:
        return
    diff = next((i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b), None)
    if diff is None:
        diff = min(len(actual), len(expected))
    start = max(0, diff - 8)
    pytest.fail(
        f"{what}: {len(actual)} bytes, recorded {len(expected)}; first difference at byte {diff}:\n"
        f"  got      ...{actual[start : diff + 16].hex()}\n"
        f"  recorded ...{expected[start : diff + 16].hex()}"
    )


@pytest.fixture(scope="module", autouse=True)
def pem_inputs(request: pytest.FixtureRequest) -> None:
    if _update(request) and not all(p.exists() for p in (CA_PEM, SERVER_PEM, SERVER_KEY)):
        _create_pem_inputs()
    if _update(request) and not all(p.exists() for p in (ECDSA_CA_PEM, ECDSA_SERVER_PEM, ECDSA_SERVER_KEY)):
        _create_ecdsa_inputs()


def _reproducible_flows(name: str) -> int:
    """How many flows, from the first, a live run reproduces byte for byte."""
    return len(SCRIPT) if name not in KINDS or KINDS[name].client_reproducible else 2


@pytest.mark.parametrize("name", [*GROUPS, *KINDS])
def test_live_exchange_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    recorded = _golden(name, _update(request))
    live = _run_live(name)
    assert len(live) == len(recorded)
    for n, ((direction, data), (rec_direction, rec_data), step) in enumerate(
        zip(live, recorded, SCRIPT, strict=True), 1
    ):
        assert direction == rec_direction
        if n <= _reproducible_flows(name):
            _assert_same_bytes(data, rec_data, f"{name}, flow {n} ({direction}: {step.what})")


@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("name", [*GROUPS, *[k for k, v in KINDS.items() if v.client_reproducible]])
def test_each_side_alone_matches_golden(name: str, side: str, request: pytest.FixtureRequest) -> None:
    _replay_one_side(name, side, _golden(name, _update(request)))


@pytest.mark.parametrize("name", [k for k, v in KINDS.items() if not v.client_reproducible])
def test_static_rsa_server_alone_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    _replay_one_side(name, "server", _golden(name, _update(request)))


@pytest.mark.parametrize("name", [k for k, v in KINDS.items() if not v.client_reproducible])
def test_static_rsa_client_alone_sends_the_recorded_premaster(name: str, request: pytest.FixtureRequest) -> None:
    """The client alone: its hello byte for byte, and under the fresh PKCS#1 padding of its
    ClientKeyExchange the recorded premaster (client_version + 46 bytes from the provider)."""
    flows = _golden(name, _update(request))
    client_config, server_config = _configs(name)
    client = ClientConnection(client_config, server_name=SERVER_NAME)
    _assert_same_bytes(client.data_to_send(), flows[0][1], f"{name} client, flow 1")
    assert client.receive_data(flows[1][1]) == []
    key = server_config.credentials[0].private_key
    assert isinstance(key, rsa.RSAPrivateKey)

    def premaster(flow: bytes) -> bytes:
        record = _records(flow)[0]
        cke = parse_handshake(record[5], record[9:], "RSA")
        assert isinstance(cke, RSAClientKeyExchange)
        return key.decrypt(cke.encrypted_pre_master_secret, padding.PKCS1v15())

    ours = client.data_to_send()
    assert ours != flows[2][1]  # new padding bytes
    assert premaster(ours) == premaster(flows[2][1])
    assert premaster(ours)[:2] == b"\x03\x03" and len(premaster(ours)) == 48


def test_golden_inputs() -> None:
    """The stored certificate and key are what the transcripts were recorded with."""
    ca = x509.load_pem_x509_certificate(CA_PEM.read_bytes())
    chain = x509.load_pem_x509_certificates(SERVER_PEM.read_bytes())
    assert len(chain) == 1
    leaf = chain[0]
    assert leaf.issuer == ca.subject
    for cert in (ca, leaf):
        assert cert.not_valid_before_utc <= CLOCK <= cert.not_valid_after_utc
    _, server_config = _configs("x25519")  # loads the key and checks it matches the leaf
    assert isinstance(server_config.private_key, rsa.RSAPrivateKey)
    assert server_config.private_key.key_size == 2048
    ecdsa_ca = x509.load_pem_x509_certificate(ECDSA_CA_PEM.read_bytes())
    [ecdsa_leaf] = x509.load_pem_x509_certificates(ECDSA_SERVER_PEM.read_bytes())
    assert ecdsa_leaf.issuer == ecdsa_ca.subject
    assert ecdsa_leaf.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo) == \
        _configs("ecdhe_ecdsa_p256")[1].credentials[0].leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
