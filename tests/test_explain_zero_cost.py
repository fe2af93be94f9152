"""With no tracer attached, a connection does no tracing work.

Every trace event class is made to refuse construction, and every function
the core calls only to trace (the record tracers, the chain tracers, the
record peek that exists for tracing) is made to refuse being called. Then
whole connections run without a tracer: handshakes, application data both
ways (more than one record), a clean close, a refused renegotiation, a peer
that vanishes, a forged record, and failures at both ends; our server is also
driven by OpenSSL's client alone. Nothing may trip. The control test attaches
a tracer to the same runs and requires the traps to trip, so they are armed.

The cost of the tracing support itself is measured by
tests/bench_trace_overhead.py (timings do not belong in assertions).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tls12 import ClientConfig, ClientConnection, NamedGroup, ServerConfig, ServerConnection, TLSError
from tls12 import connection as connection_module
from tls12 import trace as trace_module
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.explain import Recorder
from tls12.handshake import client as client_module
from tls12.handshake import server as server_module
from tls12.messages import ClientHello, encode_handshake
from tls12.record.layer import RecordLayer
from tls12.trace import Tracer

from helpers import StdlibPeer, stdlib_client_context

EVENT_CLASSES = (trace_module.MessageTrace, trace_module.RecordTrace, trace_module.Decision,
                 trace_module.Verification, trace_module.SecretDerived, trace_module.Failure)

# What the core calls only to trace.
HOOKS: list[tuple[Any, str]] = [
    (connection_module._Connection, "_trace_in"),
    (connection_module._Connection, "_trace_out"),
    (RecordLayer, "peek"),
    (client_module, "_trace_chain"),
    (client_module, "_trace_chain_failure"),
    (client_module, "_client_credential_why"),
    (server_module, "_client_auth_why"),
    (server_module, "_trace_client_chain"),
]

TracerFor = Callable[[str], Tracer | None]


class Trap:
    def __init__(self) -> None:
        self.tripped: list[str] = []


def _arm_events(monkeypatch: pytest.MonkeyPatch, trap: Trap) -> None:
    for cls in EVENT_CLASSES:
        def refuse(self: object, *args: object, _name: str = cls.__name__, **kwargs: object) -> None:
            trap.tripped.append(_name)
            raise AssertionError(f"{_name} built")

        monkeypatch.setattr(cls, "__init__", refuse)


def _arm_hooks(monkeypatch: pytest.MonkeyPatch, trap: Trap) -> None:
    for owner, name in HOOKS:
        def refuse(*args: object, _name: str = name, **kwargs: object) -> None:
            trap.tripped.append(_name)
            raise AssertionError(f"{_name} called")

        monkeypatch.setattr(owner, name, refuse)


@pytest.fixture
def trap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Trap]:
    t = Trap()
    _arm_events(monkeypatch, t)
    _arm_hooks(monkeypatch, t)
    yield t


# -- the runs ----------------------------------------------------------------------------------------


def _shuttle(client: ClientConnection, server: ServerConnection) -> None:
    """Pump bytes both ways until quiet; a failing side's alert is still delivered."""
    for _ in range(12):
        moved = False
        for sender, receiver in ((client, server), (server, client)):
            data = sender.data_to_send()
            if data:
                moved = True
                if receiver.failure is None:
                    with contextlib.suppress(TLSError):
                        receiver.receive_data(data)
        if not moved:
            return


def _pair(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor, *, name: str = "localhost",
          client: dict[str, Any] | None = None, server: dict[str, Any] | None = None,
          anchors: CertificateAuthority | None = None) -> tuple[ClientConnection, ServerConnection]:
    client_config = ClientConfig(trust_anchors=[(anchors or ca).certificate], **(client or {}))
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, **(server or {}))
    return (ClientConnection(client_config, server_name=name, tracer=tracer("client")),
            ServerConnection(server_config, tracer=tracer("server")))


def _record(content_type: int, body: bytes) -> bytes:
    return bytes((content_type, 3, 3)) + len(body).to_bytes(2, "big") + body


def full_connection(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor, pem_dir: Path) -> None:
    client, server = _pair(ca, leaf, tracer)
    _shuttle(client, server)
    assert client.handshake_complete and server.handshake_complete, (client.failure, server.failure)
    client.send_application_data(b"ping" * 5000)  # more than one record
    server.send_application_data(b"pong")
    _shuttle(client, server)
    # A renegotiation attempt (a new ClientHello) is refused with a warning; the connection stays up.
    hello = ClientHello(client_version=0x0303, random=bytes(32), session_id=b"",  # type: ignore[arg-type]
                        cipher_suites=(0xC030,))  # type: ignore[arg-type]
    client._send_record(22, encode_handshake(hello))  # type: ignore[arg-type]
    _shuttle(client, server)
    assert server.failure is None
    client.close()
    _shuttle(client, server)
    assert client.closed and server.closed and client.failure is None and server.failure is None


def unknown_ca(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor, pem_dir: Path) -> None:
    client, server = _pair(ca, leaf, tracer, anchors=CertificateAuthority("a stranger"))
    _shuttle(client, server)
    assert client.failure is not None and server.failure is not None


def wrong_name(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor, pem_dir: Path) -> None:
    client, server = _pair(ca, leaf, tracer, name="www.example.com")
    _shuttle(client, server)
    assert client.failure is not None and server.failure is not None


def no_common_group(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor, pem_dir: Path) -> None:
    client, server = _pair(ca, leaf, tracer, client={"groups": (NamedGroup.X25519,)},
                           server={"groups": (NamedGroup.SECP384R1,)})
    _shuttle(client, server)
    assert server.failure is not None and client.failure is not None


def verification_off(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor, pem_dir: Path) -> None:
    client, server = _pair(ca, leaf, tracer, client={"verify_certificates": False})
    _shuttle(client, server)
    assert client.handshake_complete and server.handshake_complete


def peer_vanishes_and_forges(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor,
                             pem_dir: Path) -> None:
    client, server = _pair(ca, leaf, tracer)
    _shuttle(client, server)
    with pytest.raises(TLSError):
        client.receive_data(b"")  # EOF without close_notify
    with pytest.raises(TLSError):
        server.receive_data(_record(23, bytes(40)))  # a forged record: bad_record_mac


def server_against_openssl(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor,
                           pem_dir: Path) -> None:
    """Only our server runs (the client is OpenSSL): the server's own paths, alone."""
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=tracer("server"))
    peer = StdlibPeer(stdlib_client_context(pem_dir), server_side=False, server_hostname="localhost")
    for _ in range(10):
        with contextlib.suppress(ssl.SSLWantReadError):
            peer.obj.do_handshake()
        data = peer.outgoing.read()
        if data:
            server.receive_data(data)
        out = server.data_to_send()
        if out:
            peer.incoming.write(out)
        if server.handshake_complete and not data and not out:
            break
    assert server.handshake_complete
    peer.obj.write(b"hello")
    assert [e.data for e in server.receive_data(peer.outgoing.read())] == [b"hello"]  # type: ignore[attr-defined]
    server.send_application_data(b"hi")
    peer.incoming.write(server.data_to_send())
    assert peer.obj.read() == b"hi"


def mutual_tls(ca: CertificateAuthority, leaf: IssuedCertificate, tracer: TracerFor, pem_dir: Path) -> None:
    """A client certificate asked for, chosen, verified, and its CertificateVerify checked; then one from a CA
    the server does not trust, and none where one is required."""
    client_ca = CertificateAuthority("client CA")
    mine = client_ca.issue(("client.example",), key_type="ecdsa-p256", client=True)
    stranger = CertificateAuthority("a stranger").issue(("client.example",), key_type="ecdsa-p256", client=True)
    server = {"client_auth": "required", "client_trust_anchors": [client_ca.certificate]}
    for credentials, ok in (([mine.credential()], True), ([stranger.credential()], False), ([], False)):
        client, server_conn = _pair(ca, leaf, tracer, client={"client_credentials": credentials}, server=server)
        _shuttle(client, server_conn)
        assert (server_conn.failure is None) is ok, server_conn.failure
        assert client.handshake_complete is ok and server_conn.handshake_complete is ok


Scenario = Callable[[CertificateAuthority, IssuedCertificate, TracerFor, Path], None]
SCENARIOS: list[Scenario] = [full_connection, unknown_ca, wrong_name, no_common_group, verification_off,
                             peer_vanishes_and_forges, server_against_openssl, mutual_tls]


def _no_tracer(_: str) -> Tracer | None:
    return None


# -- the tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_no_tracing_work_without_a_tracer(trap: Trap, scenario: Scenario, ca: CertificateAuthority,
                                          leaf: IssuedCertificate, pem_dir: Path) -> None:
    scenario(ca, leaf, _no_tracer, pem_dir)
    assert trap.tripped == [], f"built or called without a tracer: {sorted(set(trap.tripped))}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_the_traps_fire_when_a_tracer_is_attached(trap: Trap, scenario: Scenario, ca: CertificateAuthority,
                                                  leaf: IssuedCertificate, pem_dir: Path) -> None:
    recorder = Recorder()

    def tracer(side: str) -> Tracer | None:
        return recorder.tracer("client" if side == "client" else "server")

    with contextlib.suppress(AssertionError, TLSError):  # the traps make a traced run fail
        scenario(ca, leaf, tracer, pem_dir)
    assert trap.tripped, "a traced run must build events and call the hooks (or the traps are not armed)"


def test_without_traps_the_runs_pass(ca: CertificateAuthority, leaf: IssuedCertificate, pem_dir: Path) -> None:
    """The scenarios themselves are sound (so a trap, not the scenario, is what a failure above means)."""
    recorder = Recorder()
    for scenario in SCENARIOS:
        scenario(ca, leaf, _no_tracer, pem_dir)
        scenario(ca, leaf, lambda side: recorder.tracer("client" if side == "client" else "server"), pem_dir)
    assert recorder.events
