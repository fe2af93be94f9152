"""Session resumption (RFC 5246 §7.3) by session ID and by RFC 5077 ticket, both roles.

Our client against our server, and each against the stdlib ssl module (OpenSSL) over MemoryBIOs.
What a session is bound to (suite, SNI, ALPN choice, verification policy, client certificate,
extended master secret, lifetime) is checked from both sides: a client does not offer a session
that no longer fits, a server answers one with a full handshake, never an error (RFC 7627 §5.3's
abort is the one exception). Tickets: rotation and renewal, a fleet sharing a secret, tampering.
Store and ticket-key failures are misses. tests/test_session.py has the encodings without a handshake.
"""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tls12 import (
    AlertDescription,
    ApplicationDataReceived,
    ClientConfig,
    ClientConnection,
    HandshakeComplete,
    HandshakeFailure,
    IllegalParameter,
    MemorySessionStore,
    RotatingTicketKeys,
    ServerConfig,
    ServerConnection,
    Session,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.tickets import TicketKey, open_ticket
from tls12.enums import HandshakeType
from tls12.messages import (
    ClientHello,
    ExtendedMasterSecret,
    NewSessionTicket,
    ServerHello,
    SessionTicket,
    find_extension,
    parse_handshake,
)
from tls12.trace import Decision, SecretDerived, TraceEvent

from helpers import Clock, pump
from record_support import (
    HANDSHAKE,
    TLS10,
    edit_flight,
    expect_failure,
    frames,
    hello_record,
    split_records,
)

SECRET = bytes(range(32))


def client_cfg(ca: CertificateAuthority, **kwargs: Any) -> ClientConfig:
    return ClientConfig(trust_anchors=[ca.certificate], **kwargs)


def server_cfg(leaf: IssuedCertificate, **kwargs: Any) -> ServerConfig:
    return ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, **kwargs)


def connect(client_config: ClientConfig, server_config: ServerConfig, session: Session | None = None,
            name: str = "localhost", client_trace: list[TraceEvent] | None = None,
            server_trace: list[TraceEvent] | None = None) -> tuple[ClientConnection, ServerConnection]:
    client = ClientConnection(client_config, server_name=name, session=session,
                              tracer=None if client_trace is None else client_trace.append)
    server = ServerConnection(server_config, tracer=None if server_trace is None else server_trace.append)
    assert pump(client, server) == ([HandshakeComplete()], [HandshakeComplete()])
    client.send_application_data(b"ping")
    server.send_application_data(b"pong")
    client_events, server_events = pump(client, server)
    assert client_events == [ApplicationDataReceived(b"pong")] and server_events == [ApplicationDataReceived(b"ping")]
    return client, server


def decisions(trace: list[TraceEvent], what: str = "session") -> list[tuple[str, str]]:
    return [(e.value, e.why) for e in trace if isinstance(e, Decision) and e.what == what]


def hello_of(client: ClientConnection) -> ClientHello:
    """The ClientHello a new client queued (taken off its output)."""
    [(_, _, payload)] = split_records(client.data_to_send())
    message = parse_handshake(payload[0], payload[4:])
    assert isinstance(message, ClientHello)
    return message


def server_flight_types(data: bytes) -> list[int | str]:
    """The server's flight as message types, "CCS" for a ChangeCipherSpec and "protected" after it."""
    out: list[int | str] = []
    protected = False
    for content_type, _, payload in split_records(data):
        if protected:
            out.append("protected")
        elif content_type == 20:
            out.append("CCS")
            protected = True
        else:
            out += [raw[0] for raw in frames(payload)]
    return out


# -- resumption between our client and our server ------------------------------------------------------


def test_resume_by_ticket(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """The client asks for a ticket; the server seals the session (no session ID); the second connection
    presents it with a random session_id, whose echo says it is resumed: ServerHello, CCS, Finished."""
    keylog: list[str] = []
    cc, sc = client_cfg(ca, key_log=keylog.append), server_cfg(leaf, session_lifetime=600)
    first, first_server = connect(cc, sc)
    session = first.session
    assert session is not None and first_server.session is not None
    assert not first.session_reused and not first_server.session_reused
    assert session.ticket and session.session_id == b"" and session.ticket_lifetime_hint == 600
    assert session.lifetime == 600  # the client keeps it as long as the server's hint says
    assert session.server_name == "localhost" and session.extended_master_secret
    assert session.peer_chain_der == tuple(c.public_bytes(Encoding.DER) for c in leaf.chain)

    client = ClientConnection(cc, server_name="localhost", session=session)
    hello_raw = client.data_to_send()
    hello = parse_handshake(hello_raw[5], hello_raw[9:])
    assert isinstance(hello, ClientHello) and len(hello.session_id) == 32  # RFC 5077 §3.4
    assert find_extension(hello.extensions, SessionTicket) == SessionTicket(session.ticket)
    server = ServerConnection(sc)
    server.receive_data(hello_raw)
    flight = server.data_to_send()
    assert server_flight_types(flight) == [HandshakeType.SERVER_HELLO, "CCS", "protected"]
    server_hello = parse_handshake(flight[5], flight[9 : 9 + int.from_bytes(flight[6:9], "big")])
    assert isinstance(server_hello, ServerHello) and server_hello.session_id == hello.session_id
    assert client.receive_data(flight) == [HandshakeComplete()]
    assert server.receive_data(client.data_to_send()) == [HandshakeComplete()]
    assert client.session_reused and server.session_reused
    assert client.session == session and server.session == first_server.session
    assert client.cipher_suite == first.cipher_suite and client.extended_master_secret
    # The same master secret, new keys (new randoms).
    assert keylog[0].split()[2] == keylog[1].split()[2] and keylog[0].split()[1] != keylog[1].split()[1]
    client.send_application_data(b"resumed")
    assert server.receive_data(client.data_to_send()) == [ApplicationDataReceived(b"resumed")]
    # The resumed connection shows the chain the first one verified.
    assert client.peer_certificate_chain == first.peer_certificate_chain == tuple(leaf.chain)
    assert client.verified_certificate_chain == first.verified_certificate_chain
    assert client.verified_certificate_chain[-1] == ca.certificate


def test_resume_by_session_id(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """A client without tickets: the server keeps the session in its store under a new session ID,
    and resumes it when the ClientHello offers that ID (RFC 5246 §7.4.1.2, §7.4.1.3)."""
    store = MemorySessionStore()
    cc, sc = client_cfg(ca, session_tickets=False), server_cfg(leaf, session_store=store)
    first, first_server = connect(cc, sc)
    session = first.session
    assert session is not None and len(session.session_id) == 32 and session.ticket == b""
    assert first_server.session is not None and first_server.session.session_id == session.session_id
    assert store.get(session.session_id) == first_server.session.to_bytes()
    client = ClientConnection(cc, server_name="localhost", session=session)
    hello = hello_of(client)
    assert hello.session_id == session.session_id
    assert find_extension(hello.extensions, SessionTicket) is None
    server = ServerConnection(sc)
    server.receive_data(hello_record(hello))
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    assert client.handshake_complete and server.handshake_complete
    assert client.session_reused and server.session_reused and client.session == session


def test_a_ticket_client_resumes_by_id_with_a_server_without_ticket_keys(
        ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """No ticket keys: the client's empty SessionTicket gets no answer, the session a session ID."""
    cc, sc = client_cfg(ca), server_cfg(leaf, ticket_keys=None)
    first, _ = connect(cc, sc)
    assert first.session is not None and first.session.ticket == b"" and first.session.session_id
    client, server = connect(cc, sc, first.session)
    assert client.session_reused and server.session_reused


def test_nothing_to_resume_with_no_store_and_no_ticket_keys(ca: CertificateAuthority, leaf: IssuedCertificate
                                                            ) -> None:
    client, server = connect(client_cfg(ca), server_cfg(leaf, ticket_keys=None, session_store=None))
    assert client.session is None and server.session is None


def test_resumption_traces_keys_from_the_resumed_master_secret(ca: CertificateAuthority,
                                                               leaf: IssuedCertificate) -> None:
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    client_trace: list[TraceEvent] = []
    server_trace: list[TraceEvent] = []
    connect(cc, sc, first.session, client_trace=client_trace, server_trace=server_trace)
    for trace in (client_trace, server_trace):
        secrets = {e.label: e for e in trace if isinstance(e, SecretDerived)}
        assert "pre_master_secret" not in secrets and "session_hash" not in secrets
        assert first.session is not None and secrets["master_secret"].value == first.session.master_secret
        assert "resumed session" in secrets["master_secret"].inputs
        assert {"key_block", "client_write_key", "server_write_key"} <= set(secrets)
    [(value, why)] = decisions(server_trace)
    assert value == "resumed" and why.startswith("ticket opened with key ") and "renewed" not in why
    assert [v for v, _ in decisions(client_trace)] == ["resumed"]
    assert decisions(client_trace, "session offered")[0][0].startswith("ticket of ")


# -- tickets: rotation, renewal, tampering, a fleet ---------------------------------------------------


def test_ticket_from_an_older_key_is_renewed(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """The next rotation slot: the ticket's key still opens but no longer seals, so the abbreviated
    handshake carries a new ticket (ServerHello, NewSessionTicket, CCS, Finished)."""
    clock = Clock()
    cc, sc = client_cfg(ca), server_cfg(leaf, ticket_keys=RotatingTicketKeys(SECRET, clock=clock), clock=clock)
    first, _ = connect(cc, sc)
    old = first.session
    assert old is not None
    clock.now += 3600
    client = ClientConnection(cc, server_name="localhost", session=old)
    trace: list[TraceEvent] = []
    server = ServerConnection(sc, tracer=trace.append)
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    assert server_flight_types(flight) == [HandshakeType.SERVER_HELLO, HandshakeType.NEW_SESSION_TICKET, "CCS",
                                           "protected"]
    client.receive_data(flight)
    server.receive_data(client.data_to_send())
    assert client.session_reused and server.session_reused
    [(value, why)] = decisions(trace)
    keys = sc.ticket_keys.ticket_keys()  # type: ignore[union-attr]
    assert value == "resumed"
    assert why == f"ticket opened with key {keys[1].name.hex()}, renewed: an older key sealed it"
    renewed = client.session
    assert renewed is not None and renewed.ticket != old.ticket
    assert renewed.master_secret == old.master_secret and renewed.created == old.created
    assert renewed.ticket_lifetime_hint == sc.session_lifetime - 3600  # what is left of the session
    opened = open_ticket(keys, renewed.ticket)
    assert opened is not None and opened[1] == 0  # sealed under the newest key
    # The renewed ticket resumes without a renewal.
    client3 = ClientConnection(cc, server_name="localhost", session=renewed)
    server3 = ServerConnection(sc)
    server3.receive_data(client3.data_to_send())
    assert server_flight_types(server3.data_to_send()) == [HandshakeType.SERVER_HELLO, "CCS", "protected"]


def test_ticket_from_a_rotated_out_key_gets_a_full_handshake(ca: CertificateAuthority,
                                                             leaf: IssuedCertificate) -> None:
    """Past the keys kept: the ticket does not open; a full handshake with a new ticket, no error."""
    clock = Clock()
    keys = RotatingTicketKeys(SECRET, rotation=60, keep=1, clock=clock)
    cc, sc = client_cfg(ca), server_cfg(leaf, ticket_keys=keys)
    first, _ = connect(cc, sc)
    assert first.session is not None
    clock.now += 2 * 60
    trace: list[TraceEvent] = []
    client, server = connect(cc, sc, first.session, server_trace=trace)
    assert not client.session_reused and not server.session_reused
    assert client.session is not None and client.session.ticket != first.session.ticket
    assert client.session.master_secret != first.session.master_secret
    [(value, why)] = decisions(trace)
    assert value == "full handshake" and why.endswith(
        "not opened: sealed under a key name the server does not hold (rotated out, or another server's)"), why


def _tampered(ticket: bytes) -> list[tuple[str, bytes]]:
    flip = lambda i: ticket[:i] + bytes((ticket[i] ^ 1,)) + ticket[i + 1 :]  # noqa: E731
    return [("name", flip(0)), ("nonce", flip(16)), ("ciphertext", flip(40)), ("tag", flip(len(ticket) - 1)),
            ("appended", ticket + b"\x00"), *((f"truncated to {n}", ticket[:n]) for n in (1, 15, 16, 28, 43, 44)),
            ("truncated by one", ticket[:-1]), ("another length", ticket[:-16])]


def test_tampered_or_truncated_tickets_get_a_full_handshake(ca: CertificateAuthority,
                                                             leaf: IssuedCertificate) -> None:
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    assert first.session is not None
    for what, ticket in _tampered(first.session.ticket):
        trace: list[TraceEvent] = []
        client, server = connect(cc, sc, dataclasses.replace(first.session, ticket=ticket), server_trace=trace)
        assert not client.session_reused and not server.session_reused, what
        value, why = decisions(trace)[0]
        assert value == "full handshake", what
        reason = ("shorter than any ticket of ours" if len(ticket) < 44 else
                  "sealed under a key name the server does not hold" if what == "name" else
                  "its authentication tag does not verify")
        assert reason in why, (what, why)
        assert client.session is not None and client.session.ticket, what  # a new one


def test_a_fleet_shares_tickets_through_a_secret(ca: CertificateAuthority, leaf: IssuedCertificate,
                                                 tmp_path: Path) -> None:
    """Two servers (two configurations, as two processes would have) with the same secret open each
    other's tickets; a server with another secret does not, and answers with a full handshake."""
    (tmp_path / "ticket.key").write_text(SECRET.hex() + "\n")
    one = server_cfg(leaf, ticket_keys=RotatingTicketKeys.from_file(tmp_path / "ticket.key"))
    two = server_cfg(leaf, ticket_keys=RotatingTicketKeys(SECRET))
    other = server_cfg(leaf, ticket_keys=RotatingTicketKeys(bytes(32)))
    cc = client_cfg(ca)
    first, _ = connect(cc, one)
    client, server = connect(cc, two, first.session)
    assert client.session_reused and server.session_reused
    assert server.session is not None and first.session is not None
    assert server.session.master_secret == first.session.master_secret
    client, server = connect(cc, other, first.session)
    assert not client.session_reused and not server.session_reused


def test_resumption_says_what_became_of_an_offered_session(ca: CertificateAuthority, leaf: IssuedCertificate
                                                           ) -> None:
    """`resumption` on both ends: none offered, resumed, or why not (what the drop-in layer's
    session_stats() counts as hits, misses and timeouts)."""
    clock = Clock()
    cc, sc = client_cfg(ca, clock=clock), server_cfg(leaf, session_lifetime=100, clock=clock)
    first, first_server = connect(cc, sc)
    assert (first.resumption, first_server.resumption) == ("none", "none")
    assert first.session is not None
    client, server = connect(cc, sc, first.session)
    assert (client.resumption, server.resumption) == ("resumed", "resumed")
    # Another server cannot open the ticket; one that keeps no sessions by ID does not know the ID.
    client, server = connect(cc, server_cfg(leaf), first.session)
    assert (client.resumption, server.resumption) == ("declined", "unknown")
    by_id, _ = connect(client_cfg(ca, session_tickets=False, clock=clock), sc)
    assert by_id.session is not None and by_id.session.session_id
    client, server = connect(client_cfg(ca, session_tickets=False, clock=clock), server_cfg(leaf), by_id.session)
    assert (client.resumption, server.resumption) == ("declined", "unknown")
    # Found, but the server asks for client certificates now.
    client, server = connect(cc, dataclasses.replace(sc, client_auth="optional", client_trust_anchors=[ca.certificate]),
                             first.session)
    assert (client.resumption, server.resumption) == ("declined", "declined")
    # Past its lifetime by the server's clock, not the client's.
    client_clock = Clock(clock.now)
    clock.now += 100
    client, server = connect(client_cfg(ca, clock=client_clock), sc, first.session)
    assert (client.resumption, server.resumption) == ("declined", "expired")
    # Past it by the client's too: not even offered.
    client, server = connect(cc, sc, first.session)
    assert (client.resumption, server.resumption) == ("none", "none")


# -- what a session is bound to --------------------------------------------------------------------


def test_expired_sessions_are_not_resumed(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    server_clock, client_clock = Clock(), Clock()
    cc = client_cfg(ca, clock=client_clock)
    sc = server_cfg(leaf, session_lifetime=100, clock=server_clock)
    first, _ = connect(cc, sc)
    assert first.session is not None and first.session.lifetime == 100
    # The server's clock past the lifetime, the client's not: offered, refused.
    server_clock.now += 100
    trace: list[TraceEvent] = []
    client, _ = connect(cc, sc, first.session, server_trace=trace)
    assert not client.session_reused
    assert decisions(trace) == [("full handshake", f"ticket of {len(first.session.ticket)} bytes: expired")]
    # The client's clock past it too: not even offered.
    client_clock.now += 100
    trace = []
    client = ClientConnection(cc, server_name="localhost", session=first.session, tracer=trace.append)
    hello = hello_of(client)
    assert hello.session_id == b"" and find_extension(hello.extensions, SessionTicket) == SessionTicket()
    assert decisions(trace, "session offered") == [("(none)", "expired")]


def test_session_ids_expire_from_the_store(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    clock = Clock()
    cc = client_cfg(ca, session_tickets=False)
    sc = server_cfg(leaf, session_lifetime=100, session_store=MemorySessionStore(clock=clock))
    first, _ = connect(cc, sc)
    clock.now += 100
    trace: list[TraceEvent] = []
    client, _ = connect(cc, sc, first.session, server_trace=trace)
    assert not client.session_reused
    assert first.session is not None
    assert decisions(trace)[0] == ("full handshake", f"session id {first.session.session_id.hex()}: session id unknown")


def test_a_changed_sni_is_a_full_handshake(ca: CertificateAuthority) -> None:
    leaf = ca.issue(("localhost", "www.localhost"))
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    assert first.session is not None
    # The client does not offer it for another name...
    trace: list[TraceEvent] = []
    client, _ = connect(cc, sc, first.session, name="www.localhost", client_trace=trace)
    assert not client.session_reused
    assert decisions(trace, "session offered") == [("(none)", "SNI differs: the session is for another server name")]
    # ...and a server refuses a session whose SNI is not this handshake's.
    trace = []
    client, _ = connect(cc, sc, dataclasses.replace(first.session, server_name="www.localhost"), name="www.localhost",
                        server_trace=trace)
    assert not client.session_reused
    assert decisions(trace)[0][1].endswith(": SNI differs")


def test_a_changed_alpn_choice_is_a_full_handshake(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    cc = client_cfg(ca, alpn_protocols=("h2", "http/1.1"))
    sc = server_cfg(leaf, alpn_protocols=("h2", "http/1.1"))
    first, _ = connect(cc, sc)
    assert first.alpn_protocol == "h2" and first.session is not None and first.session.alpn_protocol == b"h2"
    # The server would now choose another protocol.
    trace: list[TraceEvent] = []
    client, server = connect(cc, dataclasses.replace(sc, alpn_protocols=("http/1.1",)), first.session,
                             server_trace=trace)
    assert not client.session_reused and client.alpn_protocol == server.alpn_protocol == "http/1.1"
    assert decisions(trace)[0][1].endswith(": ALPN choice would differ")
    # The same choice: resumed, and the ALPN is negotiated again.
    client, server = connect(cc, dataclasses.replace(sc, alpn_protocols=("h2",)), first.session)
    assert client.session_reused and client.alpn_protocol == server.alpn_protocol == "h2"
    # A client that no longer offers the session's protocol does not offer the session.
    trace = []
    client = ClientConnection(dataclasses.replace(cc, alpn_protocols=("http/1.1",)), server_name="localhost",
                              session=first.session, tracer=trace.append)
    assert decisions(trace, "session offered") == [("(none)", "its ALPN protocol is no longer offered")]


def test_a_suite_no_longer_enabled_is_a_full_handshake(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    assert first.session is not None
    suite = first.session.cipher_suite
    others = tuple(s for s in sc.cipher_suites if s != suite)
    trace: list[TraceEvent] = []
    client, _ = connect(cc, dataclasses.replace(sc, cipher_suites=others), first.session, server_trace=trace)
    assert not client.session_reused and client.cipher_suite != suite
    assert decisions(trace)[0][1].endswith(": suite no longer enabled")
    trace = []
    client = ClientConnection(dataclasses.replace(cc, cipher_suites=others), server_name="localhost",
                              session=first.session, tracer=trace.append)
    assert decisions(trace, "session offered") == [("(none)", "suite no longer enabled")]


def test_a_changed_verification_policy_is_a_full_handshake(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    other_ca = CertificateAuthority("another CA")
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    assert first.session is not None
    # The client trusts more now: the session was admitted under another policy.
    trace: list[TraceEvent] = []
    ClientConnection(ClientConfig(trust_anchors=[ca.certificate, other_ca.certificate]),
                     server_name="localhost", session=first.session, tracer=trace.append)
    assert decisions(trace, "session offered") == [("(none)", "verification policy changed")]
    for changed in (dict(verify_certificates=False, use_system_trust=False), dict(check_hostname=False)):
        trace = []
        ClientConnection(client_cfg(ca, **changed), server_name="localhost", session=first.session,
                         tracer=trace.append)
        assert decisions(trace, "session offered") == [("(none)", "verification policy changed")], changed
    # The server now asks for client certificates: a session without one is not resumed.
    trace = []
    client, _ = connect(cc, dataclasses.replace(sc, client_auth="optional", client_trust_anchors=[ca.certificate]),
                        first.session, server_trace=trace)
    assert not client.session_reused
    assert decisions(trace)[0][1].endswith(": verification policy changed")


@pytest.fixture(scope="module")
def client_ca() -> CertificateAuthority:
    return CertificateAuthority("tls12 client CA")


def test_a_session_keeps_its_client_identity(ca: CertificateAuthority, leaf: IssuedCertificate,
                                             client_ca: CertificateAuthority) -> None:
    """Made with client certificate A: a client configured only with B does not offer it; a server
    resuming it has A as the peer, whatever the client holds now."""
    alice = client_ca.issue(("alice.example",), key_type="ecdsa-p256", client=True)
    bob = client_ca.issue(("bob.example",), key_type="ecdsa-p256", client=True)
    sc = server_cfg(leaf, client_auth="required", client_trust_anchors=[client_ca.certificate])
    as_alice = client_cfg(ca, client_credentials=[alice.credential()])
    first, first_server = connect(as_alice, sc)
    assert first_server.peer_certificate_chain == alice.chain
    assert first.session is not None and first.session.local_chain_der == alice.credential().chain_der
    trace: list[TraceEvent] = []
    as_bob = client_cfg(ca, client_credentials=[bob.credential()])
    client, server = connect(as_bob, sc, first.session, client_trace=trace)
    assert not client.session_reused and server.peer_certificate_chain == bob.chain
    assert decisions(trace, "session offered") == [
        ("(none)", "made with a client certificate this configuration does not have")]
    # A client holding both offers it; the server resumes Alice's session, with Alice as the peer.
    both = client_cfg(ca, client_credentials=[bob.credential(), alice.credential()])
    client, server = connect(both, sc, first.session)
    assert client.session_reused and server.session_reused
    assert server.peer_certificate_chain == alice.chain
    assert server.verified_certificate_chain == (alice.certificate, client_ca.certificate)


def test_a_server_side_session_carries_the_client_chain(ca: CertificateAuthority, leaf: IssuedCertificate,
                                                        client_ca: CertificateAuthority) -> None:
    """By session ID: the stored session holds the client's chain and the path verified for it."""
    alice = client_ca.issue(("alice.example",), client=True)
    sc = server_cfg(leaf, client_auth="optional", client_trust_anchors=[client_ca.certificate])
    cc = client_cfg(ca, client_credentials=[alice.credential()], session_tickets=False)
    first, first_server = connect(cc, sc)
    assert first_server.session is not None
    assert first_server.session.peer_chain_der == alice.credential().chain_der
    _, server = connect(cc, sc, first.session)
    assert server.session_reused and server.peer_certificate_chain == alice.chain


# -- RFC 7627 §5.3 as tls12 applies it ---------------------------------------------------------------


@pytest.mark.parametrize("side", ["client", "server"])
def test_no_session_without_the_extended_master_secret(ca: CertificateAuthority, leaf: IssuedCertificate,
                                                       side: str) -> None:
    cc = client_cfg(ca, extended_master_secret=side != "client")
    sc = server_cfg(leaf, extended_master_secret=side != "server")
    client, server = connect(cc, sc)
    assert not client.extended_master_secret
    assert client.session is None and server.session is None
    if side == "client":  # a client without EMS does not even ask for a ticket
        assert find_extension(hello_of(ClientConnection(cc, server_name="localhost")).extensions,
                              SessionTicket) is None


def test_client_without_ems_does_not_offer(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    first, _ = connect(client_cfg(ca), server_cfg(leaf))
    trace: list[TraceEvent] = []
    ClientConnection(client_cfg(ca, extended_master_secret=False), server_name="localhost",
                     session=first.session, tracer=trace.append)
    assert decisions(trace, "session offered") == [
        ("(none)", "EMS rule (RFC 7627 §5.3): the extended master secret is disabled")]


def test_server_aborts_an_ems_session_offered_without_ems(ca: CertificateAuthority, leaf: IssuedCertificate
                                                          ) -> None:
    """RFC 7627 §5.3: the session used the extended master secret, the ClientHello does not offer it:
    handshake_failure, not a full handshake."""
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    hello = hello_of(ClientConnection(cc, server_name="localhost", session=first.session))
    without = dataclasses.replace(hello, extensions=tuple(e for e in hello.extensions
                                                          if not isinstance(e, ExtendedMasterSecret)))
    error = expect_failure(ServerConnection(sc), hello_record(without), HandshakeFailure,
                           AlertDescription.HANDSHAKE_FAILURE)
    assert "RFC 7627 §5.3" in str(error)


def test_server_gives_a_full_handshake_for_a_session_without_ems(ca: CertificateAuthority,
                                                                 leaf: IssuedCertificate) -> None:
    """A stored session without the extended master secret (tls12 makes none, a store may hold one),
    offered by a ClientHello with it: a full handshake (§5.3), never a legacy resumption."""
    store = MemorySessionStore()
    cc, sc = client_cfg(ca, session_tickets=False), server_cfg(leaf, session_store=store)
    first, first_server = connect(cc, sc)
    assert first.session is not None and first_server.session is not None
    legacy = dataclasses.replace(first_server.session, extended_master_secret=False)
    store.put(legacy.session_id, legacy.to_bytes(), 100)
    trace: list[TraceEvent] = []
    client, server = connect(cc, sc, first.session, server_trace=trace)
    assert not client.session_reused and not server.session_reused and server.extended_master_secret
    assert "EMS rule (RFC 7627 §5.3)" in decisions(trace)[0][1]


def _resumed_flight(cc: ClientConfig, sc: ServerConfig, session: Session) -> tuple[ClientConnection, bytes]:
    client = ClientConnection(cc, server_name="localhost", session=session)
    server = ServerConnection(sc)
    server.receive_data(client.data_to_send())
    return client, server.data_to_send()


def test_client_refuses_a_resumption_without_ems(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    assert first.session is not None
    client, flight = _resumed_flight(cc, sc, first.session)
    plain = b"".join(raw for raw in _plain_records(flight))
    edited = edit_flight(plain, HandshakeType.SERVER_HELLO, lambda sh: dataclasses.replace(
        sh, extensions=tuple(e for e in sh.extensions if not isinstance(e, ExtendedMasterSecret))))
    error = expect_failure(client, edited, HandshakeFailure, AlertDescription.HANDSHAKE_FAILURE, version=TLS10)
    assert "RFC 7627 §5.3" in str(error)


def test_client_refuses_a_resumption_with_another_suite(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """RFC 5246 §7.4.1.3: a resumed session keeps its cipher suite."""
    cc, sc = client_cfg(ca), server_cfg(leaf)
    first, _ = connect(cc, sc)
    assert first.session is not None
    other = next(s for s in cc.cipher_suites if s != first.session.cipher_suite)
    client, flight = _resumed_flight(cc, sc, first.session)
    plain = b"".join(_plain_records(flight))
    edited = edit_flight(plain, HandshakeType.SERVER_HELLO,
                         lambda sh: dataclasses.replace(sh, cipher_suite=other))
    expect_failure(client, edited, IllegalParameter, AlertDescription.ILLEGAL_PARAMETER, version=TLS10)


def _plain_records(flight: bytes) -> list[bytes]:
    """The handshake records of a flight before its ChangeCipherSpec."""
    out = []
    for content_type, version, payload in split_records(flight):
        if content_type != HANDSHAKE:
            break
        out.append(bytes((content_type,)) + version.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload)
    return out


# -- NewSessionTicket: empty, and a ticket answered with a full handshake ------------------------------


class _NoKeys:
    def ticket_keys(self) -> tuple[TicketKey, ...]:
        return ()


class _FailingKeys:
    def ticket_keys(self) -> tuple[TicketKey, ...]:
        raise ConnectionError("the key store is down")


def test_an_empty_new_session_ticket(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """RFC 5077 §3.3: a server that promised a ticket may send an empty one; without a session ID
    either, there is no session to resume."""
    for keys in (_NoKeys(), _FailingKeys()):
        client = ClientConnection(client_cfg(ca), server_name="localhost")
        server = ServerConnection(server_cfg(leaf, ticket_keys=keys))
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
        server.receive_data(client.data_to_send())
        flight = server.data_to_send()
        [raw] = frames(split_records(flight)[0][2])
        assert parse_handshake(raw[0], raw[4:]) == NewSessionTicket(7200, b"")
        assert client.receive_data(flight) == [HandshakeComplete()]
        assert client.session is None and server.session is None


class _BrokenStore:
    def __init__(self) -> None:
        self.calls = 0

    def get(self, key: bytes) -> bytes | None:
        self.calls += 1
        raise TimeoutError("the store is slow")

    def put(self, key: bytes, value: bytes, ttl: int) -> None:
        self.calls += 1
        raise ConnectionError("the store is down")

    def delete(self, key: bytes) -> None:
        raise ConnectionError("the store is down")


class _JunkStore(MemorySessionStore):
    def get(self, key: bytes) -> bytes | None:
        return b"\x01junk"


def test_store_failures_never_fail_a_handshake(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    cc = client_cfg(ca, session_tickets=False)
    store = _BrokenStore()
    trace: list[TraceEvent] = []
    first, server = connect(cc, server_cfg(leaf, session_store=store), server_trace=trace)
    assert server.session is None and first.session is not None  # the client cannot know
    assert decisions(trace) == [("not stored", "store failed: ConnectionError")]
    trace = []
    client, _ = connect(cc, server_cfg(leaf, session_store=store), first.session, server_trace=trace)
    assert not client.session_reused and store.calls == 3
    assert decisions(trace)[0][1].endswith(": store failed: TimeoutError")
    trace = []
    client, _ = connect(cc, server_cfg(leaf, session_store=_JunkStore()), first.session, server_trace=trace)
    assert not client.session_reused
    assert decisions(trace)[0][1].endswith(": the stored session does not decode")


def test_a_failing_ticket_key_source_is_a_full_handshake(ca: CertificateAuthority, leaf: IssuedCertificate
                                                         ) -> None:
    cc = client_cfg(ca)
    first, _ = connect(cc, server_cfg(leaf))
    trace: list[TraceEvent] = []
    client, _ = connect(cc, server_cfg(leaf, ticket_keys=_FailingKeys()), first.session, server_trace=trace)
    assert not client.session_reused and client.session is None
    assert decisions(trace)[0][1].endswith(": ticket keys failed: ConnectionError")


# -- against the stdlib ssl module (OpenSSL) over MemoryBIOs ------------------------------------------------


class Peer:
    """An ssl.SSLObject over two MemoryBIOs, resuming `session` if given (client side)."""

    def __init__(self, ctx: ssl.SSLContext, server_side: bool, session: ssl.SSLSession | None = None) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                server_hostname=None if server_side else "localhost", session=session)

    def run(self, ours: ClientConnection | ServerConnection) -> None:
        done = False
        for _ in range(10):
            data = ours.data_to_send()
            if data:
                self.incoming.write(data)
            if not done:
                try:
                    self.obj.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    pass
            out = self.outgoing.read()
            if out:
                ours.receive_data(out)
            if done and not data and not out:
                break
        assert done and ours.handshake_complete
        ours.send_application_data(b"ping")
        self.incoming.write(ours.data_to_send())
        assert self.obj.read() == b"ping"
        # Closed cleanly: OpenSSL drops from its cache the session of a connection freed without
        # close_notify.
        ours.close()
        self.incoming.write(ours.data_to_send())
        self.obj.unwrap()
        ours.receive_data(self.outgoing.read())
        assert ours.closed


def _stdlib(pem_dir: Path, server_side: bool, tickets: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if server_side:
        ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    else:
        ctx.load_verify_locations(pem_dir / "ca.pem")
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_stdlib_client_resumes_with_our_server(pem_dir: Path, leaf: IssuedCertificate, tickets: bool) -> None:
    ctx = _stdlib(pem_dir, server_side=False, tickets=tickets)
    sc = server_cfg(leaf)
    peer = Peer(ctx, server_side=False)
    first = ServerConnection(sc)
    peer.run(first)
    assert first.session is not None and bool(first.session.session_id) != tickets
    stdlib_session = peer.obj.session
    assert stdlib_session is not None and stdlib_session.has_ticket == tickets
    again = Peer(ctx, server_side=False, session=stdlib_session)
    server = ServerConnection(sc)
    again.run(server)
    assert again.obj.session_reused and server.session_reused
    assert server.session == first.session


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_our_client_resumes_with_the_stdlib_server(pem_dir: Path, ca: CertificateAuthority, tickets: bool) -> None:
    """OpenSSL as a server issues tickets and caches session IDs by default."""
    ctx = _stdlib(pem_dir, server_side=True, tickets=True)
    cc = client_cfg(ca, session_tickets=tickets)
    first = ClientConnection(cc, server_name="localhost")
    Peer(ctx, server_side=True).run(first)
    session = first.session
    assert session is not None and bool(session.ticket) == tickets
    assert session.session_id or tickets
    client = ClientConnection(cc, server_name="localhost", session=session)
    peer = Peer(ctx, server_side=True)
    peer.run(client)
    assert peer.obj.session_reused and client.session_reused
    assert client.peer_certificate_chain == first.peer_certificate_chain
    assert client.session is not None and client.session.master_secret == session.master_secret


def test_our_client_takes_a_full_handshake_from_the_stdlib_server(pem_dir: Path, ca: CertificateAuthority,
                                                                  leaf: IssuedCertificate) -> None:
    """A ticket OpenSSL cannot open (ours): it answers with a full handshake and a ticket of its own."""
    cc = client_cfg(ca)
    first, _ = connect(cc, server_cfg(leaf))
    client = ClientConnection(cc, server_name="localhost", session=first.session)
    peer = Peer(_stdlib(pem_dir, server_side=True, tickets=True), server_side=True)
    peer.run(client)
    assert not peer.obj.session_reused and not client.session_reused
    assert client.session is not None and first.session is not None and client.session.ticket != first.session.ticket


def test_config_clock_and_lifetime_are_validated(leaf: IssuedCertificate) -> None:
    with pytest.raises(ValueError):
        server_cfg(leaf, session_lifetime=0)
    with pytest.raises(TypeError):
        ClientConnection(ClientConfig(verify_certificates=False, use_system_trust=False), "localhost",
                         session=b"not a session")  # type: ignore[arg-type]
