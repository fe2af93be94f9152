"""`tls12.SSLContext` under asyncio: streams, protocols, STARTTLS, concurrency, failures, SNI.

asyncio drives the context through `wrap_bio()` (asyncio/sslproto.py), so this is the
`ssl.SSLObject` contract as asyncio really uses it. The other side is the stdlib ssl module
(OpenSSL) or tls12 again. Everything listens on 127.0.0.1, port 0; every await that could
hang is bounded by `asyncio.wait_for`, and every test fails if the event loop reported an
exception (its exception handler) or asyncio logged a warning.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

import tls12
from tls12.certs import CertificateAuthority
from tls12.sslcompat import SSLObject as Tls12SSLObject

from helpers import stdlib_client_context, stdlib_server_context

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

TIMEOUT = 10.0
HOST = "127.0.0.1"
CIPHER = ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", 256)
LEAF_SAN = (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
LINES = (b"hello\n", b"second line\n", b"\x00\x01binary\xff\n")
MEGABYTE = random.Random(1).randbytes(1 << 20)
KINDS = ("tls12", "stdlib")
# (client, server): ours on either side, and on both.
PAIRS = [("tls12", "stdlib"), ("stdlib", "tls12"), ("tls12", "tls12")]


# -- contexts --------------------------------------------------------------------------------------


def client_context(kind: str, pem_dir: Path) -> ssl.SSLContext:
    if kind == "stdlib":
        return stdlib_client_context(pem_dir)
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    return ctx


def server_context(kind: str, pem_dir: Path) -> ssl.SSLContext:
    if kind == "stdlib":
        return stdlib_server_context(pem_dir)
    ctx = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    return ctx


def object_type(kind: str) -> type:
    return Tls12SSLObject if kind == "tls12" else ssl.SSLObject


@pytest.fixture(scope="module")
def stranger_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A server certificate for localhost from a CA nobody trusts, plus that CA."""
    d = tmp_path_factory.mktemp("stranger")
    ca = CertificateAuthority("stranger CA")
    leaf = ca.issue(("localhost", "127.0.0.1"))
    (d / "ca.pem").write_bytes(ca.cert_pem())
    (d / "leaf.pem").write_bytes(leaf.cert_pem())
    (d / "leaf.key").write_bytes(leaf.key_pem())
    return d


# -- running the loop -----------------------------------------------------------------------------


def run(main: Callable[[], Coroutine[Any, Any, T]], caplog: pytest.LogCaptureFixture) -> T:
    """Run `main()` in a fresh loop; fail if asyncio reported or logged any problem."""
    reported: list[dict[str, Any]] = []

    async def wrapper() -> T:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
        return await asyncio.wait_for(main(), 3 * TIMEOUT)

    caplog.set_level(logging.WARNING, logger="asyncio")
    result = asyncio.run(wrapper())
    assert reported == [], f"asyncio reported: {reported!r}"
    logged = [r for r in caplog.records if r.name.startswith("asyncio") and r.levelno >= logging.WARNING]
    assert logged == [], f"asyncio logged: {[r.getMessage() for r in logged]!r}"
    return result


async def bounded(aw: Awaitable[T]) -> T:
    return await asyncio.wait_for(aw, TIMEOUT)


async def server_start_tls(writer: asyncio.StreamWriter, ctx: ssl.SSLContext) -> None:
    """The server side of STARTTLS, bounded by asyncio.timeout() rather than wait_for().

    wait_for() would run start_tls() in a new task, one loop iteration later; a ClientHello
    arriving in that iteration is read by the plain stream and lost to the TLS layer (a
    hang with any SSL implementation). Awaited directly, start_tls() pauses reading first."""
    async with asyncio.timeout(TIMEOUT):
        await writer.start_tls(ctx)


def port_of(server: asyncio.Server) -> int:
    sockets = server.sockets
    assert sockets
    port: int = sockets[0].getsockname()[1]
    return port


class EchoServer:
    """A stream handler that echoes until EOF, then closes; reports how each connection ended."""

    def __init__(self) -> None:
        self.extra: list[dict[str, Any]] = []
        self.ended: asyncio.Queue[BaseException | None] = asyncio.Queue()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        outcome: BaseException | None = None
        try:
            self.extra.append({k: writer.get_extra_info(k) for k in ("cipher", "peercert", "ssl_object")})
            while data := await bounded(reader.read(1 << 16)):
                writer.write(data)
                await bounded(writer.drain())
            writer.close()
            await bounded(writer.wait_closed())
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            self.ended.put_nowait(outcome)

    async def all_ended(self, n: int) -> list[BaseException | None]:
        return [await bounded(self.ended.get()) for _ in range(n)]


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await bounded(writer.wait_closed())


# -- streams: open_connection / start_server ---------------------------------------------------------


@pytest.mark.parametrize(("client_kind", "server_kind"), PAIRS)
def test_streams_echo_and_close_cleanly(
    client_kind: str, server_kind: str, pem_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        echo = EchoServer()
        server = await asyncio.start_server(echo.handle, HOST, 0, ssl=server_context(server_kind, pem_dir))
        async with server:
            reader, writer = await bounded(asyncio.open_connection(
                HOST, port_of(server), ssl=client_context(client_kind, pem_dir), server_hostname="localhost"))
            try:
                assert writer.get_extra_info("cipher") == CIPHER
                peercert = writer.get_extra_info("peercert")
                assert isinstance(peercert, dict)
                assert peercert["subjectAltName"] == LEAF_SAN
                assert isinstance(writer.get_extra_info("ssl_object"), object_type(client_kind))
                for line in LINES:
                    writer.write(line)
                    assert await bounded(reader.readline()) == line
                writer.write(MEGABYTE)
                assert await bounded(reader.readexactly(len(MEGABYTE))) == MEGABYTE
            finally:
                await close(writer)
            assert await echo.all_ended(1) == [None]
            server.close()
            await bounded(server.wait_closed())
        (extra,) = echo.extra
        assert extra["cipher"] == CIPHER
        assert extra["peercert"] is None  # no client certificate
        assert isinstance(extra["ssl_object"], object_type(server_kind))

    run(main, caplog)


@pytest.mark.parametrize(("client_kind", "server_kind"), PAIRS)
def test_server_closes_first(
    client_kind: str, server_kind: str, pem_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server says goodbye and closes; the client reads it, then EOF, and closes too."""

    async def main() -> None:
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                writer.write(b"bye\n")
                await close(writer)
            finally:
                ended.set_result(None)

        server = await asyncio.start_server(handle, HOST, 0, ssl=server_context(server_kind, pem_dir))
        async with server:
            reader, writer = await bounded(asyncio.open_connection(
                HOST, port_of(server), ssl=client_context(client_kind, pem_dir), server_hostname="localhost"))
            assert await bounded(reader.read()) == b"bye\n"  # everything up to the close_notify
            assert reader.at_eof()
            await close(writer)
            await bounded(ended)

    run(main, caplog)


# -- protocols: create_connection / create_server -----------------------------------------------------


class Recorder(asyncio.Protocol):
    """Records what asyncio delivers, in order."""

    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.events: list[str] = []
        self.data = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.data += data

    def eof_received(self) -> bool | None:
        self.events.append("eof")
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append("lost")
        self.lost.set_result(exc)


class BufferedRecorder(asyncio.BufferedProtocol):
    """The same, through get_buffer()/buffer_updated(): asyncio then calls read(n, buffer).

    Buffers of changing sizes, some smaller than a record and some larger, so asyncio both
    fills a buffer in one read and loops over `buffer[offset:]` slices."""

    SIZES = (1000, 70_000, 7, 16_384, 40_000)

    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.events: list[str] = []
        self.data = bytearray()
        self.updates = 0
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray(max(self.SIZES))
        self._view: memoryview | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.events.append("made")

    def get_buffer(self, sizehint: int) -> memoryview:
        size = self.SIZES[self.updates % len(self.SIZES)]
        self._buffer[:] = b"\xee" * len(self._buffer)  # stale bytes would show up in the data
        self._view = memoryview(self._buffer)[:size]
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        assert self._view is not None
        assert 0 < nbytes <= len(self._view)
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.data += self._view[:nbytes]
        self.updates += 1

    def eof_received(self) -> bool | None:
        self.events.append("eof")
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append("lost")
        self.lost.set_result(exc)


PAYLOAD = random.Random(2).randbytes(300_000)


@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("protocol", [Recorder, BufferedRecorder], ids=["Protocol", "BufferedProtocol"])
def test_protocol_receives_data_then_eof(
    protocol: type[Recorder | BufferedRecorder], side: str, pem_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Our context under a (Buffered)Protocol; the stdlib on the stream side sends 300 kB and closes."""

    async def main() -> Recorder | BufferedRecorder:
        loop = asyncio.get_running_loop()
        proto = protocol(len(PAYLOAD))
        sender_done: asyncio.Future[None] = loop.create_future()

        async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                assert await bounded(reader.readline()) == b"SEND\n"
                writer.write(PAYLOAD)
                await close(writer)
            finally:
                sender_done.set_result(None)

        if side == "client":
            server = await asyncio.start_server(send, HOST, 0, ssl=server_context("stdlib", pem_dir))
            async with server:
                transport, _ = await bounded(loop.create_connection(
                    lambda: proto, HOST, port_of(server), ssl=client_context("tls12", pem_dir),
                    server_hostname="localhost"))
                transport.write(b"SEND\n")
                assert await bounded(proto.lost) is None
                await bounded(sender_done)
        else:
            server = await loop.create_server(lambda: proto, HOST, 0, ssl=server_context("tls12", pem_dir))
            async with server:
                reader, writer = await bounded(asyncio.open_connection(
                    HOST, port_of(server), ssl=client_context("stdlib", pem_dir), server_hostname="localhost"))
                assert proto.transport is not None
                proto.transport.write(b"SEND\n")
                await send(reader, writer)
                assert await bounded(proto.lost) is None
        return proto

    proto = run(main, caplog)
    assert proto.data == PAYLOAD
    assert proto.events == ["made", "data", "eof", "lost"]
    if isinstance(proto, BufferedRecorder):
        assert proto.updates >= len(PAYLOAD) // 70_000


@pytest.mark.parametrize("protocol", [Recorder, BufferedRecorder], ids=["Protocol", "BufferedProtocol"])
def test_protocol_both_sides_ours(
    protocol: type[Recorder | BufferedRecorder], pem_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """tls12 on both ends of create_server/create_connection: the server writes and closes."""

    async def main() -> Recorder | BufferedRecorder:
        loop = asyncio.get_running_loop()
        client = protocol(len(PAYLOAD))
        server_proto = Recorder(0)
        server = await loop.create_server(lambda: server_proto, HOST, 0, ssl=server_context("tls12", pem_dir))
        async with server:
            await bounded(loop.create_connection(
                lambda: client, HOST, port_of(server), ssl=client_context("tls12", pem_dir),
                server_hostname="localhost"))
            assert server_proto.transport is not None
            server_proto.transport.write(PAYLOAD)
            server_proto.transport.close()
            assert await bounded(client.lost) is None
            assert await bounded(server_proto.lost) is None
        # asyncio tells the closing side eof_received() once the peer's close_notify completes the shutdown.
        assert server_proto.events in (["made", "lost"], ["made", "eof", "lost"])
        return client

    proto = run(main, caplog)
    assert proto.data == PAYLOAD
    assert proto.events == ["made", "data", "eof", "lost"]


# -- STARTTLS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("client_kind", "server_kind"), PAIRS)
def test_start_tls_upgrades_a_plain_stream(
    client_kind: str, server_kind: str, pem_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        server_ctx = server_context(server_kind, pem_dir)
        client_ctx = client_context(client_kind, pem_dir)
        seen: dict[str, Any] = {}
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def starttls_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                assert await bounded(reader.readline()) == b"STARTTLS\n"
                assert writer.get_extra_info("ssl_object") is None
                writer.write(b"OK\n")
                await bounded(writer.drain())
                await server_start_tls(writer, server_ctx)
                seen["cipher"] = writer.get_extra_info("cipher")
                seen["ssl_object"] = writer.get_extra_info("ssl_object")
                while line := await bounded(reader.readline()):
                    writer.write(line.upper())
                    await bounded(writer.drain())
                await close(writer)
            finally:
                ended.set_result(None)

        server = await asyncio.start_server(starttls_server, HOST, 0)
        async with server:
            reader, writer = await bounded(asyncio.open_connection(HOST, port_of(server)))
            writer.write(b"STARTTLS\n")
            assert await bounded(reader.readline()) == b"OK\n"
            await bounded(writer.start_tls(client_ctx, server_hostname="localhost"))
            try:
                assert writer.get_extra_info("cipher") == CIPHER
                assert isinstance(writer.get_extra_info("ssl_object"), object_type(client_kind))
                assert writer.get_extra_info("peercert")["subjectAltName"] == LEAF_SAN
                for line in LINES:
                    writer.write(line)
                    assert await bounded(reader.readline()) == line.upper()
            finally:
                await close(writer)
            await bounded(ended)
        assert seen["cipher"] == CIPHER
        assert isinstance(seen["ssl_object"], object_type(server_kind))

    run(main, caplog)


def test_loop_start_tls_accepts_our_context(pem_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """loop.start_tls() itself (it checks isinstance(ctx, ssl.SSLContext)) on both sides."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server_ctx, client_ctx = server_context("tls12", pem_dir), client_context("tls12", pem_dir)
        assert isinstance(server_ctx, ssl.SSLContext)
        server_proto = Recorder(0)
        upgraded: asyncio.Future[asyncio.Transport | None] = loop.create_future()
        tasks: list[asyncio.Task[None]] = []

        class Plain(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                async def upgrade() -> None:
                    assert isinstance(transport, asyncio.Transport)
                    async with asyncio.timeout(TIMEOUT):  # not wait_for: see server_start_tls()
                        new = await loop.start_tls(transport, server_proto, server_ctx, server_side=True)
                    upgraded.set_result(new)

                tasks.append(loop.create_task(upgrade()))

        server = await loop.create_server(Plain, HOST, 0)
        async with server:
            client = Recorder(0)
            transport, _ = await bounded(loop.create_connection(lambda: client, HOST, port_of(server)))
            tls = await bounded(loop.start_tls(transport, client, client_ctx, server_hostname="localhost"))
            assert tls is not None
            assert isinstance(tls.get_extra_info("ssl_object"), Tls12SSLObject)
            server_tls = await bounded(upgraded)
            assert server_tls is not None
            assert isinstance(server_tls.get_extra_info("ssl_object"), Tls12SSLObject)
            tls.write(b"ping")
            async with asyncio.timeout(TIMEOUT):
                while bytes(server_proto.data) != b"ping":
                    await asyncio.sleep(0.01)
            tls.close()
            assert await bounded(client.lost) is None
            assert await bounded(server_proto.lost) is None

    run(main, caplog)


# -- many at once --------------------------------------------------------------------------------------------

CONCURRENT = 50


@pytest.mark.parametrize(("client_kind", "server_kind"), [("stdlib", "tls12"), ("tls12", "stdlib")])
def test_fifty_concurrent_connections(
    client_kind: str, server_kind: str, pem_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        echo = EchoServer()
        server = await asyncio.start_server(echo.handle, HOST, 0, ssl=server_context(server_kind, pem_dir),
                                            backlog=CONCURRENT)
        client_ctx = client_context(client_kind, pem_dir)

        async def one(i: int) -> bytes:
            reader, writer = await bounded(asyncio.open_connection(
                HOST, port_of(server), ssl=client_ctx, server_hostname="localhost"))
            try:
                assert isinstance(writer.get_extra_info("ssl_object"), object_type(client_kind))
                data = f"client {i}:".encode() + random.Random(i).randbytes(20_000 + 97 * i)
                writer.write(data)
                return await bounded(reader.readexactly(len(data)))
            finally:
                await close(writer)

        async with server:
            results = await bounded(asyncio.gather(*(one(i) for i in range(CONCURRENT))))
            assert await echo.all_ended(CONCURRENT) == [None] * CONCURRENT
        for i, got in enumerate(results):
            assert got == f"client {i}:".encode() + random.Random(i).randbytes(20_000 + 97 * i)
        assert all(isinstance(e["ssl_object"], object_type(server_kind)) for e in echo.extra)

    run(main, caplog)


# -- failures ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rejecter", ["tls12", "stdlib"])
def test_certificate_failure_raises_and_ends_the_servers_handshake(
    rejecter: str, pem_dir: Path, stranger_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The client does not trust the server's CA: it raises SSLCertVerificationError at once.

    rejecter="tls12": our client against a stdlib server presenting the stranger's certificate.
    rejecter="stdlib": a stdlib client trusting only the stranger CA against our server.
    The server upgrades a plain connection with start_tls, so its side of the failure is seen."""

    async def main() -> None:
        if rejecter == "tls12":
            server_ctx = stdlib_server_context(stranger_pem)
            client_ctx = client_context("tls12", pem_dir)
        else:
            server_ctx = server_context("tls12", pem_dir)
            client_ctx = client_context("stdlib", stranger_pem)
        server_saw: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await server_start_tls(writer, server_ctx)
            except Exception as exc:
                server_saw.set_result(exc)
            else:
                server_saw.set_result(None)
            writer.close()

        server = await asyncio.start_server(handle, HOST, 0)
        async with server:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                await bounded(asyncio.open_connection(
                    HOST, port_of(server), ssl=client_ctx, server_hostname="localhost"))
            assert info.value.verify_code == 20
            assert info.value.verify_message == "unable to get local issuer certificate"
            exc = await bounded(server_saw)
            # The server's handshake ends with an error (asyncio drops the client's alert
            # with the connection, so it sees the connection end rather than the alert).
            assert isinstance(exc, OSError), exc
            assert not isinstance(exc, TimeoutError), exc

    run(main, caplog)


# -- SNI ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("client_kind", KINDS)
def test_sni_callback_sees_the_clients_name(
    client_kind: str, hostname: str, pem_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        server_ctx = server_context("tls12", pem_dir)
        calls: list[tuple[Any, Any, Any]] = []

        def sni(sslobj: Any, name: Any, ctx: Any) -> None:
            calls.append((sslobj, name, ctx))

        server_ctx.sni_callback = sni
        echo = EchoServer()
        server = await asyncio.start_server(echo.handle, HOST, 0, ssl=server_ctx)
        async with server:
            reader, writer = await bounded(asyncio.open_connection(
                HOST, port_of(server), ssl=client_context(client_kind, pem_dir), server_hostname=hostname))
            try:
                writer.write(b"sni\n")
                assert await bounded(reader.readline()) == b"sni\n"
            finally:
                await close(writer)
            assert await echo.all_ended(1) == [None]
        ((sslobj, name, ctx),) = calls
        # No SNI is sent for an IP address: the callback is told None.
        assert name == (None if hostname == "127.0.0.1" else hostname)
        assert sslobj is echo.extra[0]["ssl_object"]
        assert isinstance(sslobj, Tls12SSLObject)
        assert ctx is server_ctx

    run(main, caplog)


@pytest.mark.parametrize("client_kind", KINDS)
def test_sni_callback_can_switch_the_context(
    client_kind: str, pem_dir: Path, stranger_pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As with the stdlib: assigning sslobj.context in the callback serves that context's certificate."""

    async def main() -> None:
        server_ctx = server_context("tls12", pem_dir)
        stranger_ctx = server_context("tls12", stranger_pem)
        names: list[Any] = []

        def sni(sslobj: Any, name: Any, ctx: Any) -> None:
            names.append(name)
            sslobj.context = stranger_ctx

        server_ctx.sni_callback = sni
        echo = EchoServer()
        server = await asyncio.start_server(echo.handle, HOST, 0, ssl=server_ctx)
        async with server:
            # The client trusts only the stranger CA: the handshake succeeds only if the switch happened.
            reader, writer = await bounded(asyncio.open_connection(
                HOST, port_of(server), ssl=client_context(client_kind, stranger_pem), server_hostname="localhost"))
            try:
                writer.write(b"switched\n")
                assert await bounded(reader.readline()) == b"switched\n"
            finally:
                await close(writer)
            assert await echo.all_ended(1) == [None]
        assert names == ["localhost"]
        assert echo.extra[0]["ssl_object"].context is stranger_ctx

    run(main, caplog)
