"""The drop-in layer where the network is slow, split or hostile, and where callbacks misbehave.

A send that times out, a close_notify that arrives in two reads, a server that refuses a
client which is still sending, an sni_callback that switches contexts or answers nonsense.
Real sockets on 127.0.0.1; the peer is the stdlib ssl module (OpenSSL) or raw TCP.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import select
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tls12
from tls12 import ServerConfig
from tls12.errors import ApplicationAlert
from tls12.io.aio import TLSServerProtocol, start_server

from helpers import stdlib_client_context, stdlib_server_context
from sslcompat_support import (
    TIMEOUT,
    ServeFn,
    answer_close_notify,
    connect,
    echo,
    ours_client,
    ours_server,
    plain_after_unwrap,
    raw_connection,
    recv_exactly,
)

# A ClientHello record whose version is not TLS, then far more than the server reads before it refuses.
BAD_HELLO = b"\x16\x09\x09\x00\x10" + bytes(16)
JUNK = random.Random(14).randbytes(200 * 1024)
PROTOCOL_VERSION_ALERT = b"\x02\x46"  # fatal protocol_version


def read_until_eof(sock: socket.socket) -> bytes:
    out = bytearray()
    while data := sock.recv(65536):
        out += data
    return bytes(out)


@pytest.fixture
def ours(pem_dir: Path) -> tls12.SSLContext:
    return ours_client(pem_dir)


# -- a send that times out loses nothing ----------------------------------------------------------


def test_send_that_times_out_loses_nothing(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    """The peer reads nothing until our send has timed out; the retried send completes the
    records already sealed, and every byte arrives intact."""
    data = random.Random(7).randbytes(4 << 20)
    reading = threading.Event()

    def handler(sock: ssl.SSLSocket) -> bytes:
        assert reading.wait(TIMEOUT), "the client's send never timed out"
        got = recv_exactly(sock, len(data))
        sock.sendall(b"done")
        return hashlib.sha256(got).digest()

    server = serve(stdlib_server_context(pem_dir), handler)
    raw = raw_connection(server.port, send_buffer=32 * 1024)
    with ours.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.settimeout(0.3)
        view = memoryview(data)
        pos, timeouts = 0, 0
        while pos < len(data):
            piece = view[pos : pos + 256 * 1024]
            try:
                n = sock.send(piece)
            except TimeoutError:
                timeouts += 1
                reading.set()  # only now does the peer start reading
                continue  # retry with the same data
            assert n == len(piece)
            pos += n
        reading.set()
        sock.settimeout(TIMEOUT)
        assert recv_exactly(sock, 4) == b"done"
    assert timeouts >= 1
    assert server.result() == hashlib.sha256(data).digest()


# -- unwrap() with close_notify split over two reads ----------------------------------------------


@pytest.mark.parametrize("impl", ["stdlib", "tls12"])
def test_unwrap_keeps_plain_text_after_a_split_close_notify(
    impl: str, ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn
) -> None:
    """The server's close_notify arrives in two reads, the second carrying the first plain bytes."""

    def handler(raw: socket.socket) -> bytes:
        close_notify = answer_close_notify(raw, stdlib_server_context(pem_dir))
        raw.sendall(close_notify[:10])
        time.sleep(0.3)  # the client reads the first part on its own
        raw.sendall(close_notify[10:] + b"PLAIN RIGHT AFTER")
        return recv_exactly(raw, 4)

    ctx = ours if impl == "tls12" else stdlib_client_context(pem_dir)
    server = serve(None, handler)
    assert plain_after_unwrap(ctx, server.port, 17, answer=b"back") == b"PLAIN RIGHT AFTER"
    assert server.result() == b"back"


# -- the sni_callback ------------------------------------------------------------------------------


def test_sni_switch_uses_the_key_log_of_the_context_switched_to(
    pem_dir: Path, tmp_path: Path, serve: ServeFn
) -> None:
    first, second = ours_server(pem_dir), ours_server(pem_dir)
    first.keylog_filename = tmp_path / "first.log"
    second.keylog_filename = tmp_path / "second.log"

    def switch(sslsock: Any, server_name: str | None, context: ssl.SSLContext) -> None:
        sslsock.context = second

    first.sni_callback = switch
    client = stdlib_client_context(pem_dir)
    client.keylog_filename = str(tmp_path / "client.log")
    server = serve(first)
    with connect(client, server.port) as sock:
        sock.sendall(b"key log")
        assert recv_exactly(sock, 7) == b"key log"
    assert server.result() is not None
    client_lines = [line for line in (tmp_path / "client.log").read_text().splitlines()
                    if line.startswith("CLIENT_RANDOM ")]
    assert len(client_lines) == 1
    assert (tmp_path / "second.log").read_text().splitlines() == client_lines
    assert (tmp_path / "first.log").read_text() == ""


@pytest.mark.parametrize("description", [-1, 256, 1000])
def test_application_alert_out_of_range_is_a_value_error(description: int) -> None:
    with pytest.raises(ValueError, match="0 to 255"):
        ApplicationAlert(description)


def test_application_alert_in_range() -> None:
    assert ApplicationAlert(112).alert == ssl.AlertDescription.ALERT_DESCRIPTION_UNRECOGNIZED_NAME


@pytest.mark.parametrize("answer", [300, -5, "unrecognized_name"])
def test_sni_callback_returning_an_invalid_alert(answer: Any, pem_dir: Path, serve: ServeFn) -> None:
    """The client gets internal_error; the server's caller is told what the callback did wrong."""
    ctx = ours_server(pem_dir)
    ctx.sni_callback = lambda sslsock, name, context: answer
    server = serve(ctx)
    with pytest.raises(ssl.SSLError) as info:
        connect(stdlib_client_context(pem_dir), server.port)
    assert "INTERNAL_ERROR" in str(info.value.reason)
    error = server.error()
    assert isinstance(error, ssl.SSLError)
    assert "sni_callback returned an invalid alert description" in str(error)
    assert repr(answer) in str(error)


# -- a refusal reaches the peer, not a TCP reset --------------------------------------------------


def refused_client(port: int) -> bytes:
    """Send a bad hello with a long tail, then read what the server answers until it closes."""
    with raw_connection(port) as sock:
        sock.sendall(BAD_HELLO + JUNK)
        return read_until_eof(sock)


def assert_alert(reply: bytes) -> None:
    assert reply[:1] == b"\x15" and reply[3:5] == b"\x00\x02", reply[:16]
    assert reply[5:7] == PROTOCOL_VERSION_ALERT


ROUNDS = 20


def test_blocking_server_refusal_reaches_the_peer(pem_dir: Path, serve: ServeFn) -> None:
    server = serve(ours_server(pem_dir), echo, connections=ROUNDS)
    for _ in range(ROUNDS):
        assert_alert(refused_client(server.port))
    server.join()
    assert len(server.errors) == ROUNDS
    assert all(isinstance(e, ssl.SSLError) and "protocol" in str(e).lower() for e in server.errors)


class _Nothing:
    def established(self, tls: TLSServerProtocol) -> None:
        pass

    def data_received(self, tls: TLSServerProtocol, data: bytes) -> None:
        pass

    def peer_closed(self, tls: TLSServerProtocol) -> None:
        pass


def test_asyncio_server_refusal_reaches_the_peer(pem_dir: Path) -> None:
    config = ServerConfig.from_pem_files(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    failures: list[Exception] = []

    async def main() -> list[bytes]:
        server = await start_server(
            lambda: TLSServerProtocol(config, _Nothing(), on_failure=lambda tls, exc: failures.append(exc)))
        port = server.sockets[0].getsockname()[1]
        try:
            return [await asyncio.to_thread(refused_client, port) for _ in range(ROUNDS)]
        finally:
            await server.close()

    replies = asyncio.run(asyncio.wait_for(main(), 4 * TIMEOUT))
    for reply in replies:
        assert_alert(reply)
    assert len(failures) == ROUNDS


# -- select() sees what recv() has not returned yet -------------------------------------------------


@pytest.mark.parametrize("impl", ["stdlib", "tls12"])
@pytest.mark.parametrize("bufsize", [2500, 65536])
def test_select_before_each_recv_sees_every_record(
    impl: str, bufsize: int, ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn
) -> None:
    """Records that have all arrived, read by a loop that waits in select() before each recv()
    and never asks pending(): no record may be decrypted and held back where select() cannot see it.
    (A read shorter than a record leaves the rest of it pending, with OpenSSL too: not tested.)"""
    records = [bytes([i]) * 1000 for i in range(12)]
    sent = threading.Event()

    def handler(sock: ssl.SSLSocket) -> bytes:
        for record in records:
            sock.sendall(record)
        sent.set()
        return recv_exactly(sock, 2)

    ctx = ours if impl == "tls12" else stdlib_client_context(pem_dir)
    server = serve(stdlib_server_context(pem_dir), handler)
    with connect(ctx, server.port) as sock:
        assert sent.wait(TIMEOUT)
        time.sleep(0.2)  # everything is in our kernel buffer now
        got = bytearray()
        while len(got) < 12_000:
            readable, _, _ = select.select([sock], [], [], 1.0)
            assert readable, f"select() saw nothing after {len(got)} of 12000 bytes"
            got += sock.recv(bufsize)
        assert bytes(got) == b"".join(records)
        sock.sendall(b"ok")
    assert server.result() == b"ok"
