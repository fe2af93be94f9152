"""Third-party libraries on `tls12.SSLContext`, as their users run them.

httpx (sync and async) speaks HTTP/2 to hypercorn only when the socket is an `ssl.SSLSocket`
and ALPN says h2; `websockets.sync`'s server asserts that its socket is an `ssl.SSLSocket`.
Both sides run on tls12 here. Everything listens on 127.0.0.1:0 and is stopped by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import hypercorn.asyncio
import hypercorn.config
import pytest
import websockets.sync.client
import websockets.sync.server

import tls12
from tls12.io.sslsocket import SSLSocket

from sslcompat_support import TIMEOUT, echo, ours_client, ours_server, serving

HOST = "127.0.0.1"


@pytest.fixture
def client_ctx(pem_dir: Path) -> tls12.SSLContext:
    return ours_client(pem_dir)


@pytest.fixture
def server_ctx(pem_dir: Path) -> tls12.SSLContext:
    return ours_server(pem_dir)


# -- the socket is an ssl.SSLSocket, and never reaches OpenSSL ------------------------------------


def test_wrap_socket_returns_an_ssl_sslsocket(client_ctx: tls12.SSLContext, server_ctx: tls12.SSLContext) -> None:
    with serving() as serve:
        server = serve(server_ctx, lambda sock: (isinstance(sock, ssl.SSLSocket), echo(sock)))
        raw = socket.create_connection((HOST, server.port), timeout=TIMEOUT)
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            assert isinstance(sock, ssl.SSLSocket)
            assert isinstance(sock, SSLSocket)
            # What the ssl module keeps its OpenSSL object in answers from tls12 instead.
            assert not isinstance(sock._sslobj, ssl._ssl._SSLSocket)  # type: ignore[attr-defined]
            assert sock._sslobj.cipher() == ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", 256)
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
        assert server.result() == (True, b"ping")
    unconnected = client_ctx.wrap_socket(socket.socket(), server_hostname="localhost")
    with unconnected:
        assert isinstance(unconnected, ssl.SSLSocket)
        assert unconnected._sslobj is None  # as in the ssl module, until connect()


def test_every_sslsocket_member_is_tls12s() -> None:
    """Nothing of ssl.SSLSocket is inherited as is: each member would reach OpenSSL's `_sslobj`."""
    inherited = [
        name for name, value in vars(ssl.SSLSocket).items()
        if name not in ("__module__", "__doc__", "__dict__", "__weakref__", "__qualname__")
        and getattr(SSLSocket, name) is value
    ]
    assert inherited == []


def test_sslsocket_refuses_an_openssl_object(client_ctx: tls12.SSLContext) -> None:
    with client_ctx.wrap_socket(socket.socket(), server_hostname="localhost") as sock:
        openssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        with pytest.raises(TypeError):
            sock._sslobj = openssl_ctx.wrap_bio(incoming, outgoing)._sslobj  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        client_ctx._wrap_socket(socket.socket(), False, "localhost")  # type: ignore[attr-defined]


# -- httpx over HTTP/2 against hypercorn, both on tls12 -----------------------------------------------


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = f"{scope['http_version']} {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


class _Config(hypercorn.config.Config):
    """hypercorn with a context of our making, on a socket already listening."""

    def __init__(self, context: ssl.SSLContext, sock: socket.socket) -> None:
        super().__init__()
        self._context = context
        self._sock = sock
        self.loglevel = "WARNING"

    @property
    def ssl_enabled(self) -> bool:
        return True

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._context

    def create_sockets(self) -> hypercorn.config.Sockets:
        return hypercorn.config.Sockets([self._sock], [], [])


@contextlib.contextmanager
def hypercorn_server(context: ssl.SSLContext) -> Iterator[int]:
    sock = socket.create_server((HOST, 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failures: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(hypercorn.asyncio.serve(_asgi_app, _Config(context, sock),  # type: ignore[arg-type]
                                                            shutdown_trigger=stop.wait))
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(TIMEOUT)
        loop.close()
        sock.close()
    assert not thread.is_alive(), "hypercorn did not stop"
    assert failures == []


def _h2_server_context(server_ctx: tls12.SSLContext) -> tls12.SSLContext:
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])
    return server_ctx


def test_httpx_sync_http2_against_hypercorn(client_ctx: tls12.SSLContext, server_ctx: tls12.SSLContext) -> None:
    with hypercorn_server(_h2_server_context(server_ctx)) as port, \
            httpx.Client(verify=client_ctx, http2=True, timeout=TIMEOUT) as client:
        for path in ("/one", "/two"):
            response = client.get(f"https://localhost:{port}{path}")
            assert response.status_code == 200
            assert response.http_version == "HTTP/2"
            assert response.text == f"2 {path}"


def test_httpx_async_http2_against_hypercorn(client_ctx: tls12.SSLContext, server_ctx: tls12.SSLContext) -> None:
    async def fetch(port: int) -> list[tuple[str, str]]:
        async with httpx.AsyncClient(verify=client_ctx, http2=True, timeout=TIMEOUT) as client:
            responses = await asyncio.gather(*(client.get(f"https://localhost:{port}/{i}") for i in range(3)))
            return [(r.http_version, r.text) for r in responses]

    with hypercorn_server(_h2_server_context(server_ctx)) as port:
        got = asyncio.run(asyncio.wait_for(fetch(port), TIMEOUT))
    assert got == [("HTTP/2", f"2 /{i}") for i in range(3)]


# -- websockets.sync: server and client on tls12 ------------------------------------------------------


@contextlib.contextmanager
def websocket_pair(
    handler: Callable[[websockets.sync.server.ServerConnection], None],
    server_ctx: tls12.SSLContext,
    client_ctx: tls12.SSLContext,
) -> Iterator[websockets.sync.client.ClientConnection]:
    """A websockets server on 127.0.0.1:0 with `server_ctx`, run in a thread, and a client connected to it."""
    with websockets.sync.server.serve(handler, HOST, 0, ssl=server_ctx) as server:
        port = server.socket.getsockname()[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with websockets.sync.client.connect(f"wss://localhost:{port}/", ssl=client_ctx,
                                                open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
                yield ws
        finally:
            server.shutdown()
            thread.join(TIMEOUT)


def test_websockets_sync_server_and_client(client_ctx: tls12.SSLContext, server_ctx: tls12.SSLContext) -> None:
    seen: list[Any] = []

    def handler(ws: websockets.sync.server.ServerConnection) -> None:
        seen.append(isinstance(ws.socket, ssl.SSLSocket))
        for message in ws:
            ws.send(message[::-1] if isinstance(message, str) else bytes(reversed(message)))

    with websocket_pair(handler, server_ctx, client_ctx) as ws:
        assert isinstance(ws.socket, ssl.SSLSocket)
        replies = []
        for message in ("hello", "second message", "x" * 100_000):
            ws.send(message)
            replies.append(ws.recv(timeout=TIMEOUT))
        ws.send(b"\x00\x01binary")
        replies.append(ws.recv(timeout=TIMEOUT))
    assert replies == ["olleh", "egassem dnoces", "x" * 100_000, b"yranib\x01\x00"]
    assert seen == [True]


def test_websockets_sync_reads_what_already_arrived(client_ctx: tls12.SSLContext, server_ctx: tls12.SSLContext) -> None:
    """websockets waits with select() before each recv(): no whole record may sit decrypted in the
    socket while the kernel has nothing left to signal (OpenSSL reads one record at a time)."""
    big = "y" * 200_000

    def handler(ws: websockets.sync.server.ServerConnection) -> None:
        for message in ws:
            ws.send(big)
            ws.send(f"after {message}")

    with websocket_pair(handler, server_ctx, client_ctx) as ws:
        for i in range(3):
            ws.send(str(i))
            time.sleep(0.3)  # everything has arrived before the client reads
            assert ws.recv(timeout=TIMEOUT) == big
            assert ws.recv(timeout=TIMEOUT) == f"after {i}"
