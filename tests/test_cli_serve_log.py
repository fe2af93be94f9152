"""The log of `tls12 serve`: what a client sends (a request line, ALPN names, bytes quoted in an error) is
escaped, so a client can neither drive the terminal (ESC sequences) nor forge log lines (CR, LF)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from cli_support import TIMEOUT, serve
from tls12.cli.output import printable

ESC = "\x1b"


def _client_context(ca: Path, alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _assert_no_raw_controls(log: str) -> None:
    assert ESC not in log, log
    assert "\r" not in log, log
    assert not any(line.startswith("FORGED") for line in log.splitlines()), log


def test_www_request_line_is_logged_escaped(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw, \
                _client_context(ca).wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /\x1b[31mred\rFORGED\xe9\x07 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 Bad Request")  # a CR inside the request line
        server.wait_for(rb"HTTP/1\.1\" 400")
        log = server.output()
    assert '"GET /\\x1b[31mred\\rFORGED\\xe9\\x07 HTTP/1.1" 400' in log, log
    _assert_no_raw_controls(log)
    assert log.isascii() and "\x07" not in log, log


def test_alpn_names_in_an_explanation_are_escaped(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with serve(tmp_path, "--echo", "--write-ca", str(ca), "--alpn", "http/1.1", "--explain", "text") as server:
        ctx = _client_context(ca, ["\x1b[31mred\nFORGED line", "http/1.1"])
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
            tls.sendall(b"ping")
            assert tls.recv(4) == b"ping"
        server.wait_for(rb"Step 8b  Finished \(server\)")
        server.wait_for(rb"ALPN http/1\.1")
        log = server.output()
    assert "\\x1b[31mred\\nFORGED line" in log, log
    _assert_no_raw_controls(log)


def test_plain_text_quoted_in_an_error_is_escaped(tmp_path: Path) -> None:
    with serve(tmp_path, "--echo") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /\x1b[31m\nFORGED HTTP/1.1\r\n\r\n")
            sock.settimeout(TIMEOUT)
            while sock.recv(65536):
                pass
        server.wait_for(rb" failed: ")
        log = server.output()
    assert "failed: the peer sent 'GET /\\x1b[31m\\nFORGE', plain text rather than a TLS record" in log, log
    _assert_no_raw_controls(log)


@pytest.mark.parametrize(("text", "shown"), [
    ("plain text, as is", "plain text, as is"),
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    ("line\nFORGED\rover", "line\\nFORGED\\rover"),
    ("tab\tbell\x07del\x7fnul\x00", "tab\\tbell\\x07del\\x7fnul\\x00"),
    ("c1 \x9b31m", "c1 \\x9b31m"),
    ("caf\xe9 \u202egnp.exe \U0001f600", "caf\\xe9 \\u202egnp.exe \\U0001f600"),
    ("already \\x1b escaped", "already \\x1b escaped"),
])
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(shown) == shown  # escaping twice changes nothing


def test_printable_keeps_symbols_when_asked() -> None:
    assert printable("client → server ✓ §7.4", unicode=True) == "client → server ✓ §7.4"
    assert printable("a\u202eb\x1bc\x85", unicode=True) == "a\\u202eb\\x1bc\\x85"
