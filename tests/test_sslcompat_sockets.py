"""`tls12.SSLContext.wrap_socket()` as a drop-in for the stdlib's, over real sockets.

Our client against a stdlib (OpenSSL) server thread, and the stdlib client against our
server side: blocking, timeout and non-blocking modes, unwrap(), ragged EOFs, accept()
on a wrapped listening socket, and the server's SNI callback. Where the stdlib has an
answer for the very same situation, the test computes it and compares.

Everything listens on 127.0.0.1:0; every socket has a timeout; every thread is joined.
"""

from __future__ import annotations

import gc
import hashlib
import select
import socket
import ssl
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import tls12
import tls12.sslcompat
from tls12.certs import CertificateAuthority, IssuedCertificate

import sslcompat_support
from helpers import stdlib_client_context, stdlib_server_context
from sslcompat_support import (
    TIMEOUT,
    ServeFn,
    answer_close_notify,
    connect,
    echo,
    peercert,
    plain_after_unwrap,
    raw_connection,
    recv_exactly,
)

SUITE = "ECDHE-RSA-AES256-GCM-SHA384"
CIPHER = (SUITE, "TLSv1.2", 256)
MB = (bytes(range(256)) * 4096)[: 1 << 20]
LEAF_SAN = (("DNS", "localhost"), ("IP Address", "127.0.0.1"))


# -- a TLS server on 127.0.0.1 whose connections run a handler in a thread --------------------


@pytest.fixture
def ours(pem_dir: Path) -> tls12.SSLContext:
    return sslcompat_support.ours_client(pem_dir)


@pytest.fixture
def ours_server(pem_dir: Path) -> tls12.SSLContext:
    return sslcompat_support.ours_server(pem_dir)


@pytest.fixture
def stdlib_client(pem_dir: Path) -> ssl.SSLContext:
    """The stdlib client as any application would configure it: verification and host names on."""
    ctx = ssl.create_default_context(cafile=pem_dir / "ca.pem")
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


# -- blocking mode --------------------------------------------------------------------------------


def test_blocking_session_information(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    server_ctx = stdlib_server_context(pem_dir)
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])

    def handler(sock: ssl.SSLSocket) -> tuple[Any, ...]:
        info = (sock.get_channel_binding("tls-unique"), sock.selected_alpn_protocol(), sock.cipher())
        echo(sock)
        return info

    server = serve(server_ctx, handler)
    ours.set_alpn_protocols(["http/1.1"])
    with connect(ours, server.port) as sock:
        assert sock.cipher() == CIPHER
        assert sock.version() == "TLSv1.2"
        assert sock.selected_alpn_protocol() == "http/1.1"
        assert sock.compression() is None
        assert sock.server_hostname == "localhost"
        assert sock.server_side is False
        assert sock.context is ours
        assert sock.session_reused is False
        assert sock.pending() == 0
        assert peercert(sock)["subjectAltName"] == LEAF_SAN
        binding = sock.get_channel_binding("tls-unique")
        assert isinstance(binding, bytes) and len(binding) == 12
        with pytest.raises(ValueError):
            sock.get_channel_binding("tls-server-end-point")
        sock.sendall(b"bye")
        assert recv_exactly(sock, 3) == b"bye"
    server_binding, server_alpn, server_cipher = server.result()
    assert binding == server_binding
    assert server_alpn == "http/1.1"
    assert server_cipher == CIPHER


def test_client_shared_ciphers_as_stdlib(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    """The stdlib documents shared_ciphers() as None on a client socket."""
    server = serve(stdlib_server_context(pem_dir), connections=2)
    with connect(stdlib_client_context(pem_dir), server.port) as std_sock:
        expected = std_sock.shared_ciphers()
    with connect(ours, server.port) as sock:
        got = sock.shared_ciphers()
    assert expected is None
    assert got == expected


def test_blocking_large_and_small_data(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    reply = bytes(reversed(MB))

    def handler(sock: ssl.SSLSocket) -> bytes:
        data = recv_exactly(sock, len(MB))
        sock.sendall(hashlib.sha256(data).digest())
        sock.sendall(reply)
        small = recv_exactly(sock, 6)
        for b in small:
            sock.sendall(bytes([b]))
        assert sock.recv(1) == b""
        return small

    server = serve(stdlib_server_context(pem_dir), handler)
    with connect(ours, server.port) as sock:
        sock.sendall(MB)
        assert recv_exactly(sock, 32) == hashlib.sha256(MB).digest()
        buf = bytearray(len(reply))
        view = memoryview(buf)
        pos = 0
        while pos < len(buf):
            n = sock.recv_into(view[pos:], min(len(buf) - pos, 50_000))
            assert n > 0
            pos += n
        assert buf == reply
        assert sock.send(b"a") == 1
        assert sock.send(memoryview(b"bc")) == 2
        assert sock.send(bytearray(b"def")) == 3
        got = b""
        while len(got) < 6:
            got += sock.recv(1)
        assert got == b"abcdef"
    assert server.result() == b"abcdef"


def test_blocking_makefile(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    def handler(sock: ssl.SSLSocket) -> bytes:
        sock.sendall(b"first line\nsecond line\n" + b"x" * 70_000 + b"\n")
        with sock.makefile("rb") as f:
            line = f.readline()
        sock.sendall(line.upper())
        return line

    server = serve(stdlib_server_context(pem_dir), handler)
    with connect(ours, server.port) as sock:
        with sock.makefile("rb") as reader:
            assert reader.readline() == b"first line\n"
            assert reader.readline() == b"second line\n"
            assert reader.readline() == b"x" * 70_000 + b"\n"
        with sock.makefile("rwb") as f:
            f.write(b"hello over makefile\n")
            f.flush()
            assert f.readline() == b"HELLO OVER MAKEFILE\n"
    assert server.result() == b"hello over makefile\n"


# -- timeout mode --------------------------------------------------------------------------------


def test_timeout_then_still_usable(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    def handler(sock: ssl.SSLSocket) -> bytes:
        go = recv_exactly(sock, 2)  # silent until the client speaks
        sock.sendall(b"late reply")
        return go

    server = serve(stdlib_server_context(pem_dir), handler)
    with connect(ours, server.port) as sock:
        sock.settimeout(0.2)
        assert sock.gettimeout() == 0.2
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            sock.recv(100)
        assert time.monotonic() - start >= 0.15
        with pytest.raises(socket.timeout):
            sock.recv_into(bytearray(10))
        sock.sendall(b"go")
        sock.settimeout(TIMEOUT)
        assert recv_exactly(sock, 10) == b"late reply"
    assert server.result() == b"go"


def test_handshake_timeout_against_a_silent_server(ours: tls12.SSLContext, serve: ServeFn) -> None:
    release = threading.Event()
    server = serve(None, lambda raw: release.wait(TIMEOUT))
    raw = raw_connection(server.port)
    raw.settimeout(0.3)
    start = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            ours.wrap_socket(raw, server_hostname="localhost")
    finally:
        raw.close()
        release.set()
    assert 0.25 <= time.monotonic() - start < TIMEOUT
    server.result()


def test_sendfile(ours: tls12.SSLContext, pem_dir: Path, tmp_path: Path, serve: ServeFn) -> None:
    path = tmp_path / "payload.bin"
    path.write_bytes(MB[:300_000])

    def handler(sock: ssl.SSLSocket) -> bytes:
        return recv_exactly(sock, 300_000)

    server = serve(stdlib_server_context(pem_dir), handler)
    with connect(ours, server.port) as sock, path.open("rb") as f:
        assert sock.sendfile(f) == 300_000
    assert server.result() == MB[:300_000]


# -- non-blocking mode ----------------------------------------------------------------------------


def wait_for(sock: socket.socket, exc: BaseException, deadline: float) -> None:
    """select() on what the SSL*Error asked for."""
    remaining = deadline - time.monotonic()
    assert remaining > 0, "non-blocking loop did not finish in time"
    if isinstance(exc, ssl.SSLWantWriteError):
        select.select([], [sock], [], remaining)
    else:
        select.select([sock], [], [], remaining)


def nonblocking_recv(sock: Any, n: int, deadline: float) -> bytes:
    out = bytearray()
    while len(out) < n:
        try:
            chunk = sock.recv(n - len(out))
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
            wait_for(sock, exc, deadline)
            continue
        assert chunk, "EOF"
        out += chunk
    return bytes(out)


def test_nonblocking_handshake_and_data(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    answer = threading.Event()
    server_ctx = stdlib_server_context(pem_dir)

    def late_tls_echo(raw: socket.socket) -> Any:
        # The server speaks only once the client has seen it would block: however fast the
        # server thread is scheduled, the first do_handshake() cannot finish at once.
        answer.wait(TIMEOUT)
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            return echo(tls)

    server = serve(None, late_tls_echo)
    raw = raw_connection(server.port)
    raw.setblocking(False)
    with ours.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as sock:
        assert sock.gettimeout() == 0.0
        assert sock.cipher() is None
        deadline = time.monotonic() + TIMEOUT
        with pytest.raises(ssl.SSLWantReadError) as first:
            sock.do_handshake()
        assert first.value.errno == ssl.SSL_ERROR_WANT_READ
        answer.set()
        wants = 1
        while True:
            try:
                sock.do_handshake()
                break
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
                assert exc.errno in (ssl.SSL_ERROR_WANT_READ, ssl.SSL_ERROR_WANT_WRITE)
                wants += 1
                wait_for(sock, exc, deadline)
        assert wants >= 1
        assert sock.cipher() == CIPHER
        with pytest.raises(ssl.SSLWantReadError):
            sock.recv(10)  # nothing sent yet
        assert sock.send(b"non-blocking ping") == 17
        assert nonblocking_recv(sock, 17, deadline) == b"non-blocking ping"
    assert server.result() == b"non-blocking ping"


def test_nonblocking_large_send_hits_want_write(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    data = (bytes(range(256)) * 8192)[: 2 << 20]  # 2 MiB
    stalled = threading.Event()

    def handler(sock: ssl.SSLSocket) -> tuple[int, bytes]:
        assert stalled.wait(TIMEOUT), "the client never saw SSLWantWriteError"
        got = recv_exactly(sock, len(data))
        sock.sendall(b"done")
        return len(got), hashlib.sha256(got).digest()

    server = serve(stdlib_server_context(pem_dir), handler)
    raw = raw_connection(server.port, send_buffer=32 * 1024)
    with ours.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.setblocking(False)
        deadline = time.monotonic() + TIMEOUT
        view = memoryview(data)
        pos, want_writes, chunk = 0, 0, 256 * 1024
        while pos < len(data):
            piece = view[pos : pos + chunk]
            try:
                n = sock.send(piece)
            except ssl.SSLWantWriteError as exc:
                want_writes += 1
                stalled.set()
                wait_for(sock, exc, deadline)
                continue  # retry with the same data, as OpenSSL requires
            assert n == len(piece)
            pos += n
        stalled.set()
        assert nonblocking_recv(sock, 4, deadline) == b"done"
    assert want_writes >= 1
    assert server.result() == (len(data), hashlib.sha256(data).digest())


# -- unwrap --------------------------------------------------------------------------------------


def test_unwrap_client_then_plain_text(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    def handler(sock: ssl.SSLSocket) -> bytes:
        assert recv_exactly(sock, 6) == b"unwrap"
        plain = sock.unwrap()
        got = recv_exactly(plain, 17)
        plain.sendall(b"plain from server")
        plain.close()
        return got

    server = serve(stdlib_server_context(pem_dir), handler)
    with connect(ours, server.port) as sock:
        sock.sendall(b"unwrap")
        plain = sock.unwrap()
        assert plain.fileno() >= 0
        plain.sendall(b"plain from client")
        assert recv_exactly(plain, 17) == b"plain from server"
        plain.close()
    assert server.result() == b"plain from client"


def test_unwrap_server_then_plain_text(ours_server: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    def handler(sock: Any) -> bytes:
        assert recv_exactly(sock, 6) == b"unwrap"
        plain = sock.unwrap()
        plain.sendall(b"plain from server")
        got = recv_exactly(plain, 17)
        plain.close()
        return got

    server = serve(ours_server, handler)
    with connect(stdlib_client_context(pem_dir), server.port) as sock:
        sock.sendall(b"unwrap")
        plain = sock.unwrap()
        assert recv_exactly(plain, 17) == b"plain from server"
        plain.sendall(b"plain from client")
        plain.close()
    assert server.result() == b"plain from client"


@pytest.mark.parametrize("impl", ["stdlib", "tls12"])
def test_unwrap_with_plain_text_right_behind_close_notify(
    impl: str, ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn
) -> None:
    """The server answers the client's close_notify with its own and its first plain bytes in
    one TCP send: what follows close_notify on the wire belongs to the plain connection."""

    def handler(raw: socket.socket) -> bytes:
        raw.sendall(answer_close_notify(raw, stdlib_server_context(pem_dir)) + b"PLAIN RIGHT AFTER")
        return recv_exactly(raw, 4)

    ctx = ours if impl == "tls12" else stdlib_client_context(pem_dir)
    server = serve(None, handler)
    assert plain_after_unwrap(ctx, server.port, 17, answer=b"back") == b"PLAIN RIGHT AFTER"
    assert server.result() == b"back"


# -- ragged EOF ----------------------------------------------------------------------------------


def _close_without_close_notify(sock: ssl.SSLSocket) -> None:
    sock.sendall(b"last words")
    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # TCP FIN, no close_notify


@pytest.mark.parametrize("impl", ["stdlib", "tls12"])
def test_suppress_ragged_eofs_true(impl: str, ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    ctx = ours if impl == "tls12" else stdlib_client_context(pem_dir)
    server = serve(stdlib_server_context(pem_dir), _close_without_close_notify)
    with connect(ctx, server.port, suppress_ragged_eofs=True) as sock:
        assert recv_exactly(sock, 10) == b"last words"
        assert sock.recv(10) == b""
        assert sock.recv_into(bytearray(10)) == 0
    server.result()


@pytest.mark.parametrize("impl", ["stdlib", "tls12"])
def test_suppress_ragged_eofs_false(impl: str, ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    ctx = ours if impl == "tls12" else stdlib_client_context(pem_dir)
    server = serve(stdlib_server_context(pem_dir), _close_without_close_notify)
    with connect(ctx, server.port, suppress_ragged_eofs=False) as sock:
        assert recv_exactly(sock, 10) == b"last words"
        with pytest.raises(ssl.SSLEOFError) as info:
            sock.recv(10)
        assert isinstance(info.value, OSError)
    server.result()


def test_close_notify_is_a_clean_eof(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    def handler(sock: ssl.SSLSocket) -> None:
        sock.sendall(b"bye")
        sock.unwrap()

    server = serve(stdlib_server_context(pem_dir), handler)
    with connect(ours, server.port, suppress_ragged_eofs=False) as sock:
        assert recv_exactly(sock, 3) == b"bye"
        assert sock.recv(10) == b""
    server.result()


# -- our server side -------------------------------------------------------------------------------


def test_our_server_wraps_accepted_connection(
    ours_server: tls12.SSLContext, stdlib_client: ssl.SSLContext, leaf: IssuedCertificate, serve: ServeFn
) -> None:
    def handler(sock: Any) -> tuple[Any, ...]:
        info = (sock.server_side, sock.cipher(), sock.version(), sock.shared_ciphers(), sock.getpeercert())
        received = recv_exactly(sock, len(MB))
        sock.sendall(hashlib.sha256(received).digest() + MB)
        assert sock.recv(1) == b""
        return info

    server = serve(ours_server, handler)
    with connect(stdlib_client, server.port) as sock:
        assert sock.cipher() == CIPHER
        assert sock.version() == "TLSv1.2"
        assert peercert(sock)["subjectAltName"] == LEAF_SAN
        assert sock.getpeercert(True) == leaf.certificate.public_bytes(serialization.Encoding.DER)
        sock.sendall(MB)
        assert recv_exactly(sock, 32) == hashlib.sha256(MB).digest()
        assert recv_exactly(sock, len(MB)) == MB
    server_side, cipher, version, shared, client_cert = server.result()
    assert server_side is True
    assert (cipher, version) == (CIPHER, "TLSv1.2")
    # Every suite the stdlib client offered that this server enables, in the server's order.
    assert shared == [(c["name"], "TLSv1.2", c["strength_bits"]) for c in ours_server.get_ciphers()]
    assert CIPHER in shared
    assert client_cert is None  # no client certificate was requested


def test_our_server_wraps_listening_socket(
    ours_server: tls12.SSLContext, stdlib_client: ssl.SSLContext
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    result: list[Any] = []

    def run(ssl_listener: Any) -> None:
        try:
            conn, address = ssl_listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                result.append((type(conn), address[0], conn.cipher()))
                echo(conn)
        except BaseException as exc:
            result.append(exc)

    with ours_server.wrap_socket(listener, server_side=True) as ssl_listener:
        port = ssl_listener.getsockname()[1]
        thread = threading.Thread(target=run, args=(ssl_listener,), daemon=True)
        thread.start()
        try:
            with connect(stdlib_client, port) as sock:
                sock.sendall(b"through a wrapped listener")
                assert recv_exactly(sock, 26) == b"through a wrapped listener"
        finally:
            thread.join(TIMEOUT)
    assert not thread.is_alive()
    (outcome,) = result
    assert not isinstance(outcome, BaseException), outcome
    conn_type, host, cipher = outcome
    assert issubclass(conn_type, socket.socket)
    assert conn_type is tls12.sslcompat.SSLSocket
    assert (host, cipher) == ("127.0.0.1", CIPHER)


# -- server SNI callback ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_test(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority) -> tuple[Path, Path, bytes]:
    issued = ca.issue(("other.test",))
    d = tmp_path_factory.mktemp("other")
    (d / "other.pem").write_bytes(issued.cert_pem())
    (d / "other.key").write_bytes(issued.key_pem())
    return d / "other.pem", d / "other.key", issued.certificate.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("requested", ["other.test", "localhost", "127.0.0.1"])
def test_sni_callback_switches_context(
    requested: str, ours_server: tls12.SSLContext, stdlib_client: ssl.SSLContext,
    other_test: tuple[Path, Path, bytes], leaf: IssuedCertificate, serve: ServeFn,
) -> None:
    other_cert, other_key, other_der = other_test
    second = tls12.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    second.load_cert_chain(other_cert, other_key)
    calls: list[tuple[Any, ...]] = []

    def callback(sslsock: Any, server_name: str | None, context: ssl.SSLContext) -> None:
        calls.append((server_name, context is ours_server, sslsock.server_side))
        if server_name == "other.test":
            sslsock.context = second

    ours_server.sni_callback = callback
    assert ours_server.sni_callback is callback

    def handler(sock: Any) -> Any:
        context = sock.context
        echo(sock)
        return context

    server = serve(ours_server, handler)
    with connect(stdlib_client, server.port, server_hostname=requested) as sock:
        der = sock.getpeercert(True)
        sock.sendall(b"sni")
        assert recv_exactly(sock, 3) == b"sni"
    expected_der = other_der if requested == "other.test" else leaf.certificate.public_bytes(serialization.Encoding.DER)
    assert der == expected_der
    assert calls == [(None if requested == "127.0.0.1" else requested, True, True)]
    assert server.result() is (second if requested == "other.test" else ours_server)


def test_sni_callback_alert_aborts_handshake(
    ours_server: tls12.SSLContext, stdlib_client: ssl.SSLContext, serve: ServeFn
) -> None:
    ours_server.sni_callback = lambda sslsock, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    server = serve(ours_server)
    with pytest.raises(ssl.SSLError) as info:
        connect(stdlib_client, server.port, server_hostname="unknown.test")
    assert "UNRECOGNIZED_NAME" in str(info.value.reason)
    assert isinstance(server.error(), ssl.SSLError)


# -- the socket before and after the handshake --------------------------------------------------------


def test_unconnected_socket_answers_as_stdlib(ours: tls12.SSLContext, pem_dir: Path) -> None:
    """A wrapped socket that is not connected yet: the stdlib answers None (or ENOTCONN)."""
    answers: dict[str, list[Any]] = {}
    for name, ctx in (("stdlib", stdlib_client_context(pem_dir)), ("tls12", ours)):
        with ctx.wrap_socket(socket.socket(), server_hostname="localhost") as sock:
            row: list[Any] = []
            for method in ("cipher", "version", "selected_alpn_protocol", "shared_ciphers", "compression",
                           "pending", "get_channel_binding", "getpeercert"):
                try:
                    row.append(getattr(sock, method)())
                except Exception as exc:
                    row.append(type(exc).__name__)
            answers[name] = row
    assert answers["stdlib"] == [None, None, None, None, None, 0, None, "OSError"]
    assert answers["tls12"] == answers["stdlib"]


def test_connect_after_wrapping_an_unconnected_socket(ours: tls12.SSLContext, pem_dir: Path, serve: ServeFn) -> None:
    server = serve(stdlib_server_context(pem_dir))
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(TIMEOUT)
    with ours.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.connect(("127.0.0.1", server.port))
        assert sock.cipher() == CIPHER
        sock.sendall(b"late connect")
        assert recv_exactly(sock, 12) == b"late connect"
    assert server.result() == b"late connect"


@pytest.mark.parametrize("impl", ["stdlib", "tls12"])
def test_failed_handshake_closes_the_socket(impl: str, pem_dir: Path, serve: ServeFn) -> None:
    """The stdlib closes the SSLSocket when wrap_socket()'s handshake fails: no fd is leaked."""
    ctx: ssl.SSLContext = tls12.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if impl == "tls12" else (
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # trusts nothing: verification fails
    server = serve(stdlib_server_context(pem_dir))
    gc.collect()  # earlier tests' garbage must not be blamed on this one
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(ctx, server.port)
        gc.collect()
    server.error()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
