"""Session resumption through the drop-in layer, side by side with the stdlib ssl module (OpenSSL).

The stdlib's API first, run the same way on both and compared: `session` and `session_reused` on
`SSLObject`s over `ssl.MemoryBIO` and on sockets on 127.0.0.1 (before the handshake, unconnected,
after close, on a server), `wrap_socket`/`wrap_bio(session=)`, what `SSLSession` offers and refuses,
and the exceptions with their messages. Then resumption by session ID (`OP_NO_TICKET`) and by
ticket in each direction against the stdlib, with `session_stats()` compared to the stdlib's
counters. Then what tls12 adds: a server context keeps its sessions across a change of settings
but never across a change of verification policy, a session resumes only under the context that
made it (an SNI callback switching contexts included), and a client context caches its sessions by
server name and port, so asyncio, http.client and requests reconnections resume by themselves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import http.server
import pickle
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.adapters

import tls12
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.io.sslsession import CLIENT_CACHE_SIZE, ClientSessionCache

from helpers import Clock
from sslcompat_support import TIMEOUT, ServeFn, echo, https_server, raw_connection

IMPLS = ["stdlib", "tls12"]
TLS12 = ssl.TLSVersion.TLSv1_2
#: A fatal handshake_failure alert in a TLS 1.2 record: what a server may answer instead of a ServerHello.
HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"


# -- contexts --------------------------------------------------------------------------------------


def context_class(impl: str) -> type[ssl.SSLContext]:
    return tls12.SSLContext if impl == "tls12" else ssl.SSLContext


def client_context(impl: str, pem_dir: Path, *, cache: bool = True, no_ticket: bool = False) -> ssl.SSLContext:
    """A client trusting the session CA, pinned to TLS 1.2 (what tls12 speaks: the stdlib speaks it too).
    `cache=False` turns tls12's automatic session cache off, to compare with the stdlib, which has none."""
    ctx = context_class(impl)(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    ctx.maximum_version = TLS12
    if no_ticket:
        ctx.options |= ssl.OP_NO_TICKET
    if isinstance(ctx, tls12.SSLContext):
        ctx.client_session_cache = cache
    return ctx


def server_context(impl: str, pem_dir: Path, *, no_ticket: bool = False) -> ssl.SSLContext:
    ctx = context_class(impl)(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    ctx.maximum_version = TLS12
    if no_ticket:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def clocked(ctx: ssl.SSLContext, clock: Clock) -> ssl.SSLContext:
    """A tls12 context whose sessions, ticket keys and cache run on `clock`."""
    assert isinstance(ctx, tls12.SSLContext)
    ctx._t_clock.source = clock
    ctx._changed()
    return ctx


# -- handshakes in memory ----------------------------------------------------------------------------


@dataclass
class Pair:
    client: Any  # ssl.SSLObject or tls12.SSLObject
    server: Any
    c_in: ssl.MemoryBIO
    s_in: ssl.MemoryBIO


def wrap(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, session: Any = None,
         server_hostname: str | None = "localhost") -> Pair:
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname, session=session)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    pair = Pair(client, server, c_in, s_in)
    pair.c_out, pair.s_out = c_out, s_out  # type: ignore[attr-defined]
    return pair


def step(obj: Any) -> bool:
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def pump(pair: Pair) -> Pair:
    """Run the handshake to its end on both sides."""
    done = [False, False]
    for _ in range(10):
        done[0] = done[0] or step(pair.client)
        pair.s_in.write(pair.c_out.read())  # type: ignore[attr-defined]
        done[1] = done[1] or step(pair.server)
        pair.c_in.write(pair.s_out.read())  # type: ignore[attr-defined]
        if all(done):
            return pair
    raise AssertionError("the handshake did not complete")


def handshake(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, session: Any = None,
              server_hostname: str | None = "localhost") -> Pair:
    return pump(wrap(client_ctx, server_ctx, session, server_hostname))


def reused(pair: Pair) -> tuple[bool, bool]:
    return pair.client.session_reused, pair.server.session_reused


def outcome(action: Callable[[], Any]) -> tuple[str, str]:
    """("ok", "") or the exception's class name and message."""
    try:
        action()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


# -- the stdlib's API, compared ----------------------------------------------------------------------


def observe_objects(impl: str, pem_dir: Path) -> dict[str, Any]:
    """Everything the ssl module's SSLObject and SSLSession API shows, for one implementation."""
    client_ctx, server_ctx = client_context(impl, pem_dir, cache=False), server_context(impl, pem_dir)
    seen: dict[str, Any] = {}
    pair = wrap(client_ctx, server_ctx)
    seen["before"] = (pair.client.session, pair.client.session_reused, pair.server.session,
                      pair.server.session_reused)
    pump(pair)
    session, server_session = pair.client.session, pair.server.session
    seen["session"] = (type(session).__name__, len(session.id), type(session.time), session.timeout,
                       session.ticket_lifetime_hint, session.has_ticket, abs(session.time - time.time()) < 60)
    seen["server session"] = (type(server_session).__name__, server_session.id, server_session.has_ticket,
                              server_session.timeout)
    seen["reused"] = reused(pair)
    same = session
    seen["equality"] = (pair.client.session == session, same == session, session != server_session,
                        session.__eq__("x"), session.__ne__(1))
    # Unhashable, unpicklable, unordered and not made by hand: only the exception classes compare (the
    # messages name the classes).
    seen["hash"] = outcome(lambda: hash(session))[0]
    seen["pickle"] = outcome(lambda: pickle.dumps(session))[0]
    seen["order"] = outcome(lambda: session < same)[0]
    seen["construct"] = outcome(type(session))[0]
    seen["set after the handshake"] = outcome(lambda: setattr(pair.client, "session", session))
    seen["set the client's on the server"] = outcome(lambda: setattr(pair.server, "session", session))
    seen["set the server's own on the server"] = outcome(lambda: setattr(pair.server, "session", server_session))
    seen["set None"] = outcome(lambda: setattr(pair.client, "session", None))
    bio = ssl.MemoryBIO
    seen["wrap_bio with not a session"] = outcome(
        lambda: client_ctx.wrap_bio(bio(), bio(), server_hostname="localhost", session="x"))
    other = client_context(impl, pem_dir, cache=False)
    seen["wrap_bio with another context's"] = outcome(
        lambda: other.wrap_bio(bio(), bio(), server_hostname="localhost", session=session))
    seen["server wrap_bio with its own"] = outcome(
        lambda: server_ctx.wrap_bio(bio(), bio(), server_side=True, session=server_session))
    # Set before the handshake: read back, then offered and resumed.
    fresh = wrap(client_ctx, server_ctx)
    seen["set before the handshake"] = outcome(lambda: setattr(fresh.client, "session", session))
    seen["reads back"] = (fresh.client.session == session, fresh.client.session_reused)
    pump(fresh)
    # (Not compared: the id of a server's session resumed by ticket, b"" in tls12, which keeps no ID for
    # a ticket's session, and the ServerHello's echo of the client's session_id in OpenSSL.)
    seen["resumed"] = (reused(fresh), fresh.client.session == session)
    # The server's certificate comes with the session: the same as the full handshake's.
    seen["resumed peer"] = (fresh.client.getpeercert() == pair.client.getpeercert(),
                            fresh.client.getpeercert(True) == pair.client.getpeercert(True),
                            fresh.server.getpeercert(), fresh.client.cipher() == pair.client.cipher())
    seen["given"] = reused(handshake(client_ctx, server_ctx, session))
    seen["stats"] = (client_ctx.session_stats(), server_ctx.session_stats())
    return seen


def test_objects_and_sessions_behave_as_the_stdlibs(pem_dir: Path) -> None:
    ours, theirs = observe_objects("tls12", pem_dir), observe_objects("stdlib", pem_dir)
    assert ours == theirs
    # What the stdlib shows, written out.
    assert theirs["before"] == (None, False, None, False)
    assert theirs["session"] == ("SSLSession", 32, int, 7200, 7200, True, True)
    assert theirs["server session"] == ("SSLSession", b"", False, 7200)
    assert theirs["set after the handshake"] == ("ValueError", "Cannot set session after handshake.")
    assert theirs["set the client's on the server"] == ("ValueError", "Session refers to a different SSLContext.")
    assert theirs["set the server's own on the server"] == ("ValueError",
                                                           "Cannot set session for server-side SSLSocket.")
    assert theirs["wrap_bio with not a session"] == theirs["set None"] == ("TypeError", "Value is not a SSLSession.")
    assert theirs["hash"] == theirs["pickle"] == theirs["order"] == theirs["construct"] == "TypeError"
    assert theirs["resumed"] == ((True, True), True)
    assert theirs["resumed peer"] == (True, True, None, True)
    client_stats, server_stats = theirs["stats"]
    assert (client_stats["connect"], client_stats["connect_good"], client_stats["hits"]) == (3, 3, 2)
    assert (server_stats["accept"], server_stats["accept_good"], server_stats["hits"]) == (3, 3, 2)


def test_sessions_do_not_cross_implementations(pem_dir: Path) -> None:
    """A stdlib session is not a tls12 one, and the other way round: TypeError on both."""
    theirs = handshake(client_context("stdlib", pem_dir), server_context("stdlib", pem_dir)).client.session
    ours = handshake(client_context("tls12", pem_dir), server_context("tls12", pem_dir)).client.session
    bio = ssl.MemoryBIO
    with pytest.raises(TypeError, match=r"an ssl\.SSLSession resumes only with the ssl module's contexts"):
        client_context("tls12", pem_dir).wrap_bio(bio(), bio(), server_hostname="localhost", session=theirs)
    with pytest.raises(TypeError, match="Value is not a SSLSession"):
        client_context("stdlib", pem_dir).wrap_bio(bio(), bio(), server_hostname="localhost", session=ours)


def observe_sockets(impl: str, pem_dir: Path, serve: ServeFn) -> dict[str, Any]:
    """The same for sockets: unconnected, connected before the handshake, closed, on the server."""
    client_ctx, server_ctx = client_context(impl, pem_dir, cache=False), server_context(impl, pem_dir)
    server_seen: list[tuple[Any, ...]] = []

    def handler(sock: Any) -> None:
        session = sock.session
        server_seen.append((type(session).__name__, session.has_ticket, sock.session_reused))
        echo(sock)

    server = serve(server_ctx, handler, connections=5)
    address = ("127.0.0.1", server.port)
    seen: dict[str, Any] = {}

    def exchange(sock: Any) -> None:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"

    # Not connected: no session, and session_reused is None; anything may be set, and is checked on connect().
    with client_ctx.wrap_socket(socket.socket(), server_hostname="localhost") as unconnected:
        seen["unconnected"] = (unconnected.session, unconnected.session_reused)
        seen["set not a session, unconnected"] = outcome(lambda: setattr(unconnected, "session", "x"))
        seen["still unconnected"] = (unconnected.session, unconnected.session_reused)
        seen["connect"] = outcome(lambda: unconnected.connect(address))
    # Connected, before the handshake, after it, after close.
    sock = client_ctx.wrap_socket(raw_connection(server.port), server_hostname="localhost",
                                  do_handshake_on_connect=False)
    seen["before the handshake"] = (sock.session, sock.session_reused)
    sock.do_handshake()
    session = sock.session
    seen["after the handshake"] = (type(session).__name__, session.has_ticket, sock.session_reused)
    exchange(sock)
    sock.close()
    seen["closed"] = (sock.session, sock.session_reused)
    # Given to wrap_socket; set on an unconnected socket; set before the handshake; set after it.
    with client_ctx.wrap_socket(raw_connection(server.port), server_hostname="localhost", session=session) as sock:
        seen["wrap_socket(session=)"] = (sock.session_reused, sock.session == session)
        exchange(sock)
    with client_ctx.wrap_socket(socket.socket(), server_hostname="localhost") as sock:
        sock.session = session
        sock.settimeout(TIMEOUT)
        sock.connect(address)
        seen["set, then connect()"] = (sock.session_reused, sock.session == session)
        exchange(sock)
    with client_ctx.wrap_socket(raw_connection(server.port), server_hostname="localhost",
                                do_handshake_on_connect=False) as sock:
        seen["set before the handshake"] = outcome(lambda: setattr(sock, "session", session))
        sock.do_handshake()
        seen["then"] = (sock.session_reused, sock.session == session)
        seen["set after the handshake"] = outcome(lambda: setattr(sock, "session", session))
        exchange(sock)
    # Refused: another context's session (the socket is closed), a session on a server.
    other = client_context(impl, pem_dir, cache=False)
    raw = raw_connection(server.port)
    seen["another context's"] = outcome(lambda: other.wrap_socket(raw, server_hostname="localhost", session=session))
    seen["raw socket after"] = raw.fileno()
    with socket.socket() as plain:
        seen["server side"] = outcome(lambda: server_ctx.wrap_socket(plain, server_side=True, session=session))
        seen["plain socket after"] = plain.fileno() >= 0
    server.join()
    seen["server"] = sorted(server_seen)
    seen["stats"] = (client_ctx.session_stats(), server_ctx.session_stats(), other.session_stats())
    return seen


def test_sockets_behave_as_the_stdlibs(pem_dir: Path, serve: ServeFn) -> None:
    ours, theirs = observe_sockets("tls12", pem_dir, serve), observe_sockets("stdlib", pem_dir, serve)
    assert ours == theirs
    assert theirs["unconnected"] == theirs["still unconnected"] == theirs["closed"] == (None, None)
    assert theirs["connect"] == ("TypeError", "Value is not a SSLSession.")
    assert theirs["before the handshake"] == (None, False)
    assert theirs["after the handshake"] == ("SSLSession", True, False)
    assert theirs["wrap_socket(session=)"] == theirs["set, then connect()"] == theirs["then"] == (True, True)
    assert theirs["set after the handshake"] == ("ValueError", "Cannot set session after handshake.")
    assert theirs["another context's"] == ("ValueError", "Session refers to a different SSLContext.")
    assert theirs["raw socket after"] == -1  # detached, as the wrapped socket is closed
    assert theirs["server side"] == ("ValueError", "session can only be specified in client mode")
    assert theirs["plain socket after"] is True  # refused before the socket was taken over
    # The server's side of the four handshakes: a session without a ticket of its own; three resumed.
    assert theirs["server"] == [("SSLSession", False, False)] + [("SSLSession", False, True)] * 3
    client_stats, server_stats, other_stats = theirs["stats"]
    assert (client_stats["connect"], client_stats["connect_good"], client_stats["hits"]) == (4, 4, 3)
    # The fifth connection's client gave up before its handshake began: the server's accept failed.
    assert (server_stats["accept"], server_stats["accept_good"], server_stats["hits"]) == (5, 4, 3)
    assert other_stats["connect"] == 0


# -- resumption against the stdlib, each direction, by ticket and by session ID ---------------------


MODES = {"ticket": {}, "id-client-no-ticket": {"client": True}, "id-server-no-ticket": {"server": True}}
DIRECTIONS = [("tls12", "stdlib"), ("stdlib", "tls12")]


def scenario(client_impl: str, server_impl: str, mode: str, pem_dir: Path) -> dict[str, Any]:
    """A full handshake, its session resumed, then offered to another server of the same kind."""
    no_ticket = MODES[mode]
    client_ctx = client_context(client_impl, pem_dir, cache=False, no_ticket=no_ticket.get("client", False))
    server_ctx = server_context(server_impl, pem_dir, no_ticket=no_ticket.get("server", False))
    other_ctx = server_context(server_impl, pem_dir, no_ticket=no_ticket.get("server", False))
    first = handshake(client_ctx, server_ctx)
    session = first.client.session
    again = handshake(client_ctx, server_ctx, session)
    elsewhere = handshake(client_ctx, other_ctx, session)
    return {
        "has_ticket": session.has_ticket,
        "id": len(session.id),
        "reused": [reused(first), reused(again), reused(elsewhere)],
        "same session": again.client.session == session,
        "client": client_ctx.session_stats(),
        "server": server_ctx.session_stats(),
        "other": other_ctx.session_stats(),
    }


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("client_impl", "server_impl"), DIRECTIONS, ids=["tls12-client", "tls12-server"])
def test_resumption_against_the_stdlib(client_impl: str, server_impl: str, mode: str, pem_dir: Path) -> None:
    """Each direction resumes as the stdlib on both ends does, and counts as it counts: the same
    session_stats() on the tls12 side as on the stdlib's in its place."""
    got = scenario(client_impl, server_impl, mode, pem_dir)
    reference = scenario("stdlib", "stdlib", mode, pem_dir)
    assert got["reused"] == reference["reused"] == [(False, False), (True, True), (False, False)]
    assert got["has_ticket"] == reference["has_ticket"] == (mode == "ticket")
    assert got["id"] == reference["id"] == 32
    assert got["same session"] and reference["same session"]
    ours = "client" if client_impl == "tls12" else "server"
    if ours == "client":
        assert got["client"] == reference["client"]
        assert (got["client"]["connect"], got["client"]["hits"], got["client"]["misses"]) == (3, 1, 1)
    else:
        assert got["server"] == reference["server"]
        # A ticket the other server cannot open: OpenSSL counts no miss (it only counts its cache's),
        # tls12 counts one; a session ID it does not know is a miss to both.
        keys = [k for k in got["other"] if k != "misses" or mode != "ticket"]
        assert {k: got["other"][k] for k in keys} == {k: reference["other"][k] for k in keys}
        assert got["other"]["misses"] == 1
        assert got["server"]["number"] == (0 if mode == "ticket" else 1)  # sessions kept by ID


def test_our_client_asks_for_no_ticket_with_op_no_ticket(pem_dir: Path) -> None:
    """OP_NO_TICKET on a client: no SessionTicket extension, so even a stdlib server that issues tickets
    gives a session ID; on a server: no ticket for a client that asks."""
    ctx = client_context("tls12", pem_dir, cache=False, no_ticket=True)
    pair = handshake(ctx, server_context("stdlib", pem_dir))
    assert not pair.client.session.has_ticket and pair.server.session.id == pair.client.session.id
    pair = handshake(client_context("stdlib", pem_dir), server_context("tls12", pem_dir, no_ticket=True))
    assert not pair.client.session.has_ticket and pair.server.session.id == pair.client.session.id


# -- a server context's sessions ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Client certificates of one kind of key (a second load_cert_chain replaces the first), and their CA."""
    client_ca = CertificateAuthority("tls12 session client CA")
    directory = tmp_path_factory.mktemp("session-clients")
    (directory / "client-ca.pem").write_bytes(client_ca.cert_pem())
    files = {"ca": (directory / "client-ca.pem", directory / "client-ca.pem")}
    for name in ("alice", "bob"):
        issued: IssuedCertificate = client_ca.issue((f"{name}.example",), key_type="ecdsa-p256", client=True)
        (directory / f"{name}.pem").write_bytes(issued.cert_pem())
        (directory / f"{name}.key").write_bytes(issued.key_pem())
        files[name] = (directory / f"{name}.pem", directory / f"{name}.key")
    return files


@pytest.mark.parametrize("no_ticket", [False, True], ids=["ticket", "session-id"])
def test_server_sessions_survive_settings_but_not_a_policy_change(
        no_ticket: bool, pem_dir: Path, client_certs: dict[str, tuple[Path, Path]]) -> None:
    """The context rebuilds its configuration on every change of settings: the sessions stay (one store,
    one ticket key source per context), but a change of verify_mode or of the client anchors (the
    core's session policy) makes the next handshake a full one."""
    client_ctx = client_context("stdlib", pem_dir)
    server_ctx = server_context("tls12", pem_dir, no_ticket=no_ticket)
    session = handshake(client_ctx, server_ctx).client.session
    server_ctx.options |= ssl.OP_NO_COMPRESSION  # a new configuration, nothing that matters
    server_ctx.set_ciphers("ECDHE+AESGCM")  # still the suite negotiated
    assert reused(handshake(client_ctx, server_ctx, session)) == (True, True)
    server_ctx.verify_mode = ssl.CERT_OPTIONAL  # asks for client certificates now: a new policy
    pair = handshake(client_ctx, server_ctx, session)
    assert reused(pair) == (False, False)
    session = pair.client.session
    assert reused(handshake(client_ctx, server_ctx, session)) == (True, True)
    server_ctx.load_verify_locations(client_certs["ca"][0])  # other anchors for client chains
    pair = handshake(client_ctx, server_ctx, session)
    assert reused(pair) == (False, False)
    assert reused(handshake(client_ctx, server_ctx, pair.client.session)) == (True, True)
    assert server_ctx.session_stats()["hits"] == 3


@pytest.mark.parametrize("no_ticket", [False, True], ids=["ticket", "session-id"])
def test_a_session_resumes_only_under_the_context_that_made_it(no_ticket: bool, pem_dir: Path) -> None:
    """An sni_callback switching the connection to another context: the session made there resumes
    there, and not under the first context (its own store and ticket keys); one made under the first
    does not resume once the callback switches. (OpenSSL resumes either under the first context.)"""
    first = server_context("tls12", pem_dir, no_ticket=no_ticket)
    second = server_context("tls12", pem_dir, no_ticket=no_ticket)
    switch = [True]

    def callback(sslobj: Any, name: str | None, ctx: ssl.SSLContext) -> None:
        if switch[0]:
            sslobj.context = second

    first.sni_callback = callback
    client_ctx = client_context("stdlib", pem_dir)
    made_second = handshake(client_ctx, first)
    assert made_second.server.context is second
    assert second.session_stats()["accept_good"] == 1
    session = made_second.client.session
    assert reused(handshake(client_ctx, first, session)) == (True, True)
    switch[0] = False
    pair = handshake(client_ctx, first, session)
    assert reused(pair) == (False, False) and pair.server.context is first
    made_first = pair.client.session
    assert reused(handshake(client_ctx, first, made_first)) == (True, True)
    switch[0] = True
    assert reused(handshake(client_ctx, first, made_first)) == (False, False)
    assert (first.session_stats()["hits"], second.session_stats()["hits"]) == (1, 1)


def test_server_counts_an_expired_session_as_a_timeout(pem_dir: Path) -> None:
    clock = Clock()
    server_ctx = clocked(server_context("tls12", pem_dir), clock)
    client_ctx = client_context("stdlib", pem_dir)
    pair = handshake(client_ctx, server_ctx)
    session = pair.client.session
    assert pair.server.session.timeout == 7200 and pair.server.session.time == int(clock.now)
    clock.now += 7199
    assert reused(handshake(client_ctx, server_ctx, session)) == (True, True)
    clock.now += 1
    assert reused(handshake(client_ctx, server_ctx, session)) == (False, False)
    stats = server_ctx.session_stats()
    assert (stats["hits"], stats["misses"], stats["timeouts"]) == (1, 0, 1)


# -- a client context's sessions: given back, or from its cache ---------------------------------------


@pytest.mark.parametrize("no_ticket", [False, True], ids=["ticket", "session-id"])
def test_client_certificates_are_not_crossed(no_ticket: bool, pem_dir: Path,
                                             client_certs: dict[str, tuple[Path, Path]]) -> None:
    """A session made with one client certificate never resumes for another: another context refuses
    it (as the stdlib does) and does not have it in its cache; the same context with its certificate
    replaced does not offer it."""
    server_ctx = server_context("tls12", pem_dir, no_ticket=no_ticket)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(client_certs["ca"][0])
    alice, bob = client_context("tls12", pem_dir), client_context("tls12", pem_dir)
    alice.load_cert_chain(*client_certs["alice"])
    bob.load_cert_chain(*client_certs["bob"])

    def peer(pair: Pair) -> str:
        subject = dict(rdn[0] for rdn in pair.server.getpeercert()["subject"])
        return str(subject["commonName"])

    first = handshake(alice, server_ctx)
    assert peer(first) == "alice.example"
    with pytest.raises(ValueError, match="Session refers to a different SSLContext"):
        wrap(bob, server_ctx, first.client.session)
    pair = handshake(bob, server_ctx)
    assert reused(pair) == (False, False) and peer(pair) == "bob.example"
    pair = handshake(alice, server_ctx)  # from alice's cache
    assert reused(pair) == (True, True) and peer(pair) == "alice.example"
    alice.load_cert_chain(*client_certs["bob"])  # replaces alice's (the same kind of key)
    pair = handshake(alice, server_ctx)
    assert reused(pair) == (False, False) and peer(pair) == "bob.example"
    assert alice.session_stats()["misses"] == 0  # not offered: no miss


def test_client_cache_offers_the_last_session_by_itself(pem_dir: Path) -> None:
    ctx = client_context("tls12", pem_dir)
    assert isinstance(ctx, tls12.SSLContext) and ctx.client_session_cache is True
    server_ctx = server_context("stdlib", pem_dir)
    first = handshake(ctx, server_ctx)
    assert reused(first) == (False, False)
    pair = handshake(ctx, server_ctx)
    assert reused(pair) == (True, True)
    assert pair.client.session == first.client.session
    assert ctx.session_stats()["number"] == 1
    # session= still wins; a new session replaces the cached one.
    fresh = handshake(ctx, server_context("stdlib", pem_dir))  # offered, not resumed: a new session
    assert reused(fresh) == (False, False)
    assert ctx.session_stats()["misses"] == 1
    assert reused(handshake(ctx, server_ctx, first.client.session)) == (True, True)
    # Off: nothing offered by itself, nothing kept; session= as before.
    ctx.client_session_cache = False
    assert ctx.session_stats()["number"] == 0
    assert reused(handshake(ctx, server_ctx)) == (False, False)
    assert reused(handshake(ctx, server_ctx, first.client.session)) == (True, True)
    ctx.client_session_cache = True
    assert reused(handshake(ctx, server_ctx)) == (False, False)
    assert reused(handshake(ctx, server_ctx)) == (True, True)
    # Not on a server context.
    server_side = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    assert server_side.client_session_cache is False
    with pytest.raises(ValueError, match="not a client context"):
        server_side.client_session_cache = True


def test_client_cache_is_keyed_by_name_and_port(pem_dir: Path, serve: ServeFn) -> None:
    """Two ports of one server (one stdlib context: one ticket key): each port's session is offered
    only there. Without a server name a socket's is kept under the peer's address; a memory BIO's,
    whose port the context cannot see, not at all."""
    server_ctx = server_context("stdlib", pem_dir)
    a, b = serve(server_ctx, echo, connections=4), serve(server_ctx, echo, connections=2)
    ctx = client_context("tls12", pem_dir)
    seen = []
    for port in (a.port, b.port, a.port, b.port):
        with ctx.wrap_socket(raw_connection(port), server_hostname="localhost") as sock:
            seen.append(sock.session_reused)
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
    assert seen == [False, False, True, True]
    stats = ctx.session_stats()
    assert (stats["number"], stats["hits"], stats["misses"]) == (2, 2, 0)
    anonymous = client_context("tls12", pem_dir)
    anonymous.check_hostname = False
    seen = []
    for _ in range(2):
        with anonymous.wrap_socket(raw_connection(a.port)) as sock:
            seen.append(sock.session_reused)
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
    assert seen == [False, True]
    bios = [reused(handshake(anonymous, server_ctx, server_hostname=None)) for _ in range(2)]
    assert bios == [(False, False), (False, False)]


def test_client_cache_keeps_only_what_the_context_would_still_admit(pem_dir: Path) -> None:
    """A session is offered only under the verification settings that admitted the server, and kept
    only if they have not changed while its handshake ran."""
    other_ca = CertificateAuthority("another CA")
    ctx = client_context("tls12", pem_dir)
    server_ctx = server_context("tls12", pem_dir)
    handshake(ctx, server_ctx)
    ctx.load_verify_locations(cadata=other_ca.cert_pem().decode("ascii"))  # trusts more now
    assert reused(handshake(ctx, server_ctx)) == (False, False)
    assert reused(handshake(ctx, server_ctx)) == (True, True)
    ctx.check_hostname = False
    assert reused(handshake(ctx, server_ctx)) == (False, False)
    assert ctx.session_stats()["misses"] == 0  # never offered
    # Settings changed while the handshake ran: its session is not kept.
    ctx.client_session_cache = False
    ctx.client_session_cache = True
    pair = wrap(ctx, server_ctx)
    step(pair.client)
    pair.s_in.write(pair.c_out.read())  # type: ignore[attr-defined]
    ctx.check_hostname = True
    pump(pair)
    assert pair.client.session.has_ticket
    assert ctx.session_stats()["number"] == 0


def test_client_cache_expires_and_forgets_a_failed_session(pem_dir: Path) -> None:
    clock = Clock()
    ctx = clocked(client_context("tls12", pem_dir), clock)
    server_ctx = clocked(server_context("tls12", pem_dir), clock)
    first = handshake(ctx, server_ctx).client.session
    assert (first.time, first.timeout) == (int(clock.now), 7200)  # the server's ticket lifetime hint
    clock.now += 7199
    assert reused(handshake(ctx, server_ctx)) == (True, True)
    clock.now += 1
    assert reused(handshake(ctx, server_ctx)) == (False, False)  # expired: not offered
    assert ctx.session_stats()["misses"] == 0
    # A handshake that fails after offering the cached session: it is forgotten.
    assert ctx.session_stats()["number"] == 1
    pair = wrap(ctx, server_ctx)
    step(pair.client)
    pair.c_in.write(HANDSHAKE_FAILURE)
    with pytest.raises(ssl.SSLError):
        pair.client.do_handshake()
    assert ctx.session_stats()["number"] == 0
    assert reused(handshake(ctx, server_ctx)) == (False, False)


def test_client_cache_is_a_bounded_lru_with_expiry() -> None:
    assert tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)._t_client_sessions.max_entries == CLIENT_CACHE_SIZE == 1000
    clock = Clock()
    cache = ClientSessionCache(max_entries=2, clock=clock)
    a, b, c = (_session(clock, n, lifetime=100 if n != 3 else 50) for n in (1, 2, 3))
    cache.put(("a", 443), a)
    cache.put(("a", None), b)  # by name alone: another entry
    assert cache.get(("a", 443)) == a and cache.get(("a", None)) == b
    assert cache.get(("a", 443)) == a  # now the most recently used
    cache.put(("c", 443), c)  # ("a", None) goes
    assert cache.get(("a", None)) is None and cache.evicted == 1 and len(cache) == 2
    clock.now += 50
    assert cache.get(("c", 443)) is None and cache.get(("a", 443)) == a  # c expired
    cache.discard(("a", 443), b)  # not the one held: kept
    assert len(cache) == 1
    cache.discard(("a", 443), a)
    assert len(cache) == 0
    cache.put(("a", 443), dataclasses.replace(a, created=int(clock.now) - 100))  # expired already
    assert len(cache) == 0
    with pytest.raises(ValueError):
        ClientSessionCache(max_entries=0)


def _session(clock: Clock, n: int, lifetime: int) -> tls12.Session:
    return tls12.Session(session_id=bytes([n]) * 32, master_secret=bytes(48),
                         cipher_suite=tls12.CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                         extended_master_secret=True, server_name="localhost", alpn_protocol=None, peer_chain_der=(),
                         verified_chain_der=(), local_chain_der=(), policy=bytes(32), created=int(clock.now),
                         lifetime=lifetime)


# -- asyncio, http.client, requests -------------------------------------------------------------------


@pytest.mark.parametrize("server_impl", IMPLS)
def test_asyncio_reconnections_resume(server_impl: str, pem_dir: Path) -> None:
    """`asyncio.open_connection(ssl=ctx)` twice: the second resumes, with no session= anywhere (asyncio
    has none to give). With the stdlib's client context neither does."""
    server_ctx = server_context(server_impl, pem_dir)

    async def connect_twice(client_ctx: ssl.SSLContext) -> list[bool]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readexactly(1))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        seen = []
        async with server:
            for _ in range(2):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname="localhost"), TIMEOUT)
                writer.write(b"x")
                assert await asyncio.wait_for(reader.readexactly(1), TIMEOUT) == b"x"
                seen.append(writer.get_extra_info("ssl_object").session_reused)
                writer.close()
                await writer.wait_closed()
        return seen

    assert asyncio.run(connect_twice(client_context("tls12", pem_dir))) == [False, True]
    assert asyncio.run(connect_twice(client_context("stdlib", pem_dir))) == [False, False]
    assert server_ctx.session_stats()["hits"] == 1


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("server_impl", "no_ticket"), [("stdlib", False), ("tls12", False), ("tls12", True)],
                         ids=["stdlib", "tls12", "tls12-session-id"])
def test_http_client_reconnections_resume(server_impl: str, no_ticket: bool, pem_dir: Path) -> None:
    """http.client closes without close_notify, after which OpenSSL drops a session ID from its cache
    (a ticket still opens): tls12's server keeps it, so session IDs resume with it too."""
    server_ctx = server_context(server_impl, pem_dir, no_ticket=no_ticket)

    def get_twice(client_ctx: ssl.SSLContext) -> list[bool]:
        seen = []
        for _ in range(2):
            conn = http.client.HTTPSConnection("localhost", port, context=client_ctx, timeout=TIMEOUT)
            conn.request("GET", "/")
            assert conn.sock is not None
            seen.append(conn.sock.session_reused)
            assert conn.getresponse().read() == b"hello"
            conn.close()
        return seen

    with https_server(server_ctx, _Hello) as port:
        assert get_twice(client_context("tls12", pem_dir)) == [False, True]
        assert get_twice(client_context("stdlib", pem_dir)) == [False, False]
    assert server_ctx.session_stats()["hits"] == 1


class ContextAdapter(requests.adapters.HTTPAdapter):
    """requests with one SSLContext for every connection (urllib3's `ssl_context`)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self._ctx = ctx
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["ssl_context"] = self._ctx
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def test_requests_reconnections_resume(pem_dir: Path) -> None:
    """requests (urllib3) with a tls12 context, a new connection per request: every one after the
    first resumes, as the server's counters show."""
    server_ctx = server_context("tls12", pem_dir)
    ctx = client_context("tls12", pem_dir)
    with https_server(server_ctx, _Hello) as port, requests.Session() as session:
        session.mount("https://", ContextAdapter(ctx))
        for _ in range(3):
            response = session.get(f"https://localhost:{port}/", headers={"Connection": "close"},
                                   verify=str(pem_dir / "ca.pem"), timeout=TIMEOUT)
            assert response.text == "hello"
    stats = server_ctx.session_stats()
    assert (stats["accept_good"], stats["hits"]) == (3, 2)
    assert ctx.session_stats()["hits"] == 2
