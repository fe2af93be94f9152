"""Messages a newcomer can act on: a peer that is not TLS, an untrusted CA, a file that is not what an option
expects, a timeout (and in which phase); and help that does not point into the source tree."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import thread_server, tls12
from tls12 import ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.cli.main import main
from tls12.errors import UnexpectedMessage
from tls12.record.layer import HandshakeReassembler, RecordLayer

from helpers import stdlib_server_context

INTERNALS = ("Unable to load PEM", "MalformedFraming", "cryptography.io", "Errno", "Traceback", "InvalidData",
             "internal error")


# -- a peer that does not speak TLS ----------------------------------------------------------------------


def test_record_layer_names_plain_text_and_escapes_it() -> None:
    layer = RecordLayer(HandshakeReassembler(2**16))
    layer.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(UnexpectedMessage) as info:
        layer.next_record()
    assert "'HTTP/1.1 400 Bad'" in str(info.value)
    assert "plain-text port" in str(info.value)
    assert "unknown content type" not in str(info.value)

    layer = RecordLayer(HandshakeReassembler(2**16))
    layer.feed(b"GET /\x1b[31m\r\n\xff")
    with pytest.raises(UnexpectedMessage) as info:
        layer.next_record()
    message = str(info.value)
    assert "'GET /\\x1b[31m\\r\\n\\xff'" in message
    assert message.isascii() and message.isprintable()

    layer = RecordLayer(HandshakeReassembler(2**16))  # not text: the record's type is named as before
    layer.feed(b"\x63\x03\x03\x00\x01\x00")
    with pytest.raises(UnexpectedMessage, match="record of unknown content type 99"):
        layer.next_record()


def _plain_http(sock: socket.socket) -> None:
    sock.recv(65536)
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def test_connect_to_a_plain_http_port_says_so() -> None:
    with thread_server(_plain_http) as port:
        result = tls12("connect", f"127.0.0.1:{port}", "--insecure", "--timeout", "10")
    assert result.returncode == 1
    assert "the peer sent 'HTTP/1.1 400 Bad'" in result.stderr, result.stderr
    assert "is this a plain-text port" in result.stderr
    assert "unknown content type" not in result.stderr


# -- an untrusted CA -------------------------------------------------------------------------------------


@pytest.fixture
def stdlib_tls_server(pem_dir: Path) -> Iterator[int]:
    ctx = stdlib_server_context(pem_dir)

    def handshake(sock: socket.socket) -> None:
        with ctx.wrap_socket(sock, server_side=True) as tls:
            tls.recv(1)

    with thread_server(handshake) as port:
        yield port


def test_connect_unknown_ca_suggests_cafile(stdlib_tls_server: int) -> None:
    result = tls12("connect", f"127.0.0.1:{stdlib_tls_server}", "--servername", "localhost")
    assert result.returncode == 1
    assert "sent alert unknown_ca" in result.stderr
    assert "hint:" in result.stderr and "--cafile" in result.stderr, result.stderr


def test_connect_unknown_ca_with_the_wrong_cafile_says_so(stdlib_tls_server: int, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(CertificateAuthority("some other CA").cert_pem())
    result = tls12("connect", f"127.0.0.1:{stdlib_tls_server}", "--servername", "localhost", "--cafile", str(other))
    assert result.returncode == 1
    assert f"no CA certificate in {other} issued the server's chain" in result.stderr, result.stderr


# -- files that are not what an option expects -----------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority,
              leaf: IssuedCertificate) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.txt").write_text("just some text\n")
    (d / "empty.pem").write_bytes(b"")
    (d / "leaf.key").write_bytes(leaf.key_pem())
    (d / "leaf.pem").write_bytes(leaf.cert_pem())
    (d / "ca.der").write_bytes(ssl.PEM_cert_to_DER_cert(ca.cert_pem().decode()))
    (d / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    other = ca.issue(("localhost",))
    (d / "other.key").write_bytes(other.key_pem())
    (d / "encrypted.key").write_text(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n")
    return d


def _usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    for internal in INTERNALS:
        assert internal not in err, err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(("name", "expected"), [
    ("missing.pem", "no such file; expected PEM certificates"),
    (".", "is a directory; expected PEM certificates"),
    ("notes.txt", "not PEM (no -----BEGIN ...----- line); expected PEM certificates"),
    ("empty.pem", "not PEM"),
    ("ca.der", "looks like DER (binary), not PEM"),
    ("leaf.key", "holds PRIVATE KEY but no certificate; expected PEM certificates"),
    ("broken.pem", "a certificate in it is damaged"),
])
def test_connect_cafile_that_is_not_certificates(capsys: pytest.CaptureFixture[str], bad_files: Path, name: str,
                                                 expected: str) -> None:
    path = bad_files / name
    err = _usage_error(capsys, ["connect", "127.0.0.1:1", "--cafile", str(path)])
    assert err.startswith(f"tls12 connect: --cafile {path}: "), err
    assert expected in err, err


def test_explain_cafile_that_is_not_certificates(capsys: pytest.CaptureFixture[str], bad_files: Path) -> None:
    flows = Path(__file__).parent / "data" / "golden" / "x25519.txt"
    err = _usage_error(capsys, ["explain", str(flows), "--cafile", str(bad_files / "leaf.key")])
    assert f"--cafile {bad_files / 'leaf.key'}: holds PRIVATE KEY but no certificate" in err


@pytest.mark.parametrize("option", ["--keylog", "--output"])
def test_connect_output_file_in_a_missing_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    option: str) -> None:
    path = tmp_path / "no" / "such" / "dir" / "file"
    extra = ["--explain", "text"] if option == "--output" else []
    err = _usage_error(capsys, ["connect", "127.0.0.1:1", "--insecure", option, str(path), *extra])
    assert f"{option} {path}: the directory {path.parent} does not exist" in err


def test_connect_keylog_that_is_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = _usage_error(capsys, ["connect", "127.0.0.1:1", "--insecure", "--keylog", str(tmp_path)])
    assert f"--keylog {tmp_path}: is a directory" in err


@pytest.mark.parametrize(("args", "expected"), [
    (["--cert", "{d}/missing.pem"], "--cert {d}/missing.pem: no such file; expected PEM certificates"),
    (["--cert", "{d}/notes.txt"], "--cert {d}/notes.txt: not PEM"),
    (["--cert", "{d}/leaf.key"], "--cert {d}/leaf.key: holds PRIVATE KEY but no certificate"),
    (["--cert", "{d}/leaf.pem"],
     "--cert {d}/leaf.pem: holds CERTIFICATE but no private key; expected a PEM private key"),
    (["--cert", "{d}/leaf.pem", "--key", "{d}/leaf.pem"],
     "--key {d}/leaf.pem: holds CERTIFICATE but no private key; expected a PEM private key"),
    (["--cert", "{d}/leaf.pem", "--key", "{d}/ca.der"], "--key {d}/ca.der: looks like DER (binary), not PEM"),
    (["--cert", "{d}/leaf.pem", "--key", "{d}/encrypted.key"], "--key {d}/encrypted.key: the key is encrypted"),
    (["--cert", "{d}/leaf.pem", "--key", "{d}/other.key"],
     "--cert {d}/leaf.pem and --key {d}/other.key: the private key does not match the leaf certificate"),
    (["--keylog", "{d}/no/such/dir/keys.log"], "--keylog {d}/no/such/dir/keys.log: the directory {d}/no/such/dir "
                                                "does not exist"),
    (["--write-ca", "{d}/no/dir/ca.pem"], "--write-ca {d}/no/dir/ca.pem: the directory {d}/no/dir does not exist"),
    (["--explain", "html", "--explain-dir", "{d}/nowhere"], "--explain-dir {d}/nowhere: not a directory"),
])
def test_serve_files_that_are_not_what_the_option_expects(bad_files: Path, args: list[str], expected: str) -> None:
    # A process (with a timeout), not main(): a serve that does not refuse would serve until stopped.
    d = str(bad_files)
    result = tls12("serve", "--port", "0", *[a.format(d=d) for a in args], timeout=20)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(f"tls12 serve: {expected.format(d=d)}"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    for internal in INTERNALS:
        assert internal not in result.stderr, result.stderr


# -- timeouts say in which phase -------------------------------------------------------------------------


def test_timeout_while_connecting() -> None:
    # A listener that never accepts, its queue full: the kernel drops further SYNs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            time.sleep(0.2)
            result = tls12("connect", f"127.0.0.1:{port}", "--insecure", "--timeout", "1")
        finally:
            for filler in fillers:
                filler.close()
    assert result.returncode == 1
    assert f"timed out after 1 s connecting to 127.0.0.1:{port}" in result.stderr, result.stderr


def test_timeout_waiting_for_the_server_hello() -> None:
    def silent(sock: socket.socket) -> None:
        sock.recv(65536)
        time.sleep(3)

    with thread_server(silent) as port:
        result = tls12("connect", f"127.0.0.1:{port}", "--insecure", "--timeout", "1")
    assert result.returncode == 1
    assert "timed out after 1 s waiting for the ServerHello" in result.stderr, result.stderr


def test_timeout_during_the_handshake_after_the_server_hello(leaf: IssuedCertificate) -> None:
    def stalls_after_its_flight(sock: socket.socket) -> None:
        server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key))
        server.receive_data(sock.recv(65536))
        sock.sendall(server.data_to_send())  # ServerHello ... ServerHelloDone, and then nothing
        time.sleep(3)

    with thread_server(stalls_after_its_flight) as port:
        result = tls12("connect", f"127.0.0.1:{port}", "--insecure", "--timeout", "1")
    assert result.returncode == 1
    assert "timed out after 1 s during the handshake, after the ServerHello" in result.stderr, result.stderr


@pytest.mark.parametrize(("what", "phase"), [
    (["--http-get", "/"], "timed out after 1 s reading the response"),
    (["--send", "hello"], "timed out after 1 s waiting for the server to close after our close_notify"),
    ([], "timed out after 1 s waiting for the server to close after our close_notify"),
])
def test_timeout_after_the_handshake(pem_dir: Path, what: list[str], phase: str) -> None:
    ctx = stdlib_server_context(pem_dir)
    done = threading.Event()

    def handshakes_then_sits(sock: socket.socket) -> None:
        with ctx.wrap_socket(sock, server_side=True):
            done.wait(5)

    with thread_server(handshakes_then_sits) as port:
        result = tls12("connect", f"127.0.0.1:{port}", "--insecure", "--timeout", "1", *what)
        done.set()
    assert result.returncode == 1
    assert "Connected: TLSv1.2" in result.stdout
    assert phase in result.stderr, result.stderr
    assert "handshake" not in result.stderr


# -- help ------------------------------------------------------------------------------------------------


def test_explain_help_does_not_point_into_the_source_tree(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "flows file" in out
    assert "tests/" not in out and "golden" not in out, out
