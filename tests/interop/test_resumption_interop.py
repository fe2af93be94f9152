"""Session resumption with real peers, both roles, by session ID and by RFC 5077 ticket (issue 13).

- Our server <- each peer's client reconnecting with the session of its first connection, in one process
  (`openssl s_client -reconnect`: 1 new and 5 resumed; `gnutls-cli -r`; `tstclnt -L 2`; TlsPeer, gopeer and
  botanpeer `-connections 2`; `curl URL URL`) or across two (`s_client -sess_out`, then `-sess_in`). Our
  server says which connections it resumed (`session_reused`) and how the peer asked (the session ID or
  the ticket of its ClientHello, parsed here); the peer's own output says the same.
- Our client -> each peer's server: `ClientConnection(..., session=first.session)`; our side says it
  resumed and what it offered, the peer's output (its statistics, its log, or its report line) agrees.
- Falling back to a full handshake, never an error: a ticket our client tampered with or truncated; a
  session offered to a restarted server (new ticket keys, an empty cache); a session made for another
  server name, which our client does not even offer; a client without the extended master secret.
- Mutual TLS: every connection `s_client -reconnect` resumes on our server still carries the client
  certificate of the first, verified.

Modes: "id" resumes by session ID, "ticket" by RFC 5077 ticket. Each peer is switched by its own option
where it has one (the table in tests/interop/README.md); our server keeps both on unless said.

What the peers cannot do, with the evidence the tests pin:
- Go's crypto/tls keeps no session IDs in either role: it resumes by ticket only, and its session-ID
  cases are full handshakes. Its ticket cases resume: Go 1.23 has the extended master secret, without
  which tls12 makes no session (RFC 7627 §5.3 as tls12 applies it: never a legacy resumption).
- curl 7.88 (OpenSSL) sends no SessionTicket extension: it resumes by session ID even from a server with
  tickets.
- Botan's client always asks for a ticket: its session-ID case is our server without ticket keys.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from interop_support import (
    BY_IANA,
    LOOPBACK,
    App,
    ClientPki,
    ClientScript,
    Ctx,
    EchoApp,
    HttpApp,
    Matrix,
    NetnsServer,
    Proc,
    Row,
    SessionResult,
    Suite,
    assert_client_verified,
    assert_ours,
    drive_stdin_client,
    free_port,
    labelled,
    our_server,
    report_lines,
    require_tool,
    run,
    run_client,
    start_peer_server,
    wait_listening,
)

PEER = "?"
pytestmark = pytest.mark.interop

MODES = ("id", "ticket")
MODE_NAME = {"id": "session ID", "ticket": "ticket"}
MESSAGE = b"hello again from a client that resumes\n"
AES128_RSA = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
AES256_RSA = BY_IANA["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
CHACHA_RSA = BY_IANA["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
GO_NO_IDS = "crypto/tls keeps no session IDs (tickets only)"


def record(row: Row, results: Sequence[SessionResult], mode: str, note: str | None = None) -> None:
    """The matrix row of a series of connections: the last one's summary, and how many resumed."""
    row.details.update(results[-1].summary())
    row.details.update(resumption=mode, connections=len(results),
                       resumed=sum(r.session_reused for r in results))
    if note:
        row.details["note"] = note


def expected_series(connections: int, reason: str | None) -> list[bool]:
    """Each connection after the first resumes, unless there is a reason it cannot."""
    return [False] + [reason is None] * (connections - 1)


def flipped(data: bytes) -> bytes:
    """`data` with one bit flipped in its middle (inside whatever a ticket encrypts or authenticates)."""
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


# -- what our side must show -----------------------------------------------------------------------------


def assert_series(results: Sequence[SessionResult], mode: str, expected: list[bool], *, suite: Suite,
                  ems: bool = True) -> None:
    """A series of connections of one peer, as our side saw them: each a good TLS 1.2 handshake with `suite`
    that resumed or not as `expected`, and the resumed ones asked for the first one's session the `mode`
    way (the ClientHello: on our server the peer's, on our client ours) and derived from its master secret."""
    assert [r.session_reused for r in results] == expected, [(r.session_reused, r.error) for r in results]
    for r in results:
        assert r.error is None and r.handshake, f"our {r.role} failed: {r.error}"
        assert (r.version, r.suite, r.ems) == ("TLSv1.2", suite.iana, ems), (r.version, r.suite, r.ems)
    first = results[0]
    if not any(expected):
        return
    made = first.session
    assert made is not None, "the first connection made no session"
    for r in results[1:]:
        hello = r.client_hello if r.role == "server" else r.our_hello
        assert hello is not None and r.session is not None
        assert r.session.master_secret == made.master_secret
        if mode == "id":
            assert made.session_id and hello.session_id == made.session_id, (made.session_id, hello.session_id)
            assert not hello.ticket, "a ticket was offered"
        else:
            assert hello.ticket, f"no ticket offered: {hello.ticket!r}"
            if r.role == "client":
                assert hello.ticket == made.ticket


# -- our server <- each peer's client --------------------------------------------------------------------
#
# Each runner makes the peer client's connections (`connections` of them) and returns its exit status and
# output; `resumed` counts the resumed ones in that output.


def s_client(c: Ctx, port: int, *extra: str | Path) -> list[str | Path]:
    require_tool("openssl")
    return ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", "localhost",
            "-CAfile", c.pki.ca_pem, "-verify_return_error", *extra]


def openssl_client(c: Ctx, port: int, mode: str) -> tuple[int, str]:
    """`s_client -reconnect`: a full handshake, then five reconnections with its session, each dropped after the
    handshake; the last one carries the message."""
    argv = s_client(c, port, "-reconnect", *(["-no_ticket"] if mode == "id" else []))
    return drive_stdin_client(argv, name="s_client -reconnect", message=MESSAGE, closed_first="peer")


def s_client_resumed(text: str, mode: str) -> int:
    lines = re.findall(r"^(New|Reused), TLSv1\.2, Cipher is (\S+)$", text, re.M)
    assert len(lines) == 6 and lines[0][0] == "New", text
    return sum(kind == "Reused" for kind, _ in lines)


def gnutls_client(c: Ctx, port: int, mode: str) -> tuple[int, str]:
    """`gnutls-cli -r`: a handshake, then a reconnection trying to resume; the second carries the message."""
    require_tool("gnutls-cli")
    priority = "NORMAL:%NO_TICKETS" if mode == "id" else "NORMAL"
    argv: list[str | Path] = ["gnutls-cli", f"--x509cafile={c.pki.ca_pem}", "--sni-hostname=localhost",
                              "--verify-hostname=localhost", f"--priority={priority}", "-r", "-p", str(port), LOOPBACK]
    return drive_stdin_client(argv, name="gnutls-cli -r", message=MESSAGE, closed_first="peer")


def gnutls_cli_resumed(text: str, mode: str) -> int:
    """gnutls-cli says "This is a resumed session" (its "Resume Handshake was completed" only names the second
    handshake); a full handshake shows the server's certificate list."""
    assert "- Connecting again- trying to resume previous session" in text, text
    resumed = text.count("*** This is a resumed session")
    assert text.count("- Got a certificate list of") == 2 - resumed, text
    return resumed


def nss_client(c: Ctx, port: int, mode: str) -> tuple[int, str]:
    """`tstclnt -L 2`: two connections in one process, the second with the session of the first (NSS's client
    cache); `-u` turns the ticket extension on."""
    require_tool("tstclnt")
    request = c.tmp_path / "request.txt"
    request.write_bytes(MESSAGE)
    db = c.fixture("nss_client_db")
    return run(["tstclnt", "-h", LOOPBACK, "-p", str(port), "-a", "localhost", "-d", f"sql:{db}", "-4", "-v",
                "-A", request, "-L", "2", *(["-u"] if mode == "ticket" else [])],
               name="tstclnt -L 2", timeout=30)


def nss_resumed(text: str, mode: str) -> int:
    """tstclnt and selfserv print their session cache statistics after each handshake: cache hits
    count resumptions, stateless resumes those by ticket."""
    stats = [tuple(map(int, m)) for m in re.findall(r"(\d+) cache hits; \d+ cache misses, \d+ cache not reusable\n"
                                                    r"\s*(\d+) stateless resumes", text)]
    assert stats, text
    hits, stateless = stats[-1]
    assert stateless == (hits if mode == "ticket" else 0), text
    return hits


def java_cmd(c: Ctx, *flags: str) -> list[str | Path]:
    require_tool("java")
    return ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", *flags, "-cp", c.fixture("java_classes"), "TlsPeer"]


def java_client(c: Ctx, port: int, mode: str) -> tuple[int, str]:
    """TlsPeer: two connections from one SSLContext (JSSE's client cache, by host and port), its default
    offer (TLS 1.3 and 1.2); the session ticket extension switched off for "id"."""
    flags = ["-Djdk.tls.client.enableSessionTicketExtension=false"] if mode == "id" else []
    return run([*java_cmd(c, *flags), "client", "-port", str(port), "-ca", c.pki.ca_pem, "-sni", "localhost",
                "-send", MESSAGE.decode(), "-connections", "2"], name="TlsPeer client", timeout=60)


def java_resumed(text: str, mode: str) -> int:
    """JSSE has no "resumed" flag: a connection resumed when its session was created with an earlier one's
    (and, by session ID, has its ID)."""
    lines = report_lines(text, "HANDSHAKE")
    return sum(any(line["created"] == e["created"] and (mode == "ticket" or line["session_id"] == e["session_id"])
                   for e in lines[:i]) for i, line in enumerate(lines))


def go_client(c: Ctx, port: int, mode: str) -> tuple[int, str]:
    """gopeer: two connections with one tls.ClientSessionCache, TLS 1.2 only; SessionTicketsDisabled for "id"."""
    return run([c.fixture("go_peer"), "client", "-port", str(port), "-ca", c.pki.ca_pem, "-sni", "localhost",
                "-send", MESSAGE.decode(), "-tls12", "-connections", "2", *(["-no-tickets"] if mode == "id" else [])],
               name="gopeer client", timeout=60)


def flag_resumed(text: str, mode: str) -> int:
    """gopeer and botanpeer: each HANDSHAKE line says whether that connection resumed."""
    return sum(line["resumed"] == "true" for line in report_lines(text, "HANDSHAKE"))


def echoed(resumed: Callable[[str, str], int]) -> Callable[[str, str], int]:
    """A reporting client's count, once its RESULT lines say every echo came back."""

    def count(text: str, mode: str) -> int:
        results = report_lines(text, "RESULT")
        assert results and all(r["echo_ok"] == "true" for r in results), text
        return resumed(text, mode)

    return count


def go_cannot(c: Ctx, mode: str) -> str | None:
    return GO_NO_IDS if mode == "id" else None


def botan_client(c: Ctx, port: int, mode: str) -> tuple[int, str]:
    """botanpeer: two connections with one Session_Manager_In_Memory."""
    return run([c.fixture("botan_peer"), "client", "-port", str(port), "-ca", c.pki.ca_pem, "-sni", "localhost",
                "-send", MESSAGE.decode(), "-connections", "2"], name="botanpeer client", timeout=60)


def curl_client(c: Ctx, port: int, mode: str) -> tuple[int, str]:
    """`curl URL URL`: our server closes each connection after its page, so the second URL takes a new connection,
    with the session of the first."""
    require_tool("curl")
    url = f"https://localhost:{port}/"
    return run(["curl", "-sS", "-v", "--tls-max", "1.2", "--max-time", "20", "--cacert", c.pki.ca_pem,
                "--resolve", f"localhost:{port}:127.0.0.1", "-o", c.tmp_path / "1.html", "-o", c.tmp_path / "2.html",
                url + "1", url + "2"], name="curl", timeout=30)


def curl_resumed(text: str, mode: str) -> int:
    """curl -v shows each connection's handshake messages: a resumed one has no Certificate."""
    connections = text.split("* Connected to localhost")[1:]
    assert len(connections) == 2 and text.count("SSL connection using TLSv1.2 / ECDHE-RSA-AES128-GCM-SHA256") == 2, text
    assert "* SSL re-using session ID" in connections[1], text
    return sum("TLS handshake, Certificate (11)" not in part for part in connections)


@dataclass(frozen=True)
class PeerClient:
    run: Callable[[Ctx, int, str], tuple[int, str]]
    connections: int
    resumed: Callable[[str, str], int]  # how many connections resumed, as its output says
    suite: Suite  # what our server chooses from its offer
    how: dict[str, str]  # per mode, how the peer was run
    app: Callable[[], App] = EchoApp  # our server's application for it
    cannot: Callable[[Ctx, str], str | None] = lambda c, mode: None  # why a mode cannot resume, if it cannot
    server: Callable[[str], dict[str, Any]] = lambda mode: {}  # our ServerConfig for a mode, when not the default
    note: Callable[[str], str | None] = lambda mode: None  # what the matrix says of a mode that resumed otherwise


PEER_CLIENTS: dict[str, PeerClient] = {
    "openssl": PeerClient(openssl_client, 6, s_client_resumed, AES128_RSA,
                          {"id": "s_client -reconnect -no_ticket", "ticket": "s_client -reconnect"}),
    "gnutls": PeerClient(gnutls_client, 2, gnutls_cli_resumed, AES128_RSA,
                         {"id": "gnutls-cli -r, NORMAL:%NO_TICKETS", "ticket": "gnutls-cli -r"}),
    # tstclnt cannot close first: our server does, once the echo is out.
    "nss": PeerClient(nss_client, 2, nss_resumed, AES128_RSA, {"id": "tstclnt -L 2", "ticket": "tstclnt -L 2 -u"},
                      app=lambda: EchoApp(close_after=len(MESSAGE))),
    "java": PeerClient(java_client, 2, echoed(java_resumed), AES128_RSA,
                       {"id": "one SSLContext, enableSessionTicketExtension=false", "ticket": "one SSLContext"}),
    "go": PeerClient(go_client, 2, echoed(flag_resumed), AES128_RSA,
                     {"id": "ClientSessionCache, SessionTicketsDisabled", "ticket": "ClientSessionCache"},
                     cannot=go_cannot),
    # Botan's client always asks for a ticket: by session ID means our server without ticket keys.
    "botan": PeerClient(botan_client, 2, echoed(flag_resumed), CHACHA_RSA,
                        {"id": "Session_Manager_In_Memory, our server without tickets",
                         "ticket": "Session_Manager_In_Memory"},
                        server=lambda mode: {"ticket_keys": None} if mode == "id" else {}),
    # curl never asks for a ticket: with our server's tickets on too, it resumes by session ID.
    "curl": PeerClient(curl_client, 2, curl_resumed, AES128_RSA,
                       {"id": "curl URL URL, our server without tickets", "ticket": "curl URL URL"},
                       app=lambda: HttpApp("a page for a client that resumes"),
                       server=lambda mode: {"ticket_keys": None} if mode == "id" else {},
                       note=lambda mode: "curl sends no SessionTicket extension: resumed by session ID"
                       if mode == "ticket" else None),
}


@pytest.mark.parametrize(("peer", "mode"), [(p, m) for p in PEER_CLIENTS for m in MODES])
def test_peer_client_resumes_with_our_server(ctx: Ctx, matrix: Matrix, peer: str, mode: str) -> None:
    spec = PEER_CLIENTS[peer]
    reason = spec.cannot(ctx, mode)
    expected = expected_series(spec.connections, reason)
    row = matrix.row("server", labelled(peer, f"resumption by {MODE_NAME[mode]}: {spec.how[mode]}"), peer=peer)
    with our_server(ctx.pki.server_config(**spec.server(mode)), spec.app) as server:
        rc, text = spec.run(ctx, server.port, mode)
        results = server.wait_results(spec.connections)
    record(row, results, mode, reason or spec.note(mode))
    assert rc == 0, text
    assert len(server.results) == spec.connections, server.results
    # curl asks for no ticket: its "ticket" case is resumption by session ID from a server with tickets.
    how = "id" if peer == "curl" else mode
    assert_series(results, how, expected, suite=spec.suite)
    assert results[-1].clean, results[-1]
    assert spec.resumed(text, mode) == sum(expected), text
    hellos = [r.client_hello for r in results]
    assert all(h is not None for h in hellos)
    if peer == "curl" or (peer == "go" and mode == "id"):
        assert all(h.ticket is None for h in hellos if h), "a SessionTicket extension"
    if peer == "go" and mode == "id":
        # Our server gave the first connection a session ID; crypto/tls keeps none and offers a random one.
        made = results[0].session
        assert made is not None and made.session_id, made
        assert all(h.session_id != made.session_id for h in hellos[1:] if h), "Go offered our session ID"


@pytest.mark.parametrize("mode", MODES)
def test_s_client_resumes_across_processes(ctx: Ctx, matrix: Matrix, mode: str) -> None:
    """`s_client -sess_out FILE`, then a second s_client process with `-sess_in FILE`."""
    row = matrix.row("server", f"resumption by {MODE_NAME[mode]}: s_client -sess_out, then -sess_in",
                     peer="openssl")
    saved = ctx.tmp_path / "session.pem"
    no_ticket = ["-no_ticket"] if mode == "id" else []
    outputs = []
    with our_server(ctx.pki.server_config()) as server:
        for extra in (["-sess_out", saved], ["-sess_in", saved]):
            rc, text = drive_stdin_client(s_client(ctx, server.port, *no_ticket, *extra), name="s_client",
                                          message=MESSAGE, closed_first="peer")
            assert rc == 0, text
            outputs.append(text)
        results = server.wait_results(2)
    record(row, results, mode)
    assert_series(results, mode, [False, True], suite=AES128_RSA)
    for r in results:
        assert_ours(r, suite=AES128_RSA, closed_first="peer")
    assert "\nNew, TLSv1.2, Cipher is" in outputs[0] and "\nReused, TLSv1.2, Cipher is" in outputs[1], outputs
    assert ("TLS session ticket:" in outputs[1]) is (mode == "ticket"), outputs[1]


# -- our client -> each peer's server --------------------------------------------------------------------
#
# Each starts the peer's server for `connections` connections and yields where it listens; `finish()` waits
# until it has served them all and returns its output, in which `resumed` counts the resumed ones.


@dataclass
class Running:
    port: int
    finish: Callable[[], str]


@dataclass
class NssRunning(Running):
    proc: Proc  # selfserv, to wait for what it says of a connection that failed


LINE = b"hello from tls12, resuming\n"
REVERSED = LINE[:-1][::-1] + b"\n"
HTTP_REQUEST = b"GET / HTTP/1.0\r\n\r\n"


@contextlib.contextmanager
def openssl_server(c: Ctx, mode: str, connections: int) -> Iterator[Running]:
    """s_server -rev (each line comes back reversed) for `connections` connections; -no_ticket for "id"."""
    require_tool("openssl")
    port = free_port()
    with Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key,
               "-rev", "-naccept", str(connections), *(["-no_ticket"] if mode == "id" else [])],
              name="s_server", limit=60) as proc:
        wait_listening(port, 15, proc)

        def finish() -> str:
            assert proc.wait(15) == 0, proc.text
            return proc.text

        yield Running(port, finish)


def s_server_resumed(text: str, mode: str) -> int:
    """s_server's statistics when it exits: resumptions are cache hits; by ticket, nothing is cached."""
    hits = re.search(r"^\s*(\d+) session cache hits$", text, re.M)
    items = re.search(r"^\s*(\d+) items in the session cache$", text, re.M)
    assert hits and items, text
    assert (int(items.group(1)) > 0) is (mode == "id"), text
    return int(hits.group(1))


def wait_count(proc: Proc, pattern: str, count: int) -> None:
    proc.wait_for(rf"(?s)(?:{pattern}.*?){{{count}}}", 15)


@contextlib.contextmanager
def gnutls_server(c: Ctx, mode: str, connections: int) -> Iterator[Running]:
    """gnutls-serv --echo (in its own network namespace); --noticket for "id"."""
    require_tool("gnutls-serv", "stdbuf")
    with NetnsServer(["stdbuf", "-oL", "gnutls-serv", "--echo", "-p", "4433", f"--x509certfile={c.pki.leaf_pem}",
                      f"--x509keyfile={c.pki.leaf_key}", *(["--noticket"] if mode == "id" else [])],
                     name="gnutls-serv", inner_port=4433) as server:

        def finish() -> str:
            wait_count(server.server, r"\*\*\* Processing", connections)
            return server.text

        yield Running(server.port, finish)


def gnutls_serv_resumed(text: str, mode: str) -> int:
    return text.count("*** This is a resumed session")


@contextlib.contextmanager
def nss_server(c: Ctx, mode: str, connections: int) -> Iterator[Running]:
    """selfserv (in its own network namespace), its session ID cache on; -u turns tickets on."""
    require_tool("selfserv", "stdbuf")
    db = c.fixture("nss_server_db")
    with NetnsServer(["stdbuf", "-oL", "selfserv", "-p", "4433", "-d", f"sql:{db}", "-n", "server", "-v", "-G",
                      *(["-u"] if mode == "ticket" else [])], name="selfserv", inner_port=4433) as server:

        def finish() -> str:
            wait_count(server.server, "stateless resumes", connections)
            return server.text

        yield NssRunning(server.port, finish, server.server)


@contextlib.contextmanager
def reporting_server(argv: list[str | Path], name: str) -> Iterator[Running]:
    """TlsPeer, gopeer or botanpeer with `-connections N`: it exits 0 once it has served them all."""
    proc, port = start_peer_server(argv, name=name, ready=30)
    with proc:

        def finish() -> str:
            assert proc.wait(30) == 0, proc.text
            return proc.text

        yield Running(port, finish)


def java_server(c: Ctx, mode: str, connections: int) -> contextlib.AbstractContextManager[Running]:
    flags = ["-Djdk.tls.server.enableSessionTicketExtension=false"] if mode == "id" else []
    return reporting_server([*java_cmd(c, *flags), "server", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key,
                             "-connections", str(connections)], "TlsPeer server")


def go_server(c: Ctx, mode: str, connections: int) -> contextlib.AbstractContextManager[Running]:
    return reporting_server([c.fixture("go_peer"), "server", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key, "-tls12",
                             "-connections", str(connections), *(["-no-tickets"] if mode == "id" else [])],
                            "gopeer server")


def botan_server(c: Ctx, mode: str, connections: int) -> contextlib.AbstractContextManager[Running]:
    return reporting_server([c.fixture("botan_peer"), "server", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key,
                             "-connections", str(connections), "-tickets", "on" if mode == "ticket" else "off"],
                            "botanpeer server")


@dataclass(frozen=True)
class PeerServer:
    start: Callable[[Ctx, str, int], contextlib.AbstractContextManager[Running]]
    resumed: Callable[[str, str], int]
    suite: Suite  # what it chooses from our offer
    script: Callable[[], ClientScript]  # our client's part
    received: bytes  # what our client receives
    closed_first: str
    how: dict[str, str]
    cannot: Callable[[Ctx, str], str | None] = lambda c, mode: None


PEER_SERVERS: dict[str, PeerServer] = {
    "openssl": PeerServer(openssl_server, s_server_resumed, AES128_RSA, lambda: ClientScript(LINE, expect=len(LINE)),
                          REVERSED, "us", {"id": "s_server -no_ticket", "ticket": "s_server"}),
    "gnutls": PeerServer(gnutls_server, gnutls_serv_resumed, AES128_RSA, lambda: ClientScript(LINE), LINE, "us",
                         {"id": "gnutls-serv --noticket", "ticket": "gnutls-serv"}),
    "nss": PeerServer(nss_server, nss_resumed, AES128_RSA, lambda: ClientScript(HTTP_REQUEST, expect=1, close="peer"),
                      b"HTTP/1.0 200 OK\r\n", "peer", {"id": "selfserv", "ticket": "selfserv -u"}),
    "java": PeerServer(java_server, java_resumed, AES256_RSA, lambda: ClientScript(LINE), LINE, "us",
                       {"id": "one SSLContext, enableSessionTicketExtension=false", "ticket": "one SSLContext"}),
    "go": PeerServer(go_server, flag_resumed, AES128_RSA, lambda: ClientScript(LINE), LINE, "us",
                     {"id": "one tls.Config, SessionTicketsDisabled", "ticket": "one tls.Config"}, cannot=go_cannot),
    "botan": PeerServer(botan_server, flag_resumed, CHACHA_RSA, lambda: ClientScript(LINE), LINE, "us",
                        {"id": "Session_Manager_In_Memory", "ticket": "Session_Manager_In_Memory, a ticket key"}),
}


@pytest.mark.parametrize(("peer", "mode"), [(p, m) for p in PEER_SERVERS for m in MODES])
def test_our_client_resumes_with_peer_server(ctx: Ctx, matrix: Matrix, peer: str, mode: str) -> None:
    spec = PEER_SERVERS[peer]
    reason = spec.cannot(ctx, mode)
    expected = expected_series(2, reason)
    row = matrix.row("client", labelled(peer, f"resumption by {MODE_NAME[mode]}: {spec.how[mode]}"), peer=peer)
    config = ctx.pki.client_config()
    with spec.start(ctx, mode, 2) as server:
        first = run_client(server.port, spec.script(), config=config)
        second = run_client(server.port, spec.script(), config=config, session=first.session)
        text = server.finish()
    results = [first, second]
    record(row, results, mode, reason)
    assert_series(results, mode, expected, suite=spec.suite)
    for r in results:
        assert_ours(r, suite=spec.suite, closed_first=spec.closed_first)
        assert r.received_head.startswith(spec.received), r.received_head
    assert spec.resumed(text, mode) == sum(expected), text
    if peer == "go" and mode == "id":
        # crypto/tls without tickets gives no session ID to keep (its ServerHello echoes the client's, empty
        # here): our client keeps no session, so there is nothing to offer.
        assert first.session is None and second.our_hello is not None
        assert second.our_hello.session_id == b"" and second.our_hello.ticket == b""


# -- falling back to a full handshake, never an error --------------------------------------------------------


#: A ticket our client tampers with: a bit flipped in its middle (what the server encrypted and authenticated),
#: cut in half, or a bit flipped in its first byte (the key name every peer here puts first, RFC 5077 §4).
TAMPERED: dict[str, Callable[[bytes], bytes]] = {
    "flipped": flipped,
    "truncated": lambda t: t[:len(t) // 2],
    "renamed": lambda t: bytes([t[0] ^ 0x01]) + t[1:],
}
TAMPERED_NAME = {"flipped": "a ticket with one bit flipped", "truncated": "a ticket cut in half",
                 "renamed": "a ticket under a key name the server does not have"}


@pytest.mark.parametrize(("peer", "how"), [("openssl", "flipped"), ("openssl", "truncated"), ("openssl", "renamed"),
                                           ("gnutls", "flipped"), ("nss", "renamed"), ("java", "flipped"),
                                           ("botan", "flipped")])
def test_tampered_ticket_gets_a_full_handshake(ctx: Ctx, matrix: Matrix, peer: str, how: str) -> None:
    """Our client offers its ticket with one bit flipped, cut in half, or under a key name the server does not
    have: the peer's server cannot open it and does a full handshake, with no alert; our client takes the new
    session. (NSS only so for a key name it does not have: `test_nss_refuses_a_ticket_of_its_own_that_fails`.)"""
    spec = PEER_SERVERS[peer]
    row = matrix.row("client", labelled(peer, f"resumption: {TAMPERED_NAME[how]} -> a full handshake"), peer=peer)
    config = ctx.pki.client_config()
    with spec.start(ctx, "ticket", 2) as server:
        first = run_client(server.port, spec.script(), config=config)
        assert first.session is not None and first.session.ticket, first
        bad = dataclasses.replace(first.session, ticket=TAMPERED[how](first.session.ticket))
        second = run_client(server.port, spec.script(), config=config, session=bad)
        text = server.finish()
    record(row, [first, second], "fallback")
    assert_series([first, second], "ticket", [False, False], suite=spec.suite)
    assert second.our_hello is not None and second.our_hello.ticket == bad.ticket
    assert second.alert_received is None and second.alert_sent is None
    assert second.session is not None and second.session.master_secret != bad.master_secret
    assert_ours(second, suite=spec.suite, closed_first=spec.closed_first)
    assert spec.resumed(text, "ticket") == 0, text


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_nss_refuses_a_ticket_of_its_own_that_fails(ctx: Ctx, matrix: Matrix, how: str) -> None:
    """NSS's server (3.87) ignores a ticket under a key name it does not have, but a ticket with its own key name
    that does not decrypt and authenticate is a fatal illegal_parameter ("malformed Client Hello"), where
    RFC 5077 §3.3 lets a server fall back to a full handshake. Our client reports the alert."""
    spec = PEER_SERVERS["nss"]
    row = matrix.row("negative", f"resumption: {TAMPERED_NAME[how]} -> selfserv sends illegal_parameter",
                     peer="nss")
    config = ctx.pki.client_config()
    with spec.start(ctx, "ticket", 2) as server:
        first = run_client(server.port, spec.script(), config=config)
        assert first.session is not None and first.session.ticket, first
        bad = dataclasses.replace(first.session, ticket=TAMPERED[how](first.session.ticket))
        second = run_client(server.port, spec.script(), config=config, session=bad)
        assert isinstance(server, NssRunning)
        server.proc.wait_for("SSL received a malformed Client Hello handshake message", 15)
    row.details.update(second.summary())
    assert_ours(first, suite=spec.suite, closed_first="peer")
    assert second.our_hello is not None and second.our_hello.ticket == bad.ticket
    assert not second.handshake and second.alert_received == "illegal_parameter", second
    assert second.error is not None and second.error.startswith("AlertReceivedError"), second.error


@pytest.mark.parametrize("mode", MODES)
def test_session_offered_to_a_restarted_server(ctx: Ctx, matrix: Matrix, mode: str) -> None:
    """A session from one s_server process offered to the next one on the same port (new ticket keys, an empty
    session cache): a full handshake, no error, and a new session."""
    row = matrix.row("client", f"resumption by {MODE_NAME[mode]}: the server restarted -> a full handshake",
                     peer="openssl")
    config = ctx.pki.client_config()
    spec = PEER_SERVERS["openssl"]
    with openssl_server(ctx, mode, 1) as server:
        first = run_client(server.port, spec.script(), config=config)
        server.finish()
    assert first.session is not None
    with openssl_server(ctx, mode, 1) as server:
        second = run_client(server.port, spec.script(), config=config, session=first.session)
        text = server.finish()
    record(row, [first, second], "fallback")
    assert_series([first, second], mode, [False, False], suite=AES128_RSA)
    hello = second.our_hello
    assert hello is not None
    if mode == "id":
        assert hello.session_id == first.session.session_id != b""
    else:
        assert hello.ticket == first.session.ticket != b""
    assert second.session is not None and second.session.master_secret != first.session.master_secret
    assert_ours(second, suite=AES128_RSA, closed_first="us")
    assert s_server_resumed(text, mode) == 0


def test_session_for_another_name_is_not_offered(ctx: Ctx, matrix: Matrix) -> None:
    """A session made for "localhost" is not offered on a connection to 127.0.0.1 (the same server, whose
    certificate names both): our ClientHello carries no session ID and an empty ticket extension."""
    row = matrix.row("client", "resumption: a session for another server name is not offered", peer="openssl")
    config = ctx.pki.client_config()
    spec = PEER_SERVERS["openssl"]
    with openssl_server(ctx, "ticket", 2) as server:
        first = run_client(server.port, spec.script(), config=config)
        second = run_client(server.port, spec.script(), config=config, server_name="127.0.0.1",
                            session=first.session)
        text = server.finish()
    record(row, [first, second], "fallback")
    assert first.session is not None and first.session.ticket and first.session.server_name == "localhost"
    assert_series([first, second], "ticket", [False, False], suite=AES128_RSA)
    hello = second.our_hello
    assert hello is not None and (hello.sni, hello.session_id, hello.ticket) == (None, b"", b"")
    assert second.session is not None and second.session.server_name == "127.0.0.1"
    assert s_server_resumed(text, "ticket") == 0


def test_client_without_extended_master_secret_is_not_resumed(ctx: Ctx, matrix: Matrix) -> None:
    """`gnutls-cli -r` without the extended master secret (%NO_SESSION_HASH): tls12 makes no session without it
    (no legacy resumption), so the reconnection is a full handshake, and gnutls-cli says it was not resumed."""
    row = matrix.row("server", "resumption: a client without EMS (gnutls-cli -r, %NO_SESSION_HASH) -> full "
                               "handshakes", peer="gnutls")
    require_tool("gnutls-cli")
    with our_server(ctx.pki.server_config()) as server:
        argv: list[str | Path] = ["gnutls-cli", f"--x509cafile={ctx.pki.ca_pem}", "--sni-hostname=localhost",
                                  "--verify-hostname=localhost", "--priority=NORMAL:%NO_SESSION_HASH", "-r",
                                  "-p", str(server.port), LOOPBACK]
        rc, text = drive_stdin_client(argv, name="gnutls-cli -r", message=MESSAGE, closed_first="peer")
        results = server.wait_results(2)
    record(row, results, "fallback")
    assert rc == 0, text
    assert_series(results, "ticket", [False, False], suite=AES128_RSA, ems=False)
    assert all(r.session is None for r in results)
    assert gnutls_cli_resumed(text, "ticket") == 0, text
    assert "- Session ID:" not in text, "our server gave no session to resume"


# -- mutual TLS: the resumed connection still knows the client ----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_resumed_connection_keeps_the_client_certificate(ctx: Ctx, client_pki: ClientPki, matrix: Matrix,
                                                         mode: str) -> None:
    """`s_client -reconnect` with a client certificate against our server requiring one: the five resumed
    connections send no certificate, and each still shows the first one's chain and verified path."""
    leaf = client_pki.leaves["ecdsa-p256"]
    row = matrix.row("server", f"resumption by {MODE_NAME[mode]} with mutual TLS: s_client -reconnect -cert",
                     peer="openssl")
    with our_server(client_pki.server_config(ctx.pki)) as server:
        argv = s_client(ctx, server.port, "-reconnect", "-cert", leaf.cert_pem, "-key", leaf.key_pem,
                        *(["-no_ticket"] if mode == "id" else []))
        rc, text = drive_stdin_client(argv, name="s_client -reconnect", message=MESSAGE, closed_first="peer")
        results = server.wait_results(6)
    record(row, results, mode)
    row.details["client_certificate"] = leaf.issued.certificate.subject.rfc4514_string()
    assert rc == 0, text
    assert_series(results, mode, [False] + [True] * 5, suite=AES128_RSA)
    for r in results:
        assert_client_verified(r, leaf, client_pki)
    assert s_client_resumed(text, mode) == 5
    # The CertificateRequest (and so the CA names s_client lists) comes in the full handshake only.
    assert text.count("Acceptable client certificate CA names") == 1, text


# -- a reference: Go resumes with OpenSSL as it does with tls12 ----------------------------------------------


def test_go_resumes_with_openssl(ctx: Ctx, matrix: Matrix) -> None:
    """The same gopeer resumes by ticket with OpenSSL in both roles, with the extended master secret on every
    connection: what Go does with tls12 above, checked against a third implementation."""
    row = matrix.row("reference", "Go resumes by ticket with OpenSSL (both roles), with EMS", peer="go")
    palindrome = "level\n"  # s_server -rev answers each line reversed: this one comes back as sent
    port = free_port()
    with Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", ctx.pki.leaf_pem, "-key",
               ctx.pki.leaf_key, "-rev", "-naccept", "2"], name="s_server", limit=60) as s_server:
        wait_listening(port, 15, s_server)
        rc, text = run([ctx.fixture("go_peer"), "client", "-port", str(port), "-ca", ctx.pki.ca_pem, "-sni",
                        "localhost", "-send", palindrome, "-tls12", "-connections", "2"], name="gopeer client",
                       timeout=60)
        assert s_server.wait(15) == 0, s_server.text
    assert rc == 0, text
    assert [line["resumed"] for line in report_lines(text, "HANDSHAKE")] == ["false", "true"], text
    assert s_server_resumed(s_server.text, "ticket") == 1
    with contextlib.ExitStack() as stack:
        go = stack.enter_context(reporting_server([ctx.fixture("go_peer"), "server", "-cert", ctx.pki.leaf_pem, "-key",
                                                   ctx.pki.leaf_key, "-tls12", "-connections", "6"], "gopeer server"))
        rc, client_text = run(s_client(ctx, go.port, "-reconnect"), name="s_client -reconnect", timeout=30,
                              stdin_data=b"")
        go_text = go.finish()
    assert rc == 0, client_text
    assert s_client_resumed(client_text, "ticket") == 5
    assert client_text.count("Extended master secret: yes") == 6, client_text
    assert [line["resumed"] for line in report_lines(go_text, "HANDSHAKE")] == ["false"] + ["true"] * 5, go_text
    row.details.update(resumption="ticket", connections=8, resumed=6, ems=True)
