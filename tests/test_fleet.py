"""A fleet resumes sessions: `tls12 serve --workers 2` with Redis (a real redis-server on 127.0.0.1), and
servers sharing a ticket key file.

The clients are the stdlib's ssl module (OpenSSL), each keeping its session from one connection to
the next as `ssl.SSLSocket.session`; "ticket" clients resume with RFC 5077 tickets, "session ID"
clients (OP_NO_TICKET) by session ID, which the server must find in its store. The worker that
served each connection, and whether it resumed, come from the server's --www page.
"""

from __future__ import annotations

import itertools
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_support import TIMEOUT, ServeProcess, serve, tls12
from tls12.certs import CertificateAuthority

from redis_support import RedisServer


@dataclass
class Visit:
    client: int
    round: int
    reused: bool  # as the client saw it
    page: str  # the server's page about the connection


def _field(page: str, name: str) -> str:
    match = re.search(rf"^{name}: +(.*)$", page, re.M)
    assert match, page
    return match.group(1)


def _worker(v: Visit) -> int:
    return int(_field(v.page, "Worker").removeprefix("pid "))


def _server_resumed(v: Visit) -> bool:
    return _field(v.page, "Session") == "resumed"


class Clients:
    """Clients that reconnect again and again, each offering the session of its previous connection."""

    def __init__(self, port: int, ca: Path) -> None:
        self.port = port
        self.ca = ca
        self.visits: list[Visit] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._ids = iter(range(1_000_000))

    def context(self, tickets: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if not tickets:
            ctx.options |= ssl.OP_NO_TICKET  # resumed by session ID only: the server's store must have it
        return ctx

    def run(self, count: int, rounds: int, *, tickets: bool, threads: int = 4) -> list[Visit]:
        """`count` clients, each connecting `rounds` times; the visits they made."""
        with self._lock:
            ids = [next(self._ids) for _ in range(count)]
        ctx = self.context(tickets)
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda c: self._client(ctx, c, rounds), ids))
        return [v for visits in results for v in visits]

    def _client(self, ctx: ssl.SSLContext, client: int, rounds: int) -> list[Visit]:
        session: ssl.SSLSession | None = None
        visits = []
        for round_ in range(rounds):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as raw, \
                        ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                    tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    answer = b""
                    while chunk := tls.recv(65536):
                        answer += chunk
                    assert answer.startswith(b"HTTP/1.0 200 OK"), answer[:200]
                    visits.append(Visit(client, round_, tls.session_reused, answer.decode()))
                    session = tls.session
            except (OSError, AssertionError) as exc:
                with self._lock:
                    self.failures.append(f"client {client} round {round_}: {exc!r}")
        with self._lock:
            self.visits += visits
        return visits


def _crossings(visits: list[Visit]) -> int:
    """Reconnections served by another worker than the client's previous connection."""
    by_client: dict[int, list[Visit]] = {}
    for v in visits:
        by_client.setdefault(v.client, []).append(v)
    crossings = 0
    for own in by_client.values():
        own.sort(key=lambda v: v.round)
        crossings += sum(_worker(a) != _worker(b) for a, b in itertools.pairwise(own))
    return crossings


@pytest.fixture
def fleet(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[ServeProcess, Clients]]:
    ca = tmp_path / "ca.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca), "--workers", "2", "--session-store", redis_server.url) as s:
        assert f"sessions and ticket keys in Redis at {redis_server.url}; 2 workers" in s.output()
        yield s, Clients(s.port, ca)


def test_two_workers_and_a_thousand_reconnecting_clients(fleet: tuple[ServeProcess, Clients]) -> None:
    server, clients = fleet
    started = time.monotonic()
    by_ticket = clients.run(50, 10, tickets=True)
    by_id = clients.run(50, 10, tickets=False)
    elapsed = time.monotonic() - started
    assert clients.failures == []
    assert len(by_ticket) + len(by_id) == 1000
    for v in by_ticket + by_id:
        assert v.reused == (v.round > 0), v  # every reconnection after the first resumes
        assert _server_resumed(v) == v.reused  # and the server says so too
    workers = {_worker(v) for v in by_ticket + by_id}
    assert len(workers) == 2 and server.popen.pid not in workers
    # A ticket sealed by one worker is opened by the other; a session one stored, the other finds.
    assert _crossings(by_ticket) > 100
    assert _crossings(by_id) > 100
    assert elapsed < 50, elapsed


def test_redis_killed_mid_run(fleet: tuple[ServeProcess, Clients], redis_server: RedisServer) -> None:
    server, clients = fleet
    before = clients.run(8, 5, tickets=False) + clients.run(8, 5, tickets=True)
    assert all(v.reused == (v.round > 0) for v in before)

    redis_server.kill()
    by_id = clients.run(8, 5, tickets=False)
    by_ticket = clients.run(8, 5, tickets=True)
    assert clients.failures == []  # zero failed connections
    assert not any(v.reused for v in by_id)  # no store: session IDs go full
    assert all(v.reused == (v.round > 0) for v in by_ticket)  # the ticket keys last known still work
    server.wait_for(rb"session store: Redis at redis://127\.0\.0\.1:\d+/0 is unavailable")

    redis_server.start()  # the same port, empty
    deadline = time.monotonic() + 20
    pattern = re.compile(r"worker (\d+): tls12 serve: session store: Redis at \S+ answers again")
    while len(set(pattern.findall(server.output()))) < 2:  # each worker finds it on its next try
        assert time.monotonic() < deadline, server.output()[-3000:]
        clients.run(2, 2, tickets=False, threads=2)
    after = clients.run(8, 5, tickets=False)
    assert clients.failures == []
    assert all(v.reused == (v.round > 0) for v in after)  # resumption is back
    log = server.output()
    for pid in {int(p) for p in re.findall(r"worker (\d+):", log)}:
        # once each way per worker, not once per handshake
        assert log.count(f"worker {pid}: tls12 serve: session store: Redis at") == 2


def test_servers_sharing_a_ticket_key_file_open_each_others_tickets(tmp_path: Path) -> None:
    secret = tmp_path / "ticket.key"
    secret.write_text("5a" * 32 + "\n")
    ca, key, cert = tmp_path / "ca.pem", tmp_path / "leaf.key", tmp_path / "leaf.pem"
    authority = CertificateAuthority()
    leaf = authority.issue(("localhost",))
    ca.write_bytes(authority.cert_pem())
    cert.write_bytes(leaf.cert_pem())
    key.write_bytes(leaf.key_pem())
    common = ("--echo", "--cert", str(cert), "--key", str(key))
    with serve(tmp_path, *common, "--ticket-keys", str(secret)) as a, \
            serve(tmp_path, *common, "--ticket-keys", str(secret)) as b, \
            serve(tmp_path, *common) as stranger:
        ctx = Clients(a.port, ca).context(tickets=True)
        session = None
        for port, resumed in ((a.port, False), (b.port, True), (a.port, True), (stranger.port, False)):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
                    ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                tls.sendall(b"ping")
                assert tls.recv(4) == b"ping"
                assert tls.session_reused == resumed, port
                if port != stranger.port:
                    session = tls.session
        assert "ticket keys from" in a.output()


def test_two_workers_in_memory_share_tickets_not_session_ids(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca), "--workers", "2") as server:
        clients = Clients(server.port, ca)
        by_ticket = clients.run(20, 5, tickets=True)
        by_id = clients.run(20, 5, tickets=False)
    assert clients.failures == []
    # One ticket secret, made before the workers were forked: every ticket opens in either worker.
    assert all(v.reused == (v.round > 0) for v in by_ticket)
    assert _crossings(by_ticket) > 10
    # Each worker keeps its own sessions: a session ID resumes only where it was made.
    previous: dict[int, Visit] = {}
    for v in sorted(by_id, key=lambda v: (v.client, v.round)):
        before = previous.get(v.client)
        assert v.reused == (before is not None and _worker(before) == _worker(v)), v
        previous[v.client] = v
    assert _crossings(by_id) > 10


@pytest.mark.parametrize(("args", "message"), [
    (("--session-store", "redis://:6379/0"), "argument --session-store: redis://:6379/0: no host"),
    (("--session-store", "rediss://127.0.0.1:6379/0"), "only redis://HOST:PORT/DB URLs are taken"),
    (("--session-store", "127.0.0.1:6379"), "only redis://HOST:PORT/DB URLs are taken"),
    (("--session-store", "redis://127.0.0.1:6379/x"), "the database after the host must be a number"),
    (("--session-store", "redis://:hunter2@127.0.0.1:6379/x"), "redis://:***@127.0.0.1:6379/x"),
    (("--ticket-keys", "/nonexistent/ticket.key"), "--ticket-keys /nonexistent/ticket.key: cannot read it"),
    (("--ticket-rotation", "0"), "--ticket-rotation: must be at least 1"),
])
def test_bad_session_options_stop_it_at_once(args: tuple[str, ...], message: str) -> None:
    result = tls12("serve", "--workers", "2", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "hunter2" not in result.stderr  # a password in the URL is never shown
    assert result.stdout == ""  # nothing was started


def test_a_ticket_key_file_must_hold_a_secret(tmp_path: Path) -> None:
    bad = tmp_path / "ticket.key"
    bad.write_text("not hex\n")
    result = tls12("serve", "--ticket-keys", str(bad))
    assert result.returncode == 2
    assert "must hold 64 hex digits" in result.stderr and "openssl rand -hex 32" in result.stderr
