"""`tls12.SSLContext` where the stdlib's HTTP clients and servers expect an `ssl.SSLContext`.

urllib.request and http.client with our client context against a stdlib HTTPS server and
against `openssl s_server -www`; http.server served through our server context and
fetched by the stdlib ssl module. Host name mismatches surface as the stdlib would have
them surface (URLError wrapping SSLCertVerificationError, or the error itself).

Everything listens on 127.0.0.1; handlers have socket timeouts, server threads are joined
and the openssl process is killed at teardown.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import http.server
import queue
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import tls12
from tls12.certs import CertificateAuthority

import sslcompat_support
from sslcompat_support import TIMEOUT, ours_server

SUITE = "ECDHE-RSA-AES256-GCM-SHA384"
BIG = (bytes(range(256)) * 1200)[:300_000]


class Handler(http.server.BaseHTTPRequestHandler):
    """GET answers with the path; POST with the SHA-256 of the body. HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Client-Port", str(self.client_address[1]))
        self.send_header("X-Cipher", str(self.connection.cipher()))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/big":
            self._reply(BIG)
        else:
            self._reply(f"GET {self.path}".encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(b"POST " + hashlib.sha256(body).hexdigest().encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def https_server(ctx: ssl.SSLContext) -> Iterator[int]:
    with sslcompat_support.https_server(ctx, Handler) as port:
        yield port


def stdlib_server(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


@pytest.fixture
def ours(pem_dir: Path) -> tls12.SSLContext:
    return tls12.create_default_context(cafile=pem_dir / "ca.pem")


@pytest.fixture
def stdlib_https(pem_dir: Path) -> Iterator[int]:
    with https_server(stdlib_server(pem_dir / "leaf.pem", pem_dir / "leaf.key")) as port:
        yield port


@pytest.fixture(scope="module")
def other_test(tmp_path_factory: pytest.TempPathFactory, ca: CertificateAuthority) -> tuple[Path, Path]:
    """A certificate from the session CA for "other.test" only."""
    issued = ca.issue(("other.test",))
    d = tmp_path_factory.mktemp("other")
    (d / "other.pem").write_bytes(issued.cert_pem())
    (d / "other.key").write_bytes(issued.key_pem())
    return d / "other.pem", d / "other.key"


# -- our client context against a stdlib HTTPS server --------------------------------------------


def test_urlopen_get_and_post(ours: tls12.SSLContext, stdlib_https: int) -> None:
    base = f"https://127.0.0.1:{stdlib_https}"
    with urllib.request.urlopen(f"{base}/hello?x=1", context=ours, timeout=TIMEOUT) as resp:
        assert resp.status == 200
        assert resp.read() == b"GET /hello?x=1"
    request = urllib.request.Request(f"{base}/submit", data=BIG, method="POST")
    with urllib.request.urlopen(request, context=ours, timeout=TIMEOUT) as resp:
        assert resp.read() == b"POST " + hashlib.sha256(BIG).hexdigest().encode()
    with urllib.request.urlopen(f"{base}/big", context=ours, timeout=TIMEOUT) as resp:
        assert resp.read() == BIG
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ours))
    with opener.open(f"{base}/opener", timeout=TIMEOUT) as resp:
        assert resp.read() == b"GET /opener"


def test_http_client_get_and_post(ours: tls12.SSLContext, stdlib_https: int) -> None:
    conn = http.client.HTTPSConnection("127.0.0.1", stdlib_https, context=ours, timeout=TIMEOUT)
    try:
        conn.request("GET", "/one")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"GET /one")
        port = resp.getheader("X-Client-Port")
        assert resp.getheader("X-Cipher") == str((SUITE, "TLSv1.2", 256))
        conn.request("POST", "/two", body=b"payload", headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        assert resp.read() == b"POST " + hashlib.sha256(b"payload").hexdigest().encode()
        assert resp.getheader("X-Client-Port") == port  # the same (kept-alive) connection
        assert conn.sock is not None and conn.sock.cipher() == (SUITE, "TLSv1.2", 256)
    finally:
        conn.close()


def test_urlopen_wrong_host_name(ours: tls12.SSLContext, other_test: tuple[Path, Path], pem_dir: Path) -> None:
    std_client = ssl.create_default_context(cafile=pem_dir / "ca.pem")
    with https_server(stdlib_server(*other_test)) as port:
        url = f"https://localhost:{port}/"
        with pytest.raises(urllib.error.URLError) as std_info:
            urllib.request.urlopen(url, context=std_client, timeout=TIMEOUT)
        with pytest.raises(urllib.error.URLError) as info:
            urllib.request.urlopen(url, context=ours, timeout=TIMEOUT)
    reason, std_reason = info.value.reason, std_info.value.reason
    assert isinstance(std_reason, ssl.SSLCertVerificationError)
    assert isinstance(reason, ssl.SSLCertVerificationError)
    assert reason.verify_code == std_reason.verify_code == 62
    assert reason.verify_message == std_reason.verify_message
    assert "localhost" in reason.verify_message


def test_http_client_wrong_host_name(ours: tls12.SSLContext, other_test: tuple[Path, Path]) -> None:
    with https_server(stdlib_server(*other_test)) as port:
        conn = http.client.HTTPSConnection("localhost", port, context=ours, timeout=TIMEOUT)
        try:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                conn.request("GET", "/")
        finally:
            conn.close()
    assert info.value.verify_code == 62
    # The right name for that certificate is accepted (connecting to 127.0.0.1 as other.test).
    with https_server(stdlib_server(*other_test)) as port:
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        with ours.wrap_socket(raw, server_hostname="other.test") as sock:
            cert = sock.getpeercert()
            assert cert is not None and cert["subjectAltName"] == (("DNS", "other.test"),)


# -- our client context against openssl s_server -www --------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def s_server(pem_dir: Path) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pem_dir / "leaf.pem"),
         "-key", str(pem_dir / "leaf.key"), "-www", "-tls1_2", "-cipher", SUITE],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    def read_lines() -> None:
        for line in proc.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    try:
        output: list[str] = []
        deadline = time.monotonic() + TIMEOUT
        while not any(line.startswith("ACCEPT") for line in output):
            assert proc.poll() is None, f"openssl s_server exited: {''.join(output)}"
            assert time.monotonic() < deadline, f"openssl s_server did not start: {''.join(output)}"
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=0.1))
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        reader.join(TIMEOUT)
        proc.stdout.close()
        assert not reader.is_alive()


def test_urlopen_against_openssl_s_server(ours: tls12.SSLContext, s_server: int) -> None:
    with urllib.request.urlopen(f"https://127.0.0.1:{s_server}/", context=ours, timeout=TIMEOUT) as resp:
        assert resp.status == 200
        page = resp.read().decode("latin-1")
    assert SUITE in page
    assert "TLSv1.2" in page


def test_http_client_against_openssl_s_server(ours: tls12.SSLContext, s_server: int) -> None:
    conn = http.client.HTTPSConnection("localhost", s_server, context=ours, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        page = resp.read().decode("latin-1")
    finally:
        conn.close()
    assert resp.status == 200
    assert f"Cipher is {SUITE}" in page


# -- http.server through our server context, fetched by the stdlib -------------------------------


@pytest.fixture
def our_https(pem_dir: Path) -> Iterator[int]:
    with https_server(ours_server(pem_dir)) as port:
        yield port


def test_our_https_server_with_urllib(our_https: int, pem_dir: Path) -> None:
    client = ssl.create_default_context(cafile=pem_dir / "ca.pem")
    base = f"https://127.0.0.1:{our_https}"
    for i in range(4):
        with urllib.request.urlopen(f"{base}/page/{i}", context=client, timeout=TIMEOUT) as resp:
            assert resp.status == 200
            assert resp.read() == f"GET /page/{i}".encode()
            assert resp.headers["X-Cipher"] == str((SUITE, "TLSv1.2", 256))
    request = urllib.request.Request(f"{base}/upload", data=BIG, method="POST")
    with urllib.request.urlopen(request, context=client, timeout=TIMEOUT) as resp:
        assert resp.read() == b"POST " + hashlib.sha256(BIG).hexdigest().encode()
    with urllib.request.urlopen(f"{base}/big", context=client, timeout=TIMEOUT) as resp:
        assert resp.read() == BIG


def test_our_https_server_keep_alive_with_http_client(our_https: int, pem_dir: Path) -> None:
    client = ssl.create_default_context(cafile=pem_dir / "ca.pem")
    conn = http.client.HTTPSConnection("localhost", our_https, context=client, timeout=TIMEOUT)
    try:
        ports = set()
        sockets = set()
        for i in range(5):
            if i % 2:
                conn.request("POST", f"/post/{i}", body=BIG[: 1000 * i])
                expected = b"POST " + hashlib.sha256(BIG[: 1000 * i]).hexdigest().encode()
            else:
                conn.request("GET", f"/get/{i}")
                expected = f"GET /get/{i}".encode()
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read() == expected
            assert not resp.will_close
            ports.add(resp.getheader("X-Client-Port"))
            sockets.add(id(conn.sock))
        assert len(ports) == 1 and len(sockets) == 1  # one TLS connection carried all five
        assert isinstance(conn.sock, ssl.SSLSocket)
        assert conn.sock.version() == "TLSv1.2"
        cert = conn.sock.getpeercert()
        assert cert is not None
        assert cert["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
    finally:
        conn.close()


def test_our_https_server_rejected_by_a_client_that_does_not_trust_it(our_https: int, pem_dir: Path) -> None:
    untrusting = ssl.create_default_context(cadata=CertificateAuthority("nobody").cert_pem().decode("ascii"))
    with pytest.raises(urllib.error.URLError) as info:
        urllib.request.urlopen(f"https://127.0.0.1:{our_https}/", context=untrusting, timeout=TIMEOUT)
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
    # The server survives a failed handshake and keeps serving.
    trusting = ssl.create_default_context(cafile=pem_dir / "ca.pem")
    with urllib.request.urlopen(f"https://127.0.0.1:{our_https}/after", context=trusting, timeout=TIMEOUT) as resp:
        assert resp.read() == b"GET /after"
