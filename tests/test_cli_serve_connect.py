"""The command line against real peers: `tls12 serve` and `tls12 connect` with curl, openssl and the ssl module.

Every server here is a real process listening on 127.0.0.1 on a port the OS
picked: `tls12 serve --port 0` (the port comes from its first line) or
`openssl s_server -accept 127.0.0.1:0` (from its ACCEPT line). A reader
thread collects each server's stdout so a test can wait for a line with a
timeout; every server is stopped (and if need be killed) at teardown, and
every client process runs with a timeout. openssl and curl are required:
when one is missing the tests fail, they do not skip.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import pytest

from tls12.certs import CertificateAuthority
from tls12.config import DEFAULT_CIPHER_SUITES
from tls12.crypto.suites import SUITES, Authentication

from helpers import STEPS

pytestmark = pytest.mark.interop

TIMEOUT = 15.0  # for each client process, each wait for a line, each socket operation

GROUPS = ("x25519", "secp256r1", "secp384r1")
HTTP_GET = b"GET / HTTP/1.0\r\n\r\n"
#: What `tls12 serve` (an RSA certificate, its default suites, its own order) chooses for a client
#: that offers every suite, as curl does: its first suite an RSA certificate serves. It is also what
#: `tls12 connect` gets from `openssl s_server` with an RSA certificate, which follows the client's order.
FIRST_RSA_SUITE = next(SUITES[s] for s in DEFAULT_CIPHER_SUITES
                       if SUITES[s].authentication is Authentication.RSA_SIGNATURE)
SUITE = FIRST_RSA_SUITE.openssl_name
IANA_SUITE = FIRST_RSA_SUITE.suite.name

KEYLOG_LINE = re.compile(r"CLIENT_RANDOM ([0-9a-f]{64}) ([0-9a-f]{96})")


# -- tools and processes -----------------------------------------------------------------------


def tool(name: str) -> str:
    """The path of a required peer program: missing means failing, not skipping."""
    path = shutil.which(name)
    assert path is not None, f"{name} is required for these tests (CI installs it) but is not on PATH"
    return path


def run(argv: Sequence[str], stdin: bytes = b"", timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run a client process to completion with a timeout; output decoded as UTF-8."""
    result = subprocess.run(list(argv), input=stdin, capture_output=True, timeout=timeout, check=False)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
                                       result.stderr.decode("utf-8", "replace"))


def tls12(*args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "tls12", *args])


class Proc:
    """A long-running server process whose stdout lines are collected by a reader thread."""

    def __init__(self, argv: Sequence[str], stderr_path: Path) -> None:
        self.argv = list(argv)
        self.stderr_path = stderr_path
        self._stderr: IO[bytes] = stderr_path.open("wb")
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=self._stderr)
        self.lines: list[str] = []
        self._eof = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        return f"{self.argv}\n--- stdout ---\n{self.output()}\n--- stderr ---\n{self.stderr()}"

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The first stdout line matching `pattern`, waiting for it up to `timeout` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    break
                self._cond.wait(remaining)
        why = "exited" if self._eof else f"printed nothing matching in {timeout:.0f} s"
        pytest.fail(f"waiting for {pattern!r}: the process {why}\n{self.describe()}")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = TIMEOUT) -> int:
        """Send `sig`, wait for the exit (failing the test if it hangs) and return the exit code."""
        self.popen.send_signal(sig)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running {timeout:.0f} s after {sig.name}\n{self.describe()}")
        self._reader.join(TIMEOUT)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._stderr.close()


class Served:
    def __init__(self, proc: Proc, port: int) -> None:
        self.proc = proc
        self.port = port


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[Sequence[str]], Proc]]:
    """Start server processes; every one of them is killed at teardown if still running."""
    procs: list[Proc] = []

    def start(argv: Sequence[str]) -> Proc:
        proc = Proc(argv, tmp_path / f"server{len(procs)}.stderr")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


@pytest.fixture
def serve(spawn: Callable[[Sequence[str]], Proc]) -> Callable[..., Served]:
    """`tls12 serve --port 0 ARGS...`, once it has said where it listens."""

    def start(*args: str) -> Served:
        proc = spawn([sys.executable, "-m", "tls12", "serve", "--port", "0", *args])
        match = proc.wait_for(r"^tls12 serve: listening on 127\.0\.0\.1:(\d+) \(")
        return Served(proc, int(match.group(1)))

    return start


@pytest.fixture
def s_server(spawn: Callable[[Sequence[str]], Proc], pem_dir: Path) -> Callable[..., Served]:
    """`openssl s_server -www -tls1_2` on 127.0.0.1 with leaf.pem (extra ARGS may override), once it accepts."""

    def start(*args: str) -> Served:
        proc = spawn([tool("openssl"), "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-www",
                      "-cert", str(pem_dir / "leaf.pem"), "-key", str(pem_dir / "leaf.key"), *args])
        match = proc.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)")
        port = int(match.group(1))
        # It says ACCEPT once it listens; make sure by connecting once (a bare TCP probe, no TLS).
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
            pass
        return Served(proc, port)

    return start


def curl(port: int, cafile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """curl https://localhost:PORT/ resolved to 127.0.0.1 (SNI localhost), headers included."""
    return run([tool("curl"), "-sS", "-i", "--noproxy", "*", "--max-time", str(int(TIMEOUT)),
                "--resolve", f"localhost:{port}:127.0.0.1", "--cacert", str(cafile), *extra,
                f"https://localhost:{port}/"])


def s_client(port: int, cafile: Path, *extra: str, stdin: bytes = HTTP_GET) -> subprocess.CompletedProcess[str]:
    """openssl s_client verifying against `cafile`, sending `stdin` and reading until the server closes."""
    return run([tool("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                "-CAfile", str(cafile), "-verify_return_error", "-ign_eof", *extra], stdin=stdin)


def page_field(page: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}:\s+(.*?)\s*$", page, re.MULTILINE)
    assert match is not None, f"no {name!r} row in the page:\n{page}"
    return match.group(1)


def keylog_lines(path: Path, timeout: float = 5.0) -> list[str]:
    """The non-comment lines of an NSS key log, waiting briefly for the first one to appear."""
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        if path.exists():
            text = path.read_text(encoding="ascii")
            lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, never listened, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def tls_client(port: int, cafile: Path) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(cafile))
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        return ctx.wrap_socket(sock, server_hostname="localhost")
    except BaseException:
        sock.close()
        raise


def recv_exactly(sock: ssl.SSLSocket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, f"connection closed after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


def handshake_lines(proc: Proc) -> list[str]:
    return [line for line in proc.output().splitlines() if " handshake ok: " in line]


def assert_steps_in_order(text: str) -> None:
    missing = [step for step in STEPS if step not in text]
    assert not missing, f"the explanation lacks {missing}:\n{text}"
    positions = [text.index(step) for step in STEPS]
    assert positions == sorted(positions), text


# -- 1. tls12 serve --www, fetched by curl and openssl s_client ------------------------------------


@pytest.mark.parametrize(("flag", "status_line"), [("--http1.1", "HTTP/1.1 200 OK"), ("--http1.0", "HTTP/1.0 200 OK")])
def test_serve_www_page_over_curl(serve: Callable[..., Served], tmp_path: Path, flag: str, status_line: str) -> None:
    ca_file = tmp_path / "ca.pem"
    server = serve("--www", "--write-ca", str(ca_file))
    assert "BEGIN CERTIFICATE" in ca_file.read_text(encoding="ascii")

    result = curl(server.port, ca_file, flag)
    assert result.returncode == 0, f"curl failed: {result.stderr}\n{server.proc.describe()}"
    page = result.stdout
    assert page.startswith(status_line + "\r\n"), page
    assert page_field(page, "Protocol") == "TLSv1.2"
    assert page_field(page, "Cipher suite") == f"{FIRST_RSA_SUITE.suite.name} ({FIRST_RSA_SUITE.openssl_name})"
    assert page_field(page, "Group") in GROUPS
    assert re.fullmatch(r"rsa_(pss_rsae|pkcs1)_sha(256|384|512)", page_field(page, "Signature scheme")), page
    assert page_field(page, "SNI") == "localhost"
    assert page_field(page, "Extended master secret") == "yes"
    assert page_field(page, "ALPN") == "(none)"  # curl offers h2 and http/1.1; serve has no --alpn
    # One log line for the connection.
    line = server.proc.wait_for(r"^127\.0\.0\.1:\d+ handshake ok: ").string
    assert f"{FIRST_RSA_SUITE.suite.name}, " in line
    assert "SNI localhost" in line
    assert "EMS yes" in line


def test_serve_www_page_over_openssl_s_client(serve: Callable[..., Served], tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    server = serve("--www", "--write-ca", str(ca_file))
    result = s_client(server.port, ca_file)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"
    out = result.stdout
    assert "Verification: OK" in out
    assert "Verify return code: 0 (ok)" in out
    assert f"New, TLSv1.2, Cipher is {SUITE}" in out
    assert "HTTP/1.0 200 OK\r\n" in out
    assert "<h1>tls12 serve</h1>" in out
    assert page_field(out, "Protocol") == "TLSv1.2"
    assert page_field(out, "SNI") == "localhost"
    assert page_field(out, "Extended master secret") == "yes"
    assert "Extended master secret: yes" in out.split("HTTP/1.0 200 OK")[0]  # s_client's own view too


def test_serve_www_uses_the_group_the_client_asks_for(serve: Callable[..., Served], tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    server = serve("--www", "--write-ca", str(ca_file))
    result = s_client(server.port, ca_file, "-groups", "P-384")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"
    assert "Server Temp Key: ECDH, secp384r1" in result.stdout
    assert page_field(result.stdout, "Group") == "secp384r1"
    assert ", secp384r1, " in server.proc.wait_for(r"handshake ok: ").string


def test_serve_www_negotiates_alpn(serve: Callable[..., Served], tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    server = serve("--www", "--write-ca", str(ca_file), "--alpn", "http/1.1")
    result = s_client(server.port, ca_file, "-alpn", "http/1.1")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"
    assert "ALPN protocol: http/1.1" in result.stdout
    assert page_field(result.stdout, "ALPN") == "http/1.1"
    assert "ALPN http/1.1" in server.proc.wait_for(r"handshake ok: ").string


# -- 2. tls12 serve --echo with the stdlib ssl module ---------------------------------------------


def test_serve_echo_messages_and_one_megabyte(serve: Callable[..., Served], pem_dir: Path) -> None:
    server = serve("--cert", str(pem_dir / "leaf.pem"), "--key", str(pem_dir / "leaf.key"), "--echo")
    with tls_client(server.port, pem_dir / "ca.pem") as sock:
        assert sock.version() == "TLSv1.2"
        assert sock.cipher()[0] == SUITE  # type: ignore[index]
        for message in [b"hello", b"x", "héllo wörld".encode(), bytes(range(256)) * 64, b"last one"]:
            sock.sendall(message)
            assert recv_exactly(sock, len(message)) == message

    # 1 MB, written all at once and read concurrently (full duplex, no lock-step).
    payload = bytes((i * 7 + i // 251) & 0xFF for i in range(1024 * 1024))

    async def echo_megabyte() -> bytes:
        ctx = ssl.create_default_context(cafile=str(pem_dir / "ca.pem"))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=ctx,
                                                       server_hostname="localhost")
        try:
            async def send() -> None:
                writer.write(payload)
                await writer.drain()

            _, echoed = await asyncio.gather(send(), reader.readexactly(len(payload)))
            return echoed
        finally:
            writer.close()
            await writer.wait_closed()

    echoed = asyncio.run(asyncio.wait_for(echo_megabyte(), TIMEOUT))
    assert len(echoed) == len(payload)
    assert echoed == payload

    assert server.proc.stop() == 0
    assert len(handshake_lines(server.proc)) == 2, server.proc.describe()


def test_serve_echo_many_clients_at_once(serve: Callable[..., Served], pem_dir: Path) -> None:
    server = serve("--cert", str(pem_dir / "leaf.pem"), "--key", str(pem_dir / "leaf.key"), "--echo")
    clients = 20
    start = threading.Barrier(clients)

    def client(n: int) -> list[bytes]:
        start.wait(TIMEOUT)
        received = []
        with tls_client(server.port, pem_dir / "ca.pem") as sock:
            for i in range(3):
                message = f"client {n} message {i} ".encode() * (n + 1) * 50
                sock.sendall(message)
                received.append(recv_exactly(sock, len(message)))
        return received

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, n) for n in range(clients)]
        results = [f.result(timeout=TIMEOUT * 2) for f in futures]
    for n, received in enumerate(results):
        assert received == [f"client {n} message {i} ".encode() * (n + 1) * 50 for i in range(3)]

    assert server.proc.stop() == 0
    assert len(handshake_lines(server.proc)) == clients, server.proc.describe()


# -- 3. serve --keylog agrees with OpenSSL's key log ----------------------------------------------


def test_serve_keylog_matches_openssl_s_client(serve: Callable[..., Served], tmp_path: Path) -> None:
    ca_file, ours, theirs = tmp_path / "ca.pem", tmp_path / "serve.keys", tmp_path / "s_client.keys"
    server = serve("--www", "--write-ca", str(ca_file), "--keylog", str(ours))
    result = s_client(server.port, ca_file, "-keylogfile", str(theirs))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"

    their_lines = keylog_lines(theirs)
    our_lines = keylog_lines(ours)
    assert len(their_lines) == 1, their_lines
    assert len(our_lines) == 1, our_lines
    assert KEYLOG_LINE.fullmatch(our_lines[0]), our_lines[0]
    assert our_lines[0] == their_lines[0]
    # The page's client random is the one in the key log.
    client_random = KEYLOG_LINE.fullmatch(our_lines[0]).group(1)  # type: ignore[union-attr]
    assert page_field(result.stdout, "Client random") == client_random


# -- 4. tls12 connect against openssl s_server ----------------------------------------------------


def test_connect_http_get_from_s_server(s_server: Callable[..., Served], pem_dir: Path) -> None:
    server = s_server()
    result = tls12("connect", f"127.0.0.1:{server.port}", "--cafile", str(pem_dir / "ca.pem"), "--http-get", "/")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"
    out = result.stdout
    assert out.startswith("Connected: TLSv1.2\n"), out
    assert re.search(rf"cipher suite:\s+{IANA_SUITE} \({SUITE}\)", out), out
    assert re.search(r"group:\s+(x25519|secp256r1|secp384r1)$", out, re.MULTILINE), out
    assert re.search(r"extended master secret: yes$", out, re.MULTILINE), out
    assert "Server certificate (verified, chain of 1)" in out
    subject = re.search(r"^\s+subject:\s+(.*)$", out, re.MULTILINE)
    assert subject is not None, out
    assert "CN=localhost" in subject.group(1).split(",")
    # s_server's -www page, which describes the connection from its side.
    assert "HTTP/1.0 200 ok" in out
    assert f"New, TLSv1.2, Cipher is {SUITE}" in out
    assert result.stderr == ""


def test_connect_keylog_matches_s_server(s_server: Callable[..., Served], pem_dir: Path, tmp_path: Path) -> None:
    ours, theirs = tmp_path / "connect.keys", tmp_path / "s_server.keys"
    server = s_server("-keylogfile", str(theirs))
    result = tls12("connect", f"127.0.0.1:{server.port}", "--cafile", str(pem_dir / "ca.pem"),
                   "--keylog", str(ours))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"
    our_lines = keylog_lines(ours)
    assert len(our_lines) == 1, our_lines
    assert KEYLOG_LINE.fullmatch(our_lines[0]), our_lines[0]
    assert keylog_lines(theirs) == our_lines


def test_connect_alpn_with_s_server(s_server: Callable[..., Served], pem_dir: Path) -> None:
    server = s_server("-alpn", "http/1.1")
    result = tls12("connect", f"127.0.0.1:{server.port}", "--cafile", str(pem_dir / "ca.pem"),
                   "--alpn", "h2,http/1.1", "--http-get", "/")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"
    assert re.search(r"ALPN:\s+http/1\.1$", result.stdout, re.MULTILINE), result.stdout
    assert f"New, TLSv1.2, Cipher is {SUITE}" in result.stdout


def test_connect_servername_against_an_ip(s_server: Callable[..., Served], pem_dir: Path, tmp_path: Path,
                                          ca: CertificateAuthority) -> None:
    # s_server's default certificate is only for other.example; it switches to leaf.pem (localhost)
    # only when the client's SNI says "localhost". Verification succeeding proves the SNI was sent.
    other = ca.issue(("other.example",))
    (tmp_path / "other.pem").write_bytes(other.cert_pem())
    (tmp_path / "other.key").write_bytes(other.key_pem())
    server = s_server("-cert", str(tmp_path / "other.pem"), "-key", str(tmp_path / "other.key"),
                      "-servername", "localhost",
                      "-cert2", str(pem_dir / "leaf.pem"), "-key2", str(pem_dir / "leaf.key"))
    result = tls12("connect", f"127.0.0.1:{server.port}", "--cafile", str(pem_dir / "ca.pem"),
                   "--servername", "localhost", "--http-get", "/")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.proc.describe()}"
    assert re.search(r"SNI sent:\s+localhost$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^\s+subject:\s+.*CN=localhost", result.stdout, re.MULTILINE), result.stdout
    assert f"New, TLSv1.2, Cipher is {SUITE}" in result.stdout


# -- 5. failures ------------------------------------------------------------------------------------


def test_connect_unknown_ca_fails_with_the_reason_and_the_alert(s_server: Callable[..., Served]) -> None:
    server = s_server()
    result = tls12("connect", f"127.0.0.1:{server.port}")  # the system store does not know our CA
    assert result.returncode != 0, result.stdout
    err = result.stderr
    assert "Connected:" not in result.stdout
    assert "unable to get local issuer certificate" in err or "unknown ca" in err.lower(), err
    assert "unknown_ca" in err, err
    assert "Traceback" not in err, err
    # The alert really went on the wire: s_server reports receiving it.
    deadline = time.monotonic() + 5
    while "alert unknown ca" not in server.proc.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "alert unknown ca" in server.proc.stderr(), server.proc.describe()


def test_connect_wrong_servername_fails_naming_the_mismatch(s_server: Callable[..., Served], pem_dir: Path) -> None:
    server = s_server()
    result = tls12("connect", f"127.0.0.1:{server.port}", "--cafile", str(pem_dir / "ca.pem"),
                   "--servername", "wrong.example")
    assert result.returncode != 0, result.stdout
    err = result.stderr
    assert "Traceback" not in err, err
    assert "Connected:" not in result.stdout
    # The message must tell the user that the name does not match (naming it, or saying "mismatch").
    assert "wrong.example" in err or "mismatch" in err.lower(), err


def test_connect_insecure_accepts_an_unknown_ca(s_server: Callable[..., Served]) -> None:
    server = s_server()
    result = tls12("connect", f"127.0.0.1:{server.port}", "--insecure", "--http-get", "/")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert result.stdout.startswith("Connected: TLSv1.2\n"), result.stdout
    assert "NOT verified" in result.stdout
    assert f"New, TLSv1.2, Cipher is {SUITE}" in result.stdout


def test_connect_to_a_closed_port_fails() -> None:
    result = tls12("connect", f"127.0.0.1:{closed_port()}", "--insecure")
    assert result.returncode != 0, result.stdout
    assert "refused" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_connect_bad_target_is_a_usage_error() -> None:
    result = tls12("connect", "nohostport")
    assert result.returncode == 2, f"{result.stdout}\n{result.stderr}"
    assert "HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr


# -- 6. stopping tls12 serve ----------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_cleanly_on_a_signal_right_after_it_says_it_listens(serve: Callable[..., Served],
                                                                       sig: signal.Signals) -> None:
    # Whoever started it (a supervisor, a script, this fixture) may stop it as soon as it has printed
    # its first line; the signal is sent at once, several times, so a window in which the server has
    # announced itself but cannot yet stop cleanly shows up.
    for _ in range(6):
        server = serve("--echo")
        code = server.proc.stop(sig)
        assert code == 0, server.proc.describe()
        assert server.proc.lines[-1] == "tls12 serve: stopped", server.proc.describe()
        assert "Traceback" not in server.proc.stderr(), server.proc.describe()


def test_serve_stops_on_sigint_with_a_tls_client_connected(serve: Callable[..., Served], pem_dir: Path) -> None:
    server = serve("--cert", str(pem_dir / "leaf.pem"), "--key", str(pem_dir / "leaf.key"), "--echo")
    with tls_client(server.port, pem_dir / "ca.pem") as sock:
        sock.sendall(b"still here")
        assert recv_exactly(sock, 10) == b"still here"
        assert server.proc.stop(signal.SIGINT) == 0, server.proc.describe()
        assert server.proc.lines[-1] == "tls12 serve: stopped", server.proc.describe()
        # The client learns that the connection is over (it does not hang).
        assert sock.recv(100) == b""
    assert "Traceback" not in server.proc.stderr()


def test_serve_stops_on_sigint_with_a_half_open_handshake(serve: Callable[..., Served]) -> None:
    server = serve("--echo")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x40")  # the start of a ClientHello record, and no more
        time.sleep(0.2)
        assert server.proc.stop(signal.SIGINT) == 0, server.proc.describe()
        assert server.proc.lines[-1] == "tls12 serve: stopped", server.proc.describe()
    assert "Traceback" not in server.proc.stderr()


# -- 7. --explain text -----------------------------------------------------------------------------


def test_serve_explain_prints_the_steps_when_a_client_connects(serve: Callable[..., Served],
                                                              pem_dir: Path) -> None:
    server = serve("--cert", str(pem_dir / "leaf.pem"), "--key", str(pem_dir / "leaf.key"), "--echo",
                   "--explain", "text")
    with tls_client(server.port, pem_dir / "ca.pem") as sock:
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
    server.proc.wait_for(r"handshake ok: ")
    assert server.proc.stop() == 0
    text = server.proc.output()
    assert_steps_in_order(text)
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xC030)" in text
    assert "\x1b[" not in text  # not a terminal: no colour


def test_connect_explain_prints_the_steps(s_server: Callable[..., Served], pem_dir: Path) -> None:
    server = s_server()
    result = tls12("connect", f"127.0.0.1:{server.port}", "--cafile", str(pem_dir / "ca.pem"),
                   "--explain", "text")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    text = result.stdout
    assert_steps_in_order(text)
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xC030)" in text
    assert "Connected: TLSv1.2" in text
    assert "\x1b[" not in text


def test_serve_explain_json_prints_one_object_per_connection(serve: Callable[..., Served], pem_dir: Path) -> None:
    server = serve("--cert", str(pem_dir / "leaf.pem"), "--key", str(pem_dir / "leaf.key"), "--echo",
                   "--explain", "json")
    for _ in range(2):
        with tls_client(server.port, pem_dir / "ca.pem") as sock:
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"
    assert server.proc.stop() == 0
    objects = [json.loads(line) for line in server.proc.output().splitlines() if line.startswith("{")]
    assert len(objects) == 2
    for obj in objects:
        assert obj["schema"] == "tls12.explain/1"
        titles = [step["title"] for step in obj["steps"]]
        assert titles[:6] == ["ClientHello", "ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone",
                              "ClientKeyExchange"]
    assert objects[0]["steps"][0]["fields"] != objects[1]["steps"][0]["fields"]  # two connections, two randoms


def test_serve_explain_html_writes_one_page_per_connection(serve: Callable[..., Served], pem_dir: Path,
                                                            tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    server = serve("--cert", str(pem_dir / "leaf.pem"), "--key", str(pem_dir / "leaf.key"), "--echo",
                   "--explain", "html", "--explain-dir", str(pages))
    with tls_client(server.port, pem_dir / "ca.pem") as sock:
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
    assert server.proc.stop() == 0
    (page,) = pages.glob("tls12-serve-1-127.0.0.1-*.html")
    assert f"explanation written to {page}" in server.proc.output()
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "ServerKeyExchange" in html and "http://" not in html
