"""Shared by the `tls12.sslcompat` socket tests (test_sslcompat_*.py, test_thirdparty_drop_in.py).

A TLS server on 127.0.0.1:0 whose connections each run a handler in a thread (the stdlib's
or our server context, or none: a raw TCP server), an HTTPS server, our contexts for the
session's certificates, and the client side of a connection. Every socket has a timeout and
every thread is joined; it holds no tests (the `serve` fixture is in conftest.py).
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tls12

TIMEOUT = 5.0


# -- our contexts for the session CA's certificates (conftest's pem_dir) -------------------


def ours_client(pem_dir: Path) -> tls12.SSLContext:
    """Our client context, trusting the session CA."""
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    return ctx


def ours_server(pem_dir: Path) -> tls12.SSLContext:
    """Our server context, with the session's leaf for localhost and 127.0.0.1."""
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    return ctx


# -- a stdlib (or tls12) TLS server on 127.0.0.1 --------------------------------------------


def echo(sock: socket.socket) -> bytes:
    """Echo everything until the peer closes; returns what arrived."""
    got = bytearray()
    while data := sock.recv(65536):
        got += data
        sock.sendall(data)
    return bytes(got)


class Server:
    """Listens on 127.0.0.1:0; each accepted connection is wrapped with `ctx` (server side)
    and handed to `handler` in its own thread. Results and exceptions are collected."""

    def __init__(self, ctx: ssl.SSLContext | None, handler: Callable[[Any], Any], connections: int) -> None:
        self.ctx = ctx
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.results: list[Any] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, args=(connections,), daemon=True)
        self._acceptor.start()

    def _accept(self, connections: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while connections and not self._stop.is_set() and time.monotonic() < deadline:
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections -= 1
            raw.settimeout(TIMEOUT)
            thread = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            with self._lock:
                self._socks.append(raw)
                self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        sock = raw
        try:
            if self.ctx is not None:
                sock = self.ctx.wrap_socket(raw, server_side=True)
                with self._lock:
                    self._socks.append(sock)
            result = self.handler(sock)
            with self._lock:
                self.results.append(result)
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)
        finally:
            sock.close()
            raw.close()

    def join(self) -> Server:
        """Wait for every expected connection to be served."""
        self._acceptor.join(TIMEOUT)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(TIMEOUT)
        assert not self._acceptor.is_alive() and not any(t.is_alive() for t in threads), "server thread hung"
        return self

    def result(self) -> Any:
        self.join()
        if self.errors:
            raise self.errors[0]
        assert len(self.results) == 1
        return self.results[0]

    def error(self) -> BaseException:
        self.join()
        assert self.errors, f"the server did not fail (results: {self.results!r})"
        return self.errors[0]

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        try:
            self.join()
        finally:
            self.listener.close()


ServeFn = Callable[..., Server]


def answer_close_notify(raw: socket.socket, ctx: ssl.SSLContext) -> bytes:
    """A server handler's first half: a TLS connection with `ctx` over `raw` through memory BIOs,
    the handshake, then the client's close_notify. Returns the server's own close_notify, unsent,
    so that the caller decides how it goes on the wire."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            incoming.write(raw.recv(65536))
    raw.sendall(outgoing.read())
    while True:  # our close_notify stays in `outgoing` until the client's has arrived
        try:
            obj.unwrap()
            break
        except ssl.SSLWantReadError:
            data = raw.recv(65536)
            assert data, "the client closed instead of sending close_notify"
            incoming.write(data)
    return outgoing.read()


@contextlib.contextmanager
def serving() -> Iterator[ServeFn]:
    """What a test's `serve` fixture yields: a function that starts a `Server`; all are stopped at the end."""
    servers: list[Server] = []

    def start(ctx: ssl.SSLContext | None, handler: Callable[[Any], Any] = echo, connections: int = 1) -> Server:
        server = Server(ctx, handler, connections)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@contextlib.contextmanager
def https_server(ctx: ssl.SSLContext, handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """http.server on 127.0.0.1:0 whose listening socket is wrapped with `ctx`; yields the port."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        stopper = threading.Thread(target=httpd.shutdown, daemon=True)
        stopper.start()
        stopper.join(TIMEOUT)
        thread.join(TIMEOUT)
        httpd.server_close()  # joins the handler threads (each bounded by the handler's timeout)
        assert not thread.is_alive() and not stopper.is_alive(), "the HTTPS server did not stop"


# -- the client side -------------------------------------------------------------------------


def raw_connection(port: int, *, send_buffer: int | None = None) -> socket.socket:
    """A TCP connection to 127.0.0.1:`port`. `send_buffer`: SO_SNDBUF, set before connecting, so sends stall early."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if send_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        sock.settimeout(TIMEOUT)
        sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


def connect(ctx: ssl.SSLContext, port: int, server_hostname: str | None = "localhost", **kwargs: Any) -> ssl.SSLSocket:
    raw = raw_connection(port)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname, **kwargs)
    except BaseException:
        raw.close()
        raise


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(n - len(out), 1 << 17))
        assert chunk, f"EOF after {len(out)} of {n} bytes"
        out += chunk
    return bytes(out)


def plain_after_unwrap(ctx: ssl.SSLContext, port: int, n: int, *, answer: bytes) -> bytes:
    """Connect with `ctx`, unwrap(), read the first `n` plain bytes, and send `answer` in plain."""
    with connect(ctx, port) as sock:
        plain = sock.unwrap()
        plain.settimeout(1.0)
        got = recv_exactly(plain, n)
        plain.sendall(answer)
    return got


def peercert(sock: Any) -> dict[str, Any]:
    """getpeercert() of a verified connection (never None)."""
    cert = sock.getpeercert()
    assert isinstance(cert, dict)
    return cert
