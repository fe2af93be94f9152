"""The asyncio server (`tls12.io.aio`) in this process, under a mix of hostile clients.

Here what `tls12 serve` can only show from outside is checked directly: the
event loop's exception handler is replaced by one that records every call
(none may happen), every failure reaches `on_failure` with the right kind of
exception, the write buffer of a connection whose peer never reads stays under
its bound, the connection limit refuses what is over it, `TLSServer.close()`
gets rid of connections that are stuck, and once everything is closed no
`TLSServerProtocol` or `ServerConnection` is left alive (weak references,
after a garbage collection): no per-connection state stays behind.

Hostile clients are blocking sockets in worker threads (the server's loop runs
in the main thread); well-behaved ones are stdlib-ssl asyncio clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ssl
import time
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from loadclient import (
    TIMEOUT,
    BioClient,
    client_context,
    client_hello,
    echo_session,
    handshake_load,
    open_tls,
    parse_alerts,
    raise_fd_limit,
    raw_connect,
    read_until_closed,
    reset,
)
from tls12 import ServerConfig
from tls12.connection import ServerConnection
from tls12.errors import TruncatedConnection, UnexpectedMessage
from tls12.io.aio import (
    ApplicationError,
    HandshakeTimeout,
    IdleTimeout,
    TLSServer,
    TLSServerProtocol,
    start_server,
)

HANDSHAKE_TIMEOUT = 1.0
IDLE_TIMEOUT = 1.0
WRITE_BUFFER_LIMIT = 32 * 1024
MAX_READ = 256 * 1024  # the most an asyncio socket transport reads at once
MAX_CONNECTIONS = 200


class EchoOrBoom:
    """Echoes, except that a message starting with b"boom" makes it raise."""

    def established(self, tls: TLSServerProtocol) -> None:
        pass

    def data_received(self, tls: TLSServerProtocol, data: bytes) -> None:
        if data.startswith(b"boom"):
            raise ValueError("the application blew up")
        tls.write(data)

    def peer_closed(self, tls: TLSServerProtocol) -> None:
        pass


class Harness:
    """A server on 127.0.0.1 whose every connection, failure and refusal is recorded."""

    def __init__(self, config: ServerConfig, **limits: Any) -> None:
        self.config = config
        self.limits = limits
        self.protocols: weakref.WeakSet[TLSServerProtocol] = weakref.WeakSet()
        self.connections: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
        self.created = 0
        #: (kind, kind of the cause) of each failure; not the exceptions, whose tracebacks hold the protocols.
        self.failures: list[tuple[str, str]] = []
        self.closed = 0
        self.refused_peers: list[Any] = []
        self.max_write_buffer = 0
        self.server: TLSServer | None = None

    def factory(self) -> TLSServerProtocol:
        tls = TLSServerProtocol(self.config, EchoOrBoom(), on_failure=self._failed,
                                on_closed=self._closed, **self.limits)
        self.protocols.add(tls)
        self.connections.add(tls.conn)
        self.created += 1
        return tls

    def _failed(self, tls: TLSServerProtocol, exc: Exception) -> None:
        self.failures.append((type(exc).__name__, type(exc.__cause__).__name__))

    def _closed(self, tls: TLSServerProtocol) -> None:
        self.closed += 1

    async def start(self, max_connections: int | None) -> int:
        self.server = await start_server(self.factory, max_connections=max_connections,
                                         on_refused=self.refused_peers.append)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def sample_write_buffers(self) -> None:
        while True:
            assert self.server is not None
            for tls in list(self.server.connections):
                if tls.transport is not None:
                    self.max_write_buffer = max(self.max_write_buffer, tls.transport.get_write_buffer_size())
            await asyncio.sleep(0.002)

    def kinds(self) -> Counter[str]:
        return Counter(kind for kind, _ in self.failures)


@pytest.fixture(scope="module", autouse=True)
def _enough_file_descriptors() -> None:
    raise_fd_limit(4 * MAX_CONNECTIONS + 256)


# -- hostile clients (blocking, run in worker threads) --------------------------------------------


def data_and_close_notify_together(port: int, ctx: ssl.SSLContext) -> None:
    """Application data and close_notify in one segment: the server must close cleanly, whatever it echoes."""
    client = BioClient(port, ctx)
    client.handshake()
    client.obj.write(b"ping, and goodbye")
    with contextlib.suppress(ssl.SSLWantReadError):
        client.obj.unwrap()  # queues our close_notify and waits for the server's
    client.sock.sendall(client.outgoing.read())
    data, how = read_until_closed(client.sock)
    client.sock.close()
    assert how == "eof", how
    client.incoming.write(data)
    with contextlib.suppress(ssl.SSLZeroReturnError, ssl.SSLWantReadError):
        while client.obj.read(1024):  # any echo that made it out before the close
            pass
    client.obj.unwrap()  # the server's close_notify is there: a clean close


def boom(port: int, ctx: ssl.SSLContext) -> None:
    client = BioClient(port, ctx)
    client.handshake()
    client.sock.sendall(client.records(b"boom"))
    _, how = read_until_closed(client.sock)
    client.sock.close()
    assert how == "eof", how


def cut_hello_reset(port: int, ctx: ssl.SSLContext) -> None:
    sock = raw_connect(port)
    sock.sendall(client_hello(ctx)[:50])
    time.sleep(0.02)
    reset(sock)


def cut_hello_fin(port: int, ctx: ssl.SSLContext) -> None:
    sock = raw_connect(port)
    sock.sendall(client_hello(ctx)[:50])
    time.sleep(0.02)
    sock.close()


def mid_record_reset(port: int, ctx: ssl.SSLContext) -> None:
    client = BioClient(port, ctx)
    client.handshake()
    records = client.records(b"x" * 5000)
    client.sock.sendall(records[:2000])
    time.sleep(0.02)
    reset(client.sock)


def vanish_after_handshake(port: int, ctx: ssl.SSLContext) -> None:
    client = BioClient(port, ctx)
    client.handshake()
    client.sock.close()  # FIN without close_notify


def garbage(port: int, ctx: ssl.SSLContext) -> None:
    with raw_connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data, how = read_until_closed(sock)
    assert parse_alerts(data) == [(2, 10)], data  # fatal unexpected_message
    assert how in ("eof", "reset"), how


def slowloris(port: int, ctx: ssl.SSLContext) -> None:
    hello = client_hello(ctx)
    sock = raw_connect(port, timeout=0.25)
    start, sent = time.monotonic(), 0
    try:
        while time.monotonic() - start < 4 * HANDSHAKE_TIMEOUT:
            if sent < len(hello):
                sock.send(hello[sent : sent + 1])
                sent += 1
            try:
                if not sock.recv(100):
                    break
            except TimeoutError:
                continue
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    elapsed = time.monotonic() - start
    assert HANDSHAKE_TIMEOUT - 0.25 <= elapsed <= HANDSHAKE_TIMEOUT + 1.5, elapsed
    assert 1 < sent < len(hello)


def never_reads(port: int, ctx: ssl.SSLContext) -> None:
    """Pushes echo requests and never reads: the server must stop reading it, then drop it (idle timeout)."""
    client = BioClient(port, ctx, rcvbuf=16 * 1024, sndbuf=64 * 1024)
    client.handshake()
    client.sock.settimeout(IDLE_TIMEOUT + TIMEOUT)
    chunk = b"z" * 16384
    start = time.monotonic()
    try:
        for _ in range(4096):  # 64 MiB: far more than the kernel buffers take
            client.sock.sendall(client.records(chunk))
        raise AssertionError("the server read 64 MiB from a client that never reads its echo")
    except (ConnectionResetError, BrokenPipeError):
        pass  # dropped by the server
    finally:
        client.sock.close()
    assert time.monotonic() - start < IDLE_TIMEOUT + TIMEOUT


def idle_established(port: int, ctx: ssl.SSLContext) -> None:
    client = BioClient(port, ctx)
    client.handshake()
    start = time.monotonic()
    data, how = read_until_closed(client.sock)
    client.sock.close()
    assert how == "eof", how
    assert IDLE_TIMEOUT - 0.25 <= time.monotonic() - start <= IDLE_TIMEOUT + 1.5
    client.incoming.write(data)
    client.obj.unwrap()  # a close_notify, not a truncation


HOSTILE: dict[str, tuple[Callable[[int, ssl.SSLContext], None], int, str]] = {
    # name: (client, how many, the failure it causes on the server (class name) or "" for a clean close)
    "data and close_notify together": (data_and_close_notify_together, 10, ""),
    "the application raises": (boom, 5, ApplicationError.__name__),
    "half a ClientHello, RST": (cut_hello_reset, 5, ConnectionResetError.__name__),
    "half a ClientHello, FIN": (cut_hello_fin, 5, TruncatedConnection.__name__),
    "half a record, RST": (mid_record_reset, 5, ConnectionResetError.__name__),
    "FIN without close_notify": (vanish_after_handshake, 5, TruncatedConnection.__name__),
    "garbage": (garbage, 20, UnexpectedMessage.__name__),
    "slowloris": (slowloris, 5, HandshakeTimeout.__name__),
    "never reads": (never_reads, 5, IdleTimeout.__name__),
    "idle after the handshake": (idle_established, 3, IdleTimeout.__name__),
}


def test_hostile_mix_never_reaches_the_exception_handler_and_leaves_nothing_behind(
        server_config: ServerConfig, pem_dir: Path) -> None:
    ctx = client_context(pem_dir / "ca.pem")
    harness = Harness(server_config, handshake_timeout=HANDSHAKE_TIMEOUT, idle_timeout=IDLE_TIMEOUT,
                      close_timeout=1.0, write_buffer_limit=WRITE_BUFFER_LIMIT)
    handler_calls: list[dict[str, Any]] = []

    async def main() -> tuple[int, list[BaseException]]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: handler_calls.append(context))
        port = await harness.start(MAX_CONNECTIONS)
        sampler = asyncio.create_task(harness.sample_write_buffers())
        jobs = [fn for fn, count, _ in HOSTILE.values() for _ in range(count)]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            hostile = asyncio.gather(*(loop.run_in_executor(pool, fn, port, ctx) for fn in jobs),
                                     return_exceptions=True)
            normal = await handshake_load(port, ctx, 100, 10)
            client_errors = [e for e in await hostile if isinstance(e, BaseException)]
        assert not normal.failures, normal.failures[:5]
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        assert harness.server is not None
        await harness.server.close()
        return normal.ok, client_errors

    normal_ok, client_errors = asyncio.run(main())
    assert handler_calls == [], handler_calls
    if client_errors:
        raise client_errors[0]
    assert normal_ok == 100
    assert harness.server is not None and not harness.server.connections
    expected: Counter[str] = Counter()
    for _, count, kind in HOSTILE.values():
        if kind:
            expected[kind] += count
    kinds = harness.kinds()
    # The two connections open at close() time end without a failure (close_notify, or aborted by us).
    assert kinds == expected, f"failures {dict(kinds)}, expected {dict(expected)}"
    assert {cause for kind, cause in harness.failures if kind == ApplicationError.__name__} == {"ValueError"}
    assert harness.max_write_buffer <= WRITE_BUFFER_LIMIT + MAX_READ + 1024, harness.max_write_buffer
    assert harness.closed == harness.created
    gc.collect()
    assert len(harness.protocols) == 0, f"{len(harness.protocols)} protocols still alive after closing"
    assert len(harness.connections) == 0, f"{len(harness.connections)} ServerConnections still alive"
    print(f"\n[in-process] connections={harness.created}, failures={dict(kinds)}, "
          f"max_write_buffer={harness.max_write_buffer} (limit {WRITE_BUFFER_LIMIT})")


def test_close_gets_rid_of_stuck_connections(server_config: ServerConfig, pem_dir: Path) -> None:
    """Stopping the server while a quiet client is connected (it gets close_notify) and one that does not
    read has a full write buffer (close_notify cannot get out: aborted once the grace period is over)."""
    ctx = client_context(pem_dir / "ca.pem")
    harness = Harness(server_config, write_buffer_limit=WRITE_BUFFER_LIMIT)  # no idle timeout
    handler_calls: list[dict[str, Any]] = []
    grace = 0.5

    async def main() -> float:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: handler_calls.append(context))
        port = await harness.start(None)
        quiet_reader, quiet_writer = await open_tls(port, ctx)
        stuck = BioClient(port, ctx, rcvbuf=16 * 1024)
        await loop.run_in_executor(None, stuck.handshake)
        stuck.sock.setblocking(False)
        pending = b"".join(stuck.records(b"y" * 16384) for _ in range(1024))  # 16 MiB to echo
        with contextlib.suppress(BlockingIOError):
            while pending:
                pending = pending[stuck.sock.send(pending):]
                await asyncio.sleep(0)
        await asyncio.sleep(0.3)
        assert harness.server is not None
        assert len(harness.server.connections) == 2
        assert max(t.transport.get_write_buffer_size() for t in harness.server.connections if t.transport) > 0
        start = time.monotonic()
        await harness.server.close(grace=grace)
        seconds = time.monotonic() - start
        assert await asyncio.wait_for(quiet_reader.read(), TIMEOUT) == b""  # close_notify, then EOF
        quiet_writer.close()
        reset(stuck.sock)
        return seconds

    seconds = asyncio.run(main())
    assert handler_calls == [], handler_calls
    assert grace <= seconds < grace + 1.0, seconds
    assert harness.server is not None and not harness.server.connections
    assert harness.failures == []  # closed by us: not failures
    assert harness.closed == harness.created == 2
    gc.collect()
    assert len(harness.protocols) == 0 and len(harness.connections) == 0


def test_the_connection_limit_refuses_what_is_over_it_and_frees_slots(server_config: ServerConfig,
                                                                      pem_dir: Path) -> None:
    limit, extra = 20, 5
    ctx = client_context(pem_dir / "ca.pem")
    harness = Harness(server_config)
    handler_calls: list[dict[str, Any]] = []

    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: handler_calls.append(context))
        port = await harness.start(limit)
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(limit)]
        assert harness.server is not None
        while len(harness.server.connections) < limit:
            await asyncio.sleep(0.01)
        answers = []
        for _ in range(extra):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                answers.append(await asyncio.wait_for(reader.read(100), TIMEOUT))
            except ConnectionResetError:
                answers.append(b"")
            writer.close()
        for _, writer in held:
            writer.close()
        while harness.server.connections:
            await asyncio.sleep(0.01)
        await echo_session(port, ctx, b"room again")
        await harness.server.close()
        return answers

    answers = asyncio.run(main())
    assert answers == [b""] * extra
    assert harness.server is not None and harness.server.refused == extra
    assert len(harness.refused_peers) == extra
    assert harness.created == limit + 1
    assert harness.kinds() == Counter({TruncatedConnection.__name__: limit})  # the held ones closed mid-handshake
    assert handler_calls == []


def test_closed_connections_are_freed_without_the_collector(server_config: ServerConfig, pem_dir: Path) -> None:
    """Nothing of a closed connection waits for the cyclic garbage collector: with automatic
    collection off, every protocol and ServerConnection is freed by reference counting as soon
    as the connection is lost (the core keeps no reference cycles and no events between calls)."""
    ctx = client_context(pem_dir / "ca.pem")
    harness = Harness(server_config)

    async def main() -> int:
        harness.server = await start_server(harness.factory)
        port: int = harness.server.sockets[0].getsockname()[1]
        result = await handshake_load(port, ctx, 20, 5)
        assert not result.failures, result.failures
        while harness.server.connections:
            await asyncio.sleep(0.01)
        gc.collect()  # whatever the first round left (the collector is off from here on)
        gc.disable()
        try:
            result = await handshake_load(port, ctx, 20, 5)
            assert not result.failures, result.failures
            while harness.server.connections:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            alive = len(harness.connections)
        finally:
            gc.enable()
        await harness.server.close()
        return alive

    alive = asyncio.run(main())
    assert alive == 0, f"{alive} closed connections are still alive without the garbage collector"


def test_protocol_parameters_are_validated(server_config: ServerConfig) -> None:
    for bad in ({"handshake_timeout": 0}, {"idle_timeout": -1.0}, {"close_timeout": 0}, {"write_buffer_limit": 0}):
        with pytest.raises(ValueError):
            TLSServerProtocol(server_config, EchoOrBoom(), **bad)
    with pytest.raises(ValueError):
        TLSServer(lambda: TLSServerProtocol(server_config, EchoOrBoom()), max_connections=0)
