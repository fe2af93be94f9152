"""`tls12 connect` at the end of a connection: --http-get against servers that close without close_notify,
and --send against echo servers (it closes its side and exits, it does not wait for its timeout)."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import TIMEOUT, serve, tls12
from tls12.cli.http import response_framing

BODY = b"<html><body>" + b"the whole body. " * 200 + b"</body></html>\n"


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers by path with hand-written responses, then closes: the stdlib closes without close_notify."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.close_connection = True
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
        if self.path == "/length":
            self.wfile.write(f"{head}Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY)
        elif self.path == "/chunked":
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(BODY[i : i + 700]), BODY[i : i + 700])
                              for i in range(0, len(BODY), 700))
            self.wfile.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n")
        elif self.path == "/no-content":
            self.wfile.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        elif self.path == "/cut":
            self.wfile.write(f"{head}Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY[:1000])
        elif self.path == "/cut-chunked":
            self.wfile.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode()
                             + b"%x\r\n%s\r\n" % (len(BODY), BODY) + b"100\r\nonly part of the last chunk")
        elif self.path == "/until-close":
            self.wfile.write(f"{head}\r\n".encode() + BODY)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def https_server(pem_dir: Path) -> Iterator[int]:
    """Python's http.server over the stdlib ssl module on 127.0.0.1, as the http.server docs set it up."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def get(port: int, pem_dir: Path, path: str) -> subprocess.CompletedProcess[str]:
    return tls12("connect", f"127.0.0.1:{port}", "--servername", "localhost", "--cafile", str(pem_dir / "ca.pem"),
                 "--http-get", path, "--timeout", "10")


# -- item 21: complete by its framing, then a close without close_notify ---------------------------


@pytest.mark.parametrize("path", ["/length", "/chunked"])
def test_http_get_complete_response_then_close_without_close_notify_is_a_warning(pem_dir: Path, path: str) -> None:
    with https_server(pem_dir) as port:
        result = get(port, pem_dir, path)
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 200 OK\r\n" in result.stdout
    if path == "/length":
        assert result.stdout.endswith(BODY.decode())
    else:
        assert result.stdout.endswith("</body></html>\n\r\n0\r\n\r\n")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tls12 connect: warning: ") and "close_notify" in lines[0], lines


def test_http_get_no_content_response_is_complete_without_a_body(pem_dir: Path) -> None:
    with https_server(pem_dir) as port:
        result = get(port, pem_dir, "/no-content")
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 204 No Content\r\n" in result.stdout
    assert len(result.stderr.splitlines()) == 1 and "warning" in result.stderr, result.stderr


@pytest.mark.parametrize("path", ["/cut", "/cut-chunked"])
def test_http_get_body_cut_short_is_truncated(pem_dir: Path, path: str) -> None:
    with https_server(pem_dir) as port:
        result = get(port, pem_dir, path)
    assert result.returncode == 1, result.stdout
    assert "truncated" in result.stderr, result.stderr
    assert "warning" not in result.stderr
    # The handshake went well: nothing may say it failed.
    assert "handshake" not in result.stderr, result.stderr
    assert "Connected: TLSv1.2" in result.stdout


def test_http_get_response_delimited_only_by_the_close_may_be_truncated(pem_dir: Path) -> None:
    with https_server(pem_dir) as port:
        result = get(port, pem_dir, "/until-close")
    assert result.returncode == 1, result.stdout
    assert "may be truncated" in result.stderr and "Content-Length" in result.stderr, result.stderr
    assert "handshake" not in result.stderr, result.stderr


def test_http_get_against_a_server_that_closes_cleanly_prints_no_warning(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca)) as server:
        result = tls12("connect", f"127.0.0.1:{server.port}", "--servername", "localhost", "--cafile", str(ca),
                       "--http-get", "/")
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 200 OK" in result.stdout and "<h1>tls12 serve</h1>" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(("response", "state"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "complete"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell", "incomplete"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", "incomplete"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "complete"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", "incomplete"),
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", "complete"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "complete"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n", "complete"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTrailer: 1\r\n", "incomplete"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "incomplete"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "incomplete"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", "unframed"),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the close", "unframed"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "unframed"),
])
def test_response_framing(response: bytes, state: str) -> None:
    assert response_framing(response).state == state


# -- item 22: --send closes our side and exits once the peer has closed -----------------------------


def test_send_to_tls12_serve_echo_prints_the_echo_and_exits(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with serve(tmp_path, "--echo", "--write-ca", str(ca)) as server:
        for text in ["hello echo", "x" * 40000]:
            started = time.monotonic()
            result = tls12("connect", f"127.0.0.1:{server.port}", "--servername", "localhost", "--cafile", str(ca),
                           "--send", text, "--timeout", "8")
            elapsed = time.monotonic() - started
            assert result.returncode == 0, result.stderr
            assert result.stdout.endswith(text), result.stdout[-200:]
            assert result.stderr == ""
            assert elapsed < 6, f"took {elapsed:.1f} s: it waited for its timeout"


def test_send_to_openssl_s_server_rev_gets_the_answer_and_a_clean_close(tmp_path: Path, pem_dir: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is required for this test (CI installs it)"
    explanation = tmp_path / "explained.txt"
    # -rev answers each line reversed; it answers our close_notify with its own.
    proc = subprocess.Popen([openssl, "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-rev", "-naccept", "1",
                             "-cert", str(pem_dir / "leaf.pem"), "-key", str(pem_dir / "leaf.key")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        port = None
        deadline = time.monotonic() + TIMEOUT
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "openssl s_server exited before it listened"
            if line.startswith("ACCEPT 127.0.0.1:"):
                port = int(line.split(":")[1])
        assert port is not None
        started = time.monotonic()
        result = tls12("connect", f"127.0.0.1:{port}", "--servername", "localhost",
                       "--cafile", str(pem_dir / "ca.pem"), "--send", "hello there\n", "--timeout", "8",
                       "--explain", "text", "--output", str(explanation))
        elapsed = time.monotonic() - started
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()
    assert result.returncode == 0, result.stderr
    assert "ereht olleh" in result.stdout
    assert elapsed < 6, f"took {elapsed:.1f} s: it waited for its timeout"
    text = explanation.read_text(encoding="utf-8")
    assert "client → server   alert warning close_notify (0)" in text
    assert "server → client   alert warning close_notify (0)" in text
