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
static RSA; and one mutual-TLS handshake (ECDHE_RSA over x25519, the server requiring a client
certificate: an ECDSA P-256 one from tests/data/client-ca.pem, client.pem and .key, which signs its
CertificateVerify with ecdsa_secp256r1_sha256).

And three resumed connections (`RESUMED`, RFC 5246 §7.3): a first, full handshake (ECDHE_RSA over
x25519, recorded nowhere: it is run again whenever needed, deterministically) makes a session, and the
recorded connection offers it: by its ticket; by its session ID (the client asks for no ticket, the
server keeps sessions in a store); and by a ticket whose key has rotated since (an hour later: the
previous slot's key still opens it), which the server renews. Their exchange is the abbreviated
handshake (`RESUMED_SCRIPT`): the server's ChangeCipherSpec and Finished come first, and the client
sends b"ping" in the flight of its own Finished.

Static RSA's ClientKeyExchange is PKCS#1 v1.5 encryption, whose padding bytes `cryptography` draws
itself: the client's third flight cannot be reproduced, so for it the recording pins the server
(fed the recorded client flights, it answers byte for byte), the first two flights, and the
premaster inside the client's ClientKeyExchange.

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

import dataclasses
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
    MemorySessionStore,
    NamedGroup,
    ServerConfig,
    ServerConnection,
    Session,
    SignatureScheme,
)
from tls12.certs import CertificateAuthority
from tls12.crypto.credentials import Credential
from tls12.events import Event
from tls12.messages import RSAClientKeyExchange, parse_handshake

from helpers import fixed_sessions, pump

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
CA_PEM, SERVER_PEM, SERVER_KEY = DATA / "ca.pem", DATA / "server.pem", DATA / "server.key"
ECDSA_CA_PEM, ECDSA_SERVER_PEM = DATA / "ecdsa-ca.pem", DATA / "server-ecdsa.pem"
ECDSA_SERVER_KEY = DATA / "server-ecdsa.key"
CLIENT_CA_PEM, CLIENT_PEM, CLIENT_KEY = DATA / "client-ca.pem", DATA / "client.pem", DATA / "client.key"

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
    #: Mutual TLS: the scheme the client's certificate (CLIENT_PEM) signs with; the server requires it.
    client_scheme: SignatureScheme | None = None


KINDS = {
    "ecdhe_ecdsa_p256": Kind(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, NamedGroup.SECP256R1,
                             SignatureScheme.ECDSA_SECP256R1_SHA256, ECDSA_CA_PEM, ECDSA_SERVER_PEM, ECDSA_SERVER_KEY),
    "dhe_rsa": Kind(CipherSuite.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, NamedGroup.FFDHE2048,
                    SignatureScheme.RSA_PKCS1_SHA256),
    "static_rsa": Kind(CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256, None, None, client_reproducible=False),
    "mutual_tls": Kind(CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, NamedGroup.X25519,
                       SignatureScheme.RSA_PKCS1_SHA256, client_scheme=SignatureScheme.ECDSA_SECP256R1_SHA256),
}
#: Resumed connections, by how the session is offered: "ticket", "id", or "renewed" (a ticket from the previous
#: rotation slot's key).
RESUMED = {"resumed_ticket": "ticket", "resumed_id": "id", "resumed_renewed": "renewed"}
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


def _resumed_setup(name: str) -> tuple[ClientConfig, ServerConfig, Session]:
    """The configurations of a resumed connection and the session it offers, made by a first, full handshake
    (run here, deterministically) whose server keeps its sessions in the store the second one uses."""
    how = RESUMED[name]
    client = ClientConfig(
        trust_anchors=x509.load_pem_x509_certificates(CA_PEM.read_bytes()),
        provider=DeterministicProvider(seed=f"tls12 golden client {name} first".encode(), now=CLOCK),
        session_tickets=how != "id",
        clock=_clock,
    )
    server = ServerConfig.from_pem_files(
        SERVER_PEM, SERVER_KEY, groups=(NamedGroup.X25519,), signature_schemes=(SignatureScheme.RSA_PKCS1_SHA256,),
        provider=DeterministicProvider(seed=f"tls12 golden server {name} first".encode(), now=CLOCK),
        session_store=MemorySessionStore(), **fixed_sessions(CLOCK),
    )
    first_client, first_server = ClientConnection(client, server_name=SERVER_NAME), ServerConnection(server)
    pump(first_client, first_server)
    session = first_client.session
    assert session is not None and first_client.handshake_complete and not first_client.session_reused
    # The renewed ticket's connection comes an hour later: the next rotation slot, whose key seals; the
    # previous one's, which sealed the ticket, still opens it.
    later = CLOCK + datetime.timedelta(hours=1) if how == "renewed" else CLOCK
    sessions = fixed_sessions(later)
    client = dataclasses.replace(client, clock=sessions["clock"], provider=DeterministicProvider(
        seed=f"tls12 golden client {name}".encode(), now=later))
    server = dataclasses.replace(server, **sessions, provider=DeterministicProvider(
        seed=f"tls12 golden server {name}".encode(), now=later))
    return client, server, session


def session_for(name: str) -> Session | None:
    """The session a golden connection offers (None: a full handshake, nothing offered)."""
    return _resumed_setup(name)[2] if name in RESUMED else None


def _create_client_inputs() -> None:
    """A client CA and an ECDSA P-256 client certificate for the mutual-TLS transcript (run once)."""
    ca = CertificateAuthority("tls12 golden client CA", now=datetime.datetime(2025, 12, 1, tzinfo=datetime.UTC))
    leaf = ca.issue(("client.example",), key_type="ecdsa", client=True,
                    not_after=datetime.datetime(2035, 11, 1, tzinfo=datetime.UTC))
    CLIENT_CA_PEM.write_bytes(ca.cert_pem())
    CLIENT_PEM.write_bytes(leaf.cert_pem())
    CLIENT_KEY.write_bytes(leaf.key_pem())


def client_credential() -> Credential:
    """The golden client certificate and its key."""
    return Credential.from_pem(CLIENT_PEM.read_bytes(), CLIENT_KEY.read_bytes())


def _configs(name: str) -> tuple[ClientConfig, ServerConfig]:
    """Fresh configs (and so fresh providers, whose output depends on how often they were called)."""
    if name in RESUMED:
        client_config, server_config, _ = _resumed_setup(name)
        return client_config, server_config
    if name in KINDS:
        kind = KINDS[name]
        client = ClientConfig(
            trust_anchors=x509.load_pem_x509_certificates(kind.ca.read_bytes()),
            cipher_suites=(kind.suite,),
            provider=DeterministicProvider(seed=f"tls12 golden client {name}".encode(), now=CLOCK),
            client_credentials=[client_credential()] if kind.client_scheme is not None else [],
            clock=_clock,
        )
        extra: dict[str, object] = {}
        if kind.group is not None:
            extra["groups"] = (kind.group,)
        # The CertificateRequest offers the server's schemes: the client's must be among them.
        schemes = tuple(scheme for scheme in (kind.scheme, kind.client_scheme) if scheme is not None)
        if schemes:
            extra["signature_schemes"] = schemes
        if kind.client_scheme is not None:
            extra["client_auth"] = "required"
            extra["client_trust_anchors"] = x509.load_pem_x509_certificates(CLIENT_CA_PEM.read_bytes())
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


#: The abbreviated handshake (RFC 5246 §7.3): the server's Finished first; the client, done when it has
#: checked it, sends b"ping" with its own Finished.
RESUMED_SCRIPT = [
    Step(C2S, "ClientHello", []),
    Step(S2C, "ServerHello, ChangeCipherSpec, Finished", [HandshakeComplete()], _send(PING)),
    Step(C2S, "ChangeCipherSpec, Finished, application data", [HandshakeComplete(), ApplicationDataReceived(PING)],
         _send(PONG)),
    Step(S2C, "application data", [ApplicationDataReceived(PONG)], _close),
    Step(C2S, "close_notify", [ConnectionClosed()]),  # the server answers it by itself
    Step(S2C, "close_notify", [ConnectionClosed()]),
]


def script(name: str) -> list[Step]:
    return RESUMED_SCRIPT if name in RESUMED else SCRIPT


def _run_live(name: str) -> list[Flow]:
    """Our client against our server; returns every flow."""
    client_config, server_config = _configs(name)
    client = ClientConnection(client_config, server_name=SERVER_NAME, session=session_for(name))
    server = ServerConnection(server_config)
    flows: list[Flow] = []
    for n, step in enumerate(script(name), 1):
        sender, receiver = (client, server) if step.direction == C2S else (server, client)
        data = sender.data_to_send()
        assert data, f"flow {n} ({step.what}) is empty"
        flows.append((step.direction, data))
        assert receiver.receive_data(data) == step.receiver_events, f"flow {n} ({step.what})"
        if step.then is not None:
            step.then(receiver)
    assert client.data_to_send() == server.data_to_send() == b""
    assert client.closed and server.closed and client.failure is None and server.failure is None
    if name in RESUMED:
        assert client.session_reused and server.session_reused
        assert client.session is not None and server.session is not None
        assert (client.session.ticket != session_for(name).ticket) == (RESUMED[name] == "renewed")  # type: ignore[union-attr]
    elif name in KINDS:
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
        conn, own = ClientConnection(client_config, server_name=SERVER_NAME, session=session_for(name)), C2S
    else:
        conn, own = ServerConnection(server_config), S2C
    for n, (step, (direction, recorded)) in enumerate(zip(script(name), flows, strict=True), 1):
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


def _what(name: str, step: Step) -> str:
    """What a flow carries: in mutual TLS, the server asks for a certificate and the client answers; a ticket is
    renewed before the server's ChangeCipherSpec."""
    if RESUMED.get(name) == "renewed":
        return step.what.replace("ServerHello,", "ServerHello, NewSessionTicket,")
    if name not in KINDS or KINDS[name].client_scheme is None:
        return step.what
    return step.what.replace("ServerHelloDone", "CertificateRequest, ServerHelloDone").replace(
        "ClientKeyExchange,", "Certificate, ClientKeyExchange, CertificateVerify,")


def _format(name: str, flows: list[Flow]) -> str:
    if name in RESUMED:
        offered = {"ticket": "by its ticket", "id": "by its session ID (from the server's store)",
                   "renewed": "by a ticket from the previous key, an hour later (renewed)"}[RESUMED[name]]
        what = (f"a session resumed {offered}, made by a full handshake (ECDHE-RSA-AES128-GCM-SHA256 over x25519, "
                "not recorded),")
        files = "tests/data/{ca,server}.pem + server.key."
    elif name in KINDS:
        kind = KINDS[name]
        what = (f"{kind.suite.name}, group {kind.group.name.lower() if kind.group else '-'}, "
                f"signature {kind.scheme.name.lower() if kind.scheme else '-'},")
        files = f"tests/data/{kind.ca.name}, {kind.cert.name} + {kind.key.name}."
        if kind.client_scheme is not None:
            what += " client certificate required,"
            files = files[:-1] + f"; client: {CLIENT_CA_PEM.name}, {CLIENT_PEM.name} + {CLIENT_KEY.name}."
    else:
        what = f"ECDHE-RSA-AES128-GCM-SHA256 over {name}, RSA_PKCS1_SHA256,"
        files = "tests/data/{ca,server}.pem + server.key."
    lines = [
        f"# tls12 golden transcript: {what}",
        f"# DeterministicProvider on both sides, clock 2026-01-01, {files}",
        "# Generated by tests/test_golden.py; re-record with: pytest tests/test_golden.py --update-golden",
        "# Lines starting with '#' are ignored when the file is read.",
    ]
    for n, ((direction, data), step) in enumerate(zip(flows, script(name), strict=True), 1):
        lines += ["", f">>> Flow {n} ({direction})", f"# {_what(name, step)}"]
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
    assert [d for d, _ in flows] == [step.direction for step in script(name)], f"{path}: unexpected flows"
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
    if _update(request) and not all(p.exists() for p in (CLIENT_CA_PEM, CLIENT_PEM, CLIENT_KEY)):
        _create_client_inputs()


def _reproducible_flows(name: str) -> int:
    """How many flows, from the first, a live run reproduces byte for byte."""
    return len(script(name)) if name not in KINDS or KINDS[name].client_reproducible else 2


@pytest.mark.parametrize("name", [*GROUPS, *KINDS, *RESUMED])
def test_live_exchange_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    recorded = _golden(name, _update(request))
    live = _run_live(name)
    assert len(live) == len(recorded)
    for n, ((direction, data), (rec_direction, rec_data), step) in enumerate(
        zip(live, recorded, script(name), strict=True), 1
    ):
        assert direction == rec_direction
        if n <= _reproducible_flows(name):
            _assert_same_bytes(data, rec_data, f"{name}, flow {n} ({direction}: {step.what})")


@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("name", [*GROUPS, *[k for k, v in KINDS.items() if v.client_reproducible], *RESUMED])
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
    client_ca = x509.load_pem_x509_certificate(CLIENT_CA_PEM.read_bytes())
    credential = client_credential()  # loads the key and checks it matches the leaf
    assert credential.leaf.issuer == client_ca.subject and credential.key_type == "ecdsa-p256"
    for cert in (client_ca, credential.leaf):
        assert cert.not_valid_before_utc <= CLOCK <= cert.not_valid_after_utc
    assert ecdsa_leaf.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo) == \
        _configs("ecdhe_ecdsa_p256")[1].credentials[0].leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
