"""Machinery for the interop tests: peer processes, our side over real sockets, and a relay.

Everything here stays on 127.0.0.1. Every process started here is bounded by a
watchdog (its whole process group is killed when its time is up) and stopped by
the test that started it; every socket loop has a deadline, so nothing hangs.

Our side runs in-process on the sans-I/O core over a non-blocking socket
(`run_session`): it reads while it writes (so bulk transfers cannot deadlock),
records what was negotiated and how the connection ended, and never raises:
the test asserts on the `SessionResult`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12 import Session as TlsSession
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.errors import AlertReceivedError, TLSError, TruncatedConnection
from tls12.events import ApplicationDataReceived, ConnectionClosed, HandshakeComplete

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
LOOPBACK = "127.0.0.1"
#: The Go that builds gopeer: 1.23 from bookworm-backports (.ci/install-peers), which has the extended
#: master secret (Go 1.21 and later) that tls12 needs to resume a session. Not the `go` on PATH:
#: bookworm's Go 1.19 has none.
GO = Path("/usr/lib/go-1.23/bin/go")


# -- suites: what each side's rules must give ---------------------------------------------------
#
# The interop tests never accept "any suite": each states the one the negotiation rules give
# with that peer (whose order wins, what the peer offers, what the certificate can serve).
# The table below is written out here, independently of tls12's own tables.


@dataclass(frozen=True)
class Suite:
    code: int
    iana: str
    openssl: str

    @property
    def kx(self) -> str:
        """ECDHE, DHE or RSA (static)."""
        return self.iana.split("_")[1]

    @property
    def auth(self) -> str:
        """What the server's key must be: "rsa" or "ecdsa" (ECDSA or Ed25519, RFC 8422 §5.1.3)."""
        return "ecdsa" if "_ECDSA_" in self.iana else "rsa"

    @property
    def cipher(self) -> str:
        """AES128-GCM, AES256-GCM or CHACHA20."""
        return ("CHACHA20" if "CHACHA20" in self.iana else "AES128-GCM" if "AES_128" in self.iana
                else "AES256-GCM")

    @property
    def chacha(self) -> bool:
        return self.cipher == "CHACHA20"


def _suite(code: int, iana: str, openssl: str) -> Suite:
    return Suite(code, iana, openssl)


#: tls12's default order, both roles: Mozilla's "intermediate" TLS 1.2 list (ECDSA before RSA,
#: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; ECDHE, then DHE). Static RSA is never on by default.
DEFAULT_ORDER: tuple[Suite, ...] = (
    _suite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    _suite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
    _suite(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    _suite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"),
    _suite(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    _suite(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"),
    _suite(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256"),
    _suite(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384"),
    _suite(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305"),
)
#: Static RSA key exchange: spoken, but only when configured by name.
STATIC_RSA: tuple[Suite, ...] = (
    _suite(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"),
    _suite(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"),
)
ALL_SUITES: tuple[Suite, ...] = DEFAULT_ORDER + STATIC_RSA
BY_CODE = {s.code: s for s in ALL_SUITES}
BY_IANA = {s.iana: s for s in ALL_SUITES}
BY_OPENSSL = {s.openssl: s for s in ALL_SUITES}

#: Suites with the key exchange and authentication of ours but CBC records (RFC 5246 MAC-then-encrypt):
#: what a peer "without our suites" has. tls12 speaks AEAD suites only.
ECDHE_RSA_AES128_CBC_SHA256 = _suite(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256")


def key_auth(key_type: str) -> str:
    """The suites' authentication a certificate key serves: "rsa" (RSA) or "ecdsa" (ECDSA, Ed25519)."""
    return "rsa" if key_type.startswith("rsa") else "ecdsa"


def our_server_choice(offered: Sequence[int], key_type: str = "rsa",
                      order: Sequence[Suite] = DEFAULT_ORDER) -> Suite:
    """The suite our server must choose from a client's offer (ServerConfig's defaults).

    Our order wins, among the suites the client offers and our certificate can serve; but when
    the client's first TLS 1.2 suite we know is a ChaCha20-Poly1305 one, the ChaCha20 suites move
    first (the mobile-client rule). TLS 1.3 suites, GREASE and SCSVs are no TLS 1.2 suites."""
    known = {s.code for s in order}
    first = next((BY_CODE[c] for c in offered if c in known), None)
    candidates = [s for s in order if s.code in offered and s.auth == key_auth(key_type)]
    if first is not None and first.chacha:
        candidates = [s for s in candidates if s.chacha] + [s for s in candidates if not s.chacha]
    assert candidates, f"no suite of ours in the offer {[hex(c) for c in offered]}"
    return candidates[0]


def first_of(preference: Sequence[Suite], supported: Sequence[Suite], key_type: str = "rsa") -> Suite:
    """The first suite of `preference` that `supported` has and the certificate can serve."""
    return next(s for s in preference if s in supported and s.auth == key_auth(key_type))

BULK = 16 * 1024 * 1024
#: Write sizes the bulk senders cycle through: tiny, around the 2^14 record limit, and large.
MIXED_SIZES = (1, 7, 100, 1000, 4096, 16383, 16384, 16385, 40000, 65536, 100003, 262144, 1048576, 3)


def require_tool(*names: str) -> None:
    """A missing peer is a failure, never a skip: CI installs every one of them."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.fail(f"interop peer tool(s) not installed: {', '.join(missing)} (.ci/run installs them)",
                    pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, timeout: float, proc: Proc | None = None) -> None:
    """Wait until something LISTENs on 127.0.0.1:port, looking at /proc (no probe connection)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port in listening_ports(os.getpid()):
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.name} exited ({proc.returncode}) before listening:\n{proc.text}")
        time.sleep(0.05)
    detail = f"\n{proc.text}" if proc is not None else ""
    raise AssertionError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s{detail}")


def listening_ports(pid: int) -> set[int]:
    """TCP ports in LISTEN state in the network namespace of `pid` (/proc/PID/net/tcp{,6})."""
    ports: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# -- processes -----------------------------------------------------------------------------


class Proc:
    """A peer process: its own process group, stdout+stderr collected, a hard time limit.

    `wait_for()` waits for text in the output; `stop()` (or the watchdog after
    `limit` seconds) ends the whole process group.
    """

    def __init__(self, argv: Sequence[str | os.PathLike[str]], *, name: str, limit: float,
                 env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
                 stdin: bool = False) -> None:
        self.name = name
        self.argv = [os.fspath(a) for a in argv]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=full_env, cwd=cwd, start_new_session=True,
        )
        self.pid = self.popen.pid
        self._out = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True)
        self._reader.start()
        self.killed_by_watchdog = False
        self._watchdog = threading.Timer(limit, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _read(self) -> None:
        stream = self.popen.stdout
        assert isinstance(stream, io.BufferedReader)
        while True:
            chunk = stream.read1(65536)
            with self._cond:
                if not chunk:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._out += chunk
                self._cond.notify_all()

    def _expire(self) -> None:
        if self.popen.poll() is None:
            self.killed_by_watchdog = True
            self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    @property
    def output(self) -> bytes:
        with self._cond:
            return bytes(self._out)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait_for(self, pattern: str | bytes, timeout: float) -> re.Match[bytes]:
        """Wait until the output matches `pattern` (a regex); fail with the output if it does not."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._out)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    break
                self._cond.wait(min(left, 0.2))
        raise AssertionError(f"{self.name}: no {rx.pattern!r} within {timeout} s "
                             f"(exit {self.popen.poll()}); output:\n{self.text}")

    def write(self, data: bytes) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(data)
        self.popen.stdin.flush()

    def close_stdin(self) -> None:
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()

    def wait(self, timeout: float) -> int:
        """Wait for a normal exit; a process still running after `timeout` is killed and fails the test."""
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.name} did not exit within {timeout} s; output:\n{self.text}") from None
        self._reader.join(5)
        return rc

    def stop(self) -> None:
        """End the whole process group: SIGTERM, then SIGKILL. Idempotent."""
        self._watchdog.cancel()
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(3)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(3)
        # Children left in the group (a shell's, a relay's) go too.
        self._signal(signal.SIGKILL)
        self.close_stdin()
        self._reader.join(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(argv: Sequence[str | os.PathLike[str]], *, name: str, timeout: float,
        env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
        stdin_data: bytes | None = None) -> tuple[int, str]:
    """Run a peer command to completion (bounded); returns (exit status, output)."""
    with Proc(argv, name=name, limit=timeout + 5, env=env, cwd=cwd, stdin=stdin_data is not None) as proc:
        if stdin_data is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.write(stdin_data)
            proc.close_stdin()
        rc = proc.wait(timeout)
        return rc, proc.text


class NetnsServer:
    """A peer server that cannot bind to loopback only, run in a private network namespace.

    The server runs under `unshare -n` (its namespace has nothing but its own
    `lo`) and listens there on `inner_port`; `relay.py` listens on
    127.0.0.1:`port` here and forwards each connection into that namespace.
    """

    def __init__(self, argv: Sequence[str | os.PathLike[str]], *, name: str, inner_port: int,
                 limit: float = 120.0, env: dict[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, stdin: bool = False) -> None:
        require_tool("unshare", "ip")
        wrapped = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
        self.server = Proc(wrapped, name=name, limit=limit, env=env, cwd=cwd, stdin=stdin)
        self.relay: Proc | None = None
        try:
            self.relay = Proc([sys.executable, HERE / "relay.py", "--netns-pid", str(self.server.pid),
                               "--target-port", str(inner_port), "--limit", str(limit)],
                              name=f"relay for {name}", limit=limit)
            m = self.relay.wait_for(rb"READY (\d+)", 20)
        except BaseException:
            self.stop()
            raise
        self.port = int(m.group(1))

    @property
    def text(self) -> str:
        return self.server.text

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        self.server.stop()

    def __enter__(self) -> NetnsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- data ------------------------------------------------------------------------------------


class MixedData:
    """`total` deterministic pseudo-random bytes handed out in MIXED_SIZES pieces, hashed as they go."""

    _POOL = hashlib.shake_256(b"tls12 interop").digest(1 << 21)

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0
        self._i = 0
        self.sha256 = hashlib.sha256()

    def next_chunk(self) -> bytes | None:
        if self.sent >= self.total:
            return None
        size = min(MIXED_SIZES[self._i % len(MIXED_SIZES)], self.total - self.sent)
        start = (self._i * 7919) % (len(self._POOL) - size)
        self._i += 1
        chunk = self._POOL[start:start + size]
        self.sent += size
        self.sha256.update(chunk)
        return chunk


# -- our side: a TLS session over a non-blocking socket -------------------------------------


@dataclass
class SessionResult:
    role: str
    handshake: bool = False
    version: str | None = None
    suite: str | None = None
    group: str | None = None
    signature_scheme: str | None = None
    ems: bool | None = None
    #: The peer's chain as it sent it, and the path this side verified for it (leaf to trust anchor).
    peer_chain: tuple[x509.Certificate, ...] = ()
    verified_chain: tuple[x509.Certificate, ...] = ()
    alpn: str | None = None
    server_name: str | None = None
    offered_suites: tuple[int, ...] = ()
    client_hello: ClientHelloInfo | None = None
    sent: int = 0
    received: int = 0
    received_sha256: str = ""
    sent_sha256: str = ""
    received_head: bytes = b""
    close_notify_sent: bool = False
    close_notify_received: bool = False
    closed_first: str | None = None  # "us" or "peer": who sent close_notify first
    eof_without_close_notify: bool = False
    error: str | None = None  # None unless the session failed
    alert_sent: str | None = None
    alert_received: str | None = None
    seconds: float = 0.0
    #: Resumption: whether the handshake resumed a session, and the session the connection made or
    #: resumed (None if it made none: no extended master secret, or neither an ID nor a ticket).
    session_reused: bool = False
    session: TlsSession | None = None
    #: Our client's own ClientHello, as it went out (parsed here, independently of tls12).
    our_hello: ClientHelloInfo | None = None

    @property
    def clean(self) -> bool:
        """Handshake done, no error, and close_notify went both ways (or we closed and the peer hung up)."""
        if not self.handshake or self.error is not None:
            return False
        if self.close_notify_sent and self.close_notify_received:
            return True
        return self.closed_first == "us" and self.eof_without_close_notify

    def summary(self) -> dict[str, object]:
        return {"version": self.version, "suite": self.suite, "group": self.group, "ems": self.ems,
                "alpn": self.alpn, "sni": self.server_name, "signature_scheme": self.signature_scheme,
                "sent": self.sent, "received": self.received, "closed_first": self.closed_first,
                "close_notify_both_ways": self.close_notify_sent and self.close_notify_received,
                "error": self.error, "alert_sent": self.alert_sent, "alert_received": self.alert_received}


class Session:
    """What an application sees of one connection while `run_session` drives it."""

    def __init__(self, conn: ClientConnection | ServerConnection, result: SessionResult) -> None:
        self.conn = conn
        self.result = result
        self._sent_hash = hashlib.sha256()

    def send(self, data: bytes) -> None:
        if data:
            self.conn.send_application_data(data)
            self.result.sent += len(data)
            self._sent_hash.update(data)

    def close(self) -> None:
        if not self.conn.close_sent:
            if self.result.closed_first is None:
                self.result.closed_first = "us"
            self.conn.close()


class App:
    """Our application on top of a session. The default does nothing and waits for the peer to close."""

    def established(self, s: Session) -> None:
        pass

    def received(self, s: Session, data: bytes) -> None:
        pass

    def pump(self, s: Session) -> None:
        """Called whenever the outgoing buffer is low: a chance to send more."""

    def peer_closed(self, s: Session) -> None:
        pass


class EchoApp(App):
    """Echo everything; with `close_after`, send close_notify first once that many bytes came back."""

    def __init__(self, close_after: int | None = None) -> None:
        self.close_after = close_after

    def received(self, s: Session, data: bytes) -> None:
        if not s.conn.close_sent:
            s.send(data)
        if self.close_after is not None and s.result.received >= self.close_after:
            s.close()


class HttpApp(App):
    """Answer one HTTP/1.x request with a small page, then close (us first)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.head = bytearray()
        self.request_line = ""

    def received(self, s: Session, data: bytes) -> None:
        if s.conn.close_sent:
            return
        self.head += data
        if b"\r\n\r\n" not in self.head:
            return
        self.request_line = bytes(self.head.split(b"\r\n", 1)[0]).decode("latin-1")
        conn = s.conn
        body = (f"<!DOCTYPE html><html><head><title>tls12</title></head><body>"
                f"<p id=\"marker\">{self.marker}</p><p>{conn.cipher_suite.name if conn.cipher_suite else '?'} "
                f"{conn.group.name if conn.group else '?'} alpn={conn.alpn_protocol} "
                f"request={self.request_line}</p></body></html>\n").encode()
        s.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
               + f"Content-Length: {len(body)}\r\n".encode() + b"Connection: close\r\n\r\n" + body)
        s.close()


class ClientScript(App):
    """Our client's behaviour: send `message` (or `bulk` mixed-size bytes), wait for `expect` bytes back,
    then close first (`close="us"`) or wait for the peer's close_notify (`close="peer"`).

    `then` is sent once `expect` bytes have arrived (e.g. a command that makes the peer close)."""

    def __init__(self, message: bytes = b"", *, bulk: int = 0, expect: int | None = None,
                 close: str = "us", then: bytes = b"") -> None:
        assert close in ("us", "peer")
        self.message = message
        self.data = MixedData(bulk) if bulk else None
        self.expect = expect if expect is not None else len(message) + bulk
        self.close = close
        self.then = then
        self._done = False

    def established(self, s: Session) -> None:
        s.send(self.message)
        self._check(s)

    def pump(self, s: Session) -> None:
        if self.data is not None and s.conn.handshake_complete and not s.conn.close_sent:
            chunk = self.data.next_chunk()
            if chunk is not None:
                s.send(chunk)

    def received(self, s: Session, data: bytes) -> None:
        self._check(s)

    def _check(self, s: Session) -> None:
        if self._done or s.result.received < self.expect:
            return
        if self.data is not None and self.data.sent < self.data.total:
            return
        self._done = True
        s.send(self.then)
        if self.close == "us":
            s.close()


def run_session(sock: socket.socket, conn: ClientConnection | ServerConnection, app: App, *,
                timeout: float, role: str) -> SessionResult:
    """Drive one connection to its end (close, failure, EOF or `timeout`); never raises."""
    result = SessionResult(role=role)
    session = Session(conn, result)
    received_hash = hashlib.sha256()
    head = bytearray()
    raw_head = bytearray()  # the first bytes from the peer, for the ClientHello
    sent_head = bytearray()  # our first bytes, for our client's ClientHello
    out = bytearray()
    started = time.monotonic()
    deadline = started + timeout
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    eof = False
    tcp_closed = False

    def record_failure(exc: TLSError) -> None:
        result.error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, AlertReceivedError):
            result.alert_received = exc.description.name.lower()
        elif exc.alert is not None:
            result.alert_sent = exc.alert.name.lower()

    def snapshot() -> None:
        result.handshake = True
        result.version = "TLSv1.2" if conn.version is not None else None
        result.suite = conn.cipher_suite.name if conn.cipher_suite is not None else None
        result.group = conn.group.name.lower() if conn.group is not None else None
        result.signature_scheme = conn.signature_scheme.name.lower() if conn.signature_scheme else None
        result.ems = conn.extended_master_secret
        result.alpn = conn.alpn_protocol
        result.server_name = conn.server_name
        result.peer_chain = conn.peer_certificate_chain
        result.verified_chain = conn.verified_certificate_chain
        result.session_reused = conn.session_reused
        result.session = conn.session

    try:
        while True:
            try:
                if conn.handshake_complete and not conn.close_sent and conn.failure is None and len(out) < (1 << 20):
                    app.pump(session)
            except TLSError as exc:
                record_failure(exc)
            outgoing = conn.data_to_send()
            if outgoing and not conn.handshake_complete and len(sent_head) < 65536:
                sent_head += outgoing[:65536]
            out += outgoing
            if result.error is not None or conn.failure is not None:
                break
            if conn.closed or eof:
                break
            now = time.monotonic()
            if now >= deadline:
                result.error = f"timeout after {timeout} s"
                break
            sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0))
            for _key, mask in sel.select(min(deadline - now, 1.0)):
                if mask & selectors.EVENT_WRITE and out:
                    try:
                        n = sock.send(out[:262144])
                    except BlockingIOError:
                        n = 0
                    except OSError as exc:
                        result.error = f"send: {exc}"
                        tcp_closed = True
                        break
                    del out[:n]
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(262144)
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        data = b""
                        if not conn.close_sent:
                            result.error = f"recv: {exc}"
                    if not data:
                        eof = True
                    elif len(raw_head) < 65536 and not conn.handshake_complete:
                        raw_head += data[:65536]
                    try:
                        events = conn.receive_data(data)
                    except TruncatedConnection as exc:
                        result.eof_without_close_notify = True
                        if not conn.close_sent:
                            record_failure(exc)
                        events = []
                    except TLSError as exc:
                        record_failure(exc)
                        events = []
                    for event in events:
                        if isinstance(event, HandshakeComplete):
                            snapshot()
                            app.established(session)
                        elif isinstance(event, ApplicationDataReceived):
                            result.received += len(event.data)
                            received_hash.update(event.data)
                            if len(head) < 65536:
                                head += event.data[: 65536 - len(head)]
                            app.received(session, event.data)
                        elif isinstance(event, ConnectionClosed):
                            result.close_notify_received = True
                            if result.closed_first is None:
                                result.closed_first = "peer"
                            app.peer_closed(session)
            if tcp_closed:
                break
        # Whatever is still queued (our close_notify, or an alert) goes out, briefly bounded.
        out += conn.data_to_send()
        flush_deadline = min(deadline, time.monotonic() + 5)
        if out and not tcp_closed:
            sel.modify(sock, selectors.EVENT_WRITE)
        while out and not tcp_closed and time.monotonic() < flush_deadline:
            if not sel.select(0.2):
                continue
            try:
                n = sock.send(out)
            except BlockingIOError:
                continue
            except OSError:
                break
            del out[:n]
        if result.error is not None and not tcp_closed and not eof:
            # Lingering close after a failure: stop sending, then read (and drop) what the peer
            # still sends until it closes, briefly. Closing a socket with unread input makes the
            # kernel send a reset, and a reset can make the peer lose our alert.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            sel.modify(sock, selectors.EVENT_READ)
            linger_deadline = time.monotonic() + 2
            while time.monotonic() < linger_deadline:
                if not sel.select(0.1):
                    continue
                try:
                    if not sock.recv(65536):
                        break
                except BlockingIOError:
                    continue
                except OSError:
                    break
    finally:
        sel.close()
    result.close_notify_sent = conn.close_sent
    if isinstance(conn, ServerConnection):
        result.offered_suites = tuple(int(s) for s in conn.offered_cipher_suites)
        result.client_hello = parse_client_hello(bytes(raw_head))
    else:
        result.our_hello = parse_client_hello(bytes(sent_head))
    result.received_sha256 = received_hash.hexdigest()
    result.sent_sha256 = session._sent_hash.hexdigest()
    result.received_head = bytes(head)
    result.seconds = time.monotonic() - started
    return result


def run_client(port: int, app: App, *, server_name: str | None = "localhost", timeout: float = 30.0,
               config: ClientConfig, session: TlsSession | None = None) -> SessionResult:
    """Our client: connect to 127.0.0.1:port and run `app` to the end of the connection, offering
    `session` (a previous result's) for resumption."""
    conn = ClientConnection(config, server_name=server_name, session=session)
    with socket.create_connection((LOOPBACK, port), timeout=10) as sock:
        return run_session(sock, conn, app, timeout=timeout, role="client")


class OurServer:
    """Our server: 127.0.0.1 on a free port, one thread per connection, each with a fresh app."""

    def __init__(self, config: ServerConfig, app_factory: Callable[[], App], *, timeout: float = 60.0) -> None:
        self.config = config
        self.app_factory = app_factory
        self.timeout = timeout
        # (accept order, result): a connection can end after the one accepted next (the thread that
        # ends it runs late), and the tests read results in the order the connections were made.
        self._done: list[tuple[int, SessionResult]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="tls12-server", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock, len(self._threads)), daemon=True)
            self._threads.append(t)
            t.start()

    @property
    def results(self) -> list[SessionResult]:
        """The connections that ended, in the order they were accepted."""
        with self._cond:
            return [result for _, result in sorted(self._done, key=lambda done: done[0])]

    def _serve(self, sock: socket.socket, order: int) -> None:
        with sock:
            conn = ServerConnection(self.config)
            result = run_session(sock, conn, self.app_factory(), timeout=self.timeout, role="server")
        with self._cond:
            self._done.append((order, result))
            self._cond.notify_all()

    def wait_results(self, count: int = 1, timeout: float = 30.0) -> list[SessionResult]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._done) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"our server finished {len(self._done)} of {count} connections "
                                         f"within {timeout} s: {self._done}")
                self._cond.wait(left)
            return [result for _, result in sorted(self._done, key=lambda done: done[0])]

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._acceptor.join(5)
        for t in self._threads:
            t.join(self.timeout + 5)

    def __enter__(self) -> OurServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def our_server(config: ServerConfig, app_factory: Callable[[], App] = EchoApp,
               timeout: float = 60.0) -> Iterator[OurServer]:
    server = OurServer(config, app_factory, timeout=timeout)
    try:
        yield server
    finally:
        server.stop()


# -- the ClientHello a peer sent ------------------------------------------------------------


@dataclass
class ClientHelloInfo:
    """What a peer's first flight offered (parsed here, independently of tls12)."""

    length: int  # the handshake message, header included
    suites: tuple[int, ...]
    extensions: tuple[int, ...]
    groups: tuple[int, ...] = ()
    versions: tuple[int, ...] = ()
    key_shares: tuple[tuple[int, int], ...] = ()  # (group, key length)
    alpn: tuple[str, ...] = ()
    sni: str | None = None
    session_id: bytes = b""
    ticket: bytes | None = None  # the SessionTicket extension's content (RFC 5077); None: no extension

    @staticmethod
    def is_grease(value: int) -> bool:
        return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF

    @property
    def grease(self) -> bool:
        return any(self.is_grease(v) for v in (*self.suites, *self.extensions, *self.groups, *self.versions))


def parse_client_hello(raw: bytes) -> ClientHelloInfo | None:
    """Reassemble the first handshake message from plaintext records and parse a ClientHello."""
    hs = bytearray()
    pos = 0
    while pos + 5 <= len(raw) and raw[pos] == 22:
        n = int.from_bytes(raw[pos + 3:pos + 5], "big")
        hs += raw[pos + 5:pos + 5 + n]
        pos += 5 + n
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            break
    if len(hs) < 4 or hs[0] != 1:
        return None
    length = 4 + int.from_bytes(hs[1:4], "big")
    body = bytes(hs[4:length])
    try:
        p = 2 + 32
        session_id = body[p + 1:p + 1 + body[p]]
        p += 1 + body[p]
        n = int.from_bytes(body[p:p + 2], "big")
        suites = tuple(int.from_bytes(body[i:i + 2], "big") for i in range(p + 2, p + 2 + n, 2))
        p += 2 + n
        p += 1 + body[p]  # compression methods
        info = ClientHelloInfo(length=length, suites=suites, extensions=(), session_id=session_id)
        exts: list[int] = []
        end = p + 2 + int.from_bytes(body[p:p + 2], "big")
        p += 2
        while p + 4 <= end:
            etype = int.from_bytes(body[p:p + 2], "big")
            elen = int.from_bytes(body[p + 2:p + 4], "big")
            data = body[p + 4:p + 4 + elen]
            p += 4 + elen
            exts.append(etype)
            if etype == 10:
                info.groups = tuple(int.from_bytes(data[i:i + 2], "big") for i in range(2, len(data), 2))
            elif etype == 43:
                info.versions = tuple(int.from_bytes(data[i:i + 2], "big") for i in range(1, len(data), 2))
            elif etype == 51:
                shares = []
                q = 2
                while q + 4 <= len(data):
                    g = int.from_bytes(data[q:q + 2], "big")
                    k = int.from_bytes(data[q + 2:q + 4], "big")
                    shares.append((g, k))
                    q += 4 + k
                info.key_shares = tuple(shares)
            elif etype == 16:
                names = []
                q = 2
                while q < len(data):
                    names.append(data[q + 1:q + 1 + data[q]].decode("latin-1"))
                    q += 1 + data[q]
                info.alpn = tuple(names)
            elif etype == 0 and len(data) > 5:
                info.sni = data[5:].decode("latin-1")
            elif etype == 35:
                info.ticket = data
        info.extensions = tuple(exts)
        return info
    except IndexError:
        return None


# -- the results matrix -------------------------------------------------------------------------

DIRECTIONS = ("server", "client", "negative", "wireshark", "reference")


@dataclass
class Row:
    peer: str
    direction: str  # "server": our server <- its client; "client": our client -> its server; "reference":
    # two peers with each other, the evidence for what one of them does not do with us
    variant: str
    details: dict[str, Any] = field(default_factory=dict)


class Matrix:
    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.rows: list[Row] = []

    def row(self, direction: str, variant: str, peer: str | None = None) -> Row:
        assert direction in DIRECTIONS, direction
        r = Row(peer or self.peer, direction, variant)
        self.rows.append(r)
        return r

    @staticmethod
    def ours(row: Row, result: SessionResult) -> None:
        row.details.update(result.summary())


# -- certificates and shared assertions ---------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    dir: Path
    ca: CertificateAuthority
    leaf: IssuedCertificate  # localhost and 127.0.0.1
    other: IssuedCertificate  # another name only: our client must refuse it

    @property
    def ca_pem(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def leaf_pem(self) -> Path:
        return self.dir / "leaf.pem"

    @property
    def leaf_key(self) -> Path:
        return self.dir / "leaf.key"

    @property
    def other_pem(self) -> Path:
        return self.dir / "other.pem"

    @property
    def other_key(self) -> Path:
        return self.dir / "other.key"

    def server_config(self, **kwargs: Any) -> ServerConfig:
        return ServerConfig(certificate_chain=self.leaf.chain, private_key=self.leaf.private_key, **kwargs)

    def client_config(self, **kwargs: Any) -> ClientConfig:
        return ClientConfig(trust_anchors=[self.ca.certificate], **kwargs)


@dataclass(frozen=True)
class Leaf:
    """A certificate of one key type (a server's, or a client's in `ClientPki`): the chain (leaf first, no root)
    and key, in files too."""

    key_type: str
    issued: IssuedCertificate[Any]
    cert_pem: Path
    key_pem: Path

    def server_config(self, **kwargs: Any) -> ServerConfig:
        return ServerConfig(credentials=[self.issued.credential()], **kwargs)


@dataclass(frozen=True)
class ClientPki:
    """Client certificates (clientAuth) from a CA of their own, apart from the servers' interop CA: a leaf
    of each key type, and a stranger's from a CA nobody here trusts. A leaf's first name is its CN."""

    dir: Path
    ca: CertificateAuthority
    leaves: dict[str, Leaf]  # by key type: rsa, ecdsa-p256, ed25519
    stranger: Leaf  # ECDSA P-256, from "another client CA"

    @property
    def ca_pem(self) -> Path:
        return self.dir / "client-ca.pem"

    def server_config(self, pki: Pki, policy: str = "required", **kwargs: Any) -> ServerConfig:
        """Our server (the interop leaf) asking for a client certificate and trusting this CA for it."""
        return pki.server_config(client_auth=policy, client_trust_anchors=[self.ca.certificate], **kwargs)

    def client_config(self, pki: Pki, *leaves: Leaf, **kwargs: Any) -> ClientConfig:
        """Our client trusting the interop CA and holding these client certificates."""
        return pki.client_config(client_credentials=[leaf.issued.credential() for leaf in leaves], **kwargs)


@dataclass
class Ctx:
    """What a module's peer runners need (the `ctx` fixture); the peer builds and databases come from their
    fixtures on first use, so a test pays only for the peers it runs."""

    request: pytest.FixtureRequest
    pki: Pki
    client_pki: ClientPki
    tmp_path: Path

    def fixture(self, name: str) -> Path:
        value = self.request.getfixturevalue(name)
        assert isinstance(value, Path)
        return value


def labelled(peer: str, variant: str) -> str:
    """A matrix row's variant; Botan's rows say they come from botanpeer (Botan's library), not the botan tool."""
    return f"{variant} (botanpeer: Botan's library)" if peer == "botan" else variant


def common_name(leaf: Leaf) -> str:
    (cn,) = leaf.issued.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cn.value)


def assert_client_verified(r: SessionResult, client: Leaf, client_pki: ClientPki) -> None:
    """Our server verified the peer client's certificate: the chain it sent is `client`'s, and the path
    runs from that leaf to the client CA."""
    assert r.error is None and r.handshake, f"our server failed: {r.error}"
    assert r.peer_chain == client.issued.chain, [c.subject.rfc4514_string() for c in r.peer_chain]
    assert r.verified_chain == (client.issued.certificate, client_pki.ca.certificate), \
        [c.subject.rfc4514_string() for c in r.verified_chain]


def assert_ours(r: SessionResult, *, suite: Suite, key_type: str = "rsa", group: str | None = None,
                ems: bool = True, alpn: str | None = None, sni: str | None = "localhost",
                closed_first: str | None = None) -> None:
    """Our side of a good connection: TLS 1.2, the suite the rules give, what the variant asked for, a clean
    close. On our server, the suite is also checked against the rule applied to what the client offered.
    A resumed connection has no group: its keys come from the session's master secret."""
    assert r.error is None, f"our {r.role} failed: {r.error}"
    assert r.handshake, "no handshake"
    assert (r.version, r.suite) == ("TLSv1.2", suite.iana)
    if r.role == "server" and r.client_hello is not None:
        assert our_server_choice(r.client_hello.suites, key_type) == suite, \
            f"the rule gives {our_server_choice(r.client_hello.suites, key_type).iana} for this offer"
    if r.session_reused:
        assert r.group is None, f"a resumed handshake has no key exchange, yet a group: {r.group}"
    elif group is not None:
        assert r.group == group
    else:
        assert r.group in ("x25519", "secp256r1", "secp384r1")
    assert r.ems is ems, f"extended master secret: {r.ems}, expected {ems}"
    assert r.alpn == alpn
    assert r.server_name == sni
    assert r.clean, f"not a clean close: {r}"
    if closed_first is not None:
        assert r.closed_first == closed_first, f"closed first: {r.closed_first}, expected {closed_first}"


def drive_stdin_client(argv: Sequence[str | os.PathLike[str]], *, name: str, message: bytes, closed_first: str,
                       expect: bytes | None = None, env: dict[str, str] | None = None,
                       timeout: float = 30.0) -> tuple[int, str]:
    """A command-line client that sends its stdin and prints what comes back (s_client, gnutls-cli, botan).

    Writes `message`, waits for the echo (`expect`) in its output, then either closes its
    stdin so that it sends close_notify first (`closed_first="peer"`), or leaves it open
    and waits for it to exit on our server's close_notify (`closed_first="us"`)."""
    assert closed_first in ("us", "peer")
    with Proc(argv, name=name, limit=timeout + 10, env=env, stdin=True) as proc:
        proc.write(message)
        proc.wait_for(re.escape(expect if expect is not None else message), timeout)
        if closed_first == "peer":
            proc.close_stdin()
        rc = proc.wait(timeout)
        return rc, proc.text


def echo_server_app(closed_first: str, message: bytes) -> Callable[[], App]:
    """Our server's echo: it sends close_notify first after echoing `message` when `closed_first="us"`."""
    assert closed_first in ("us", "peer")
    if closed_first == "us":
        return lambda: EchoApp(close_after=len(message))
    return EchoApp


def report_line(text: str, tag: str) -> dict[str, str]:
    """The (first) `TAG k=v k=v` line a peer program (gopeer, TlsPeer, tlslite_peer) printed, as a dict."""
    lines = report_lines(text, tag)
    if not lines:
        raise AssertionError(f"no {tag} line in the peer's output:\n{text}")
    return lines[0]


def report_lines(text: str, tag: str) -> list[dict[str, str]]:
    """Every `TAG k=v k=v` line a peer program printed (one per connection when it makes several), as dicts."""
    return [dict(item.split("=", 1) for item in line.split()[1:] if "=" in item)
            for line in text.splitlines() if line.startswith(tag + " ")]


# -- the peer programs that report (gopeer, TlsPeer, tlslite_peer) --------------------------------
#
# Each prints `HANDSHAKE k=v ...` and `RESULT k=v ...` lines; as a server it first prints
# `LISTENING <port>`. These run one in either role and check what every test asks of it.


def run_peer_client(argv: Sequence[str | os.PathLike[str]], *, name: str, suite: Suite, ems: str | None = None,
                    echo_ok: str = "true") -> tuple[dict[str, str], dict[str, str]]:
    """Run the peer's client to completion: exit status 0, TLS 1.2 with `suite`, the echo came back
    (its RESULT line says `echo_ok`); with `ems`, the extended master secret as the peer reports it.
    Returns its HANDSHAKE and RESULT lines."""
    rc, text = run(argv, name=name, timeout=90)
    assert rc == 0, text
    hs, result = report_line(text, "HANDSHAKE"), report_line(text, "RESULT")
    if ems is None:
        assert (hs["version"], hs["cipher"]) == ("TLSv1.2", suite.iana), text
    else:
        assert (hs["version"], hs["cipher"], hs["ems"]) == ("TLSv1.2", suite.iana, ems), text
    assert result["echo_ok"] == echo_ok, text
    return hs, result


def start_peer_server(argv: Sequence[str | os.PathLike[str]], *, name: str, ready: float) -> tuple[Proc, int]:
    """Start the peer's server; its port once it says LISTENING (within `ready` seconds)."""
    proc = Proc(argv, name=name, limit=120)
    try:
        port = int(proc.wait_for(rb"LISTENING (\d+)", ready).group(1))
    except BaseException:
        proc.stop()
        raise
    return proc, port


def finish_peer_server(proc: Proc, *, suite: Suite, ems: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Wait for the peer's server to exit 0 after TLS 1.2 with `suite` and SNI "localhost" (and, with
    `ems`, the extended master secret as it reports it). Returns its HANDSHAKE and RESULT lines."""
    rc = proc.wait(30)
    assert rc == 0, proc.text
    hs = report_line(proc.text, "HANDSHAKE")
    if ems is None:
        assert (hs["version"], hs["cipher"], hs["sni"]) == ("TLSv1.2", suite.iana, "localhost"), proc.text
    else:
        assert (hs["version"], hs["cipher"], hs["sni"], hs["ems"]) == ("TLSv1.2", suite.iana, "localhost", ems), \
            proc.text
    return hs, report_line(proc.text, "RESULT")
