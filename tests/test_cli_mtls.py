"""Mutual TLS on the command line: `tls12 serve --verify-client/--optional/--write-client-cert` and
`tls12 connect --cert/--key`, against each other, openssl s_client and s_server, and curl.

Every server is a real process on 127.0.0.1 on a port the OS picks (`tls12 serve --port 0`, or
`openssl s_server -accept 127.0.0.1:0`), stopped when its test ends; every client runs with a
timeout. openssl and curl are required: when one is missing the tests fail, they do not skip.
"""

from __future__ import annotations

import datetime
import re
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cli_support import TIMEOUT, ServeProcess, serve, tls12
from tls12.certs import CertificateAuthority, IssuedCertificate

pytestmark = pytest.mark.interop

CLIENT_CA_NAME = "CN=tls12 test client CA,O=tls12 throwaway"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is required for these tests (CI installs it) but is not on PATH"
    return path


def run(argv: Sequence[str], stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), input=stdin, capture_output=True, timeout=TIMEOUT, check=False)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
                                       result.stderr.decode("utf-8", "replace"))


def field(text: str, name: str) -> str:
    """A row of the --www page (in what the client printed, after the page's <pre>)."""
    match = re.search(rf"^{re.escape(name)}:\s+(.*?)\s*$", text.split("<pre>", 1)[-1], re.MULTILINE)
    assert match is not None, f"no {name!r} row in:\n{text}"
    return match.group(1)


def _client_certificate(ca: CertificateAuthority, common_name: str, san: str) -> IssuedCertificate:
    """A clientAuth certificate whose subject CN is `common_name` exactly (whatever it holds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    assert isinstance(ca.private_key, rsa.RSAPrivateKey)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(ca.now - datetime.timedelta(days=1))
            .not_valid_after(ca.now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
                           critical=False)
            .sign(ca.private_key, hashes.SHA256()))
    return IssuedCertificate(cert, key, (cert,))


class Files:
    """A client CA and the certificates the tests present, on disk."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        ca = CertificateAuthority("tls12 test client CA")
        self.client_ca = self._write("client-ca.pem", ca.cert_pem())
        alice = ca.issue(("alice.example",), key_type="ecdsa", client=True)
        self.alice, self.alice_key = self._pair("alice", alice)
        stranger = CertificateAuthority("a CA nobody trusts").issue(("mallory.example",), client=True)
        self.stranger, self.stranger_key = self._pair("stranger", stranger)
        server_purpose = ca.issue(("server.example",), key_type="ecdsa")  # serverAuth only
        self.server_purpose, self.server_purpose_key = self._pair("server-purpose", server_purpose)
        forged = _client_certificate(ca, "evil\x1b[31m\nFORGED handshake ok", "evil.example")
        self.forged, self.forged_key = self._pair("forged", forged)

    def _write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def _pair(self, name: str, issued: IssuedCertificate) -> tuple[str, str]:
        return self._write(f"{name}.pem", issued.cert_pem()), self._write(f"{name}.key", issued.key_pem())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("mtls"))


@pytest.fixture
def mtls_server(tmp_path: Path, files: Files) -> Iterator[tuple[ServeProcess, str]]:
    """`tls12 serve --www --verify-client client-ca.pem` with its throwaway CA written to ca.pem."""
    ca = str(tmp_path / "ca.pem")
    with serve(tmp_path, "--www", "--write-ca", ca, "--verify-client", files.client_ca) as server:
        yield server, ca


def connect(port: int, ca: str, *args: str) -> subprocess.CompletedProcess[str]:
    return tls12("connect", f"localhost:{port}", "--cafile", ca, "--http-get", "/", *args)


def curl(port: int, ca: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([tool("curl"), "-sS", "--noproxy", "*", "--max-time", str(int(TIMEOUT)),
                "--resolve", f"localhost:{port}:127.0.0.1", "--cacert", ca, *args, f"https://localhost:{port}/"])


def s_client(port: int, ca: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([tool("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                "-CAfile", ca, "-verify_return_error", "-ign_eof", *args], stdin=b"GET / HTTP/1.0\r\n\r\n")


def log_line(server: ServeProcess, pattern: bytes) -> str:
    return server.wait_for(rb"(?m)^127\.0\.0\.1:\d+ " + pattern + rb".*$").group(0).decode("latin-1")


def assert_alice_on_the_page(page: str) -> None:
    assert field(page, "Client certificate") == "CN=alice.example,O=tls12 throwaway", page
    assert field(page, "Client issuer") == CLIENT_CA_NAME
    assert field(page, "Client names") == "DNS:alice.example"
    assert field(page, "Client key") == "ecdsa-p256"
    assert field(page, "Client verified") == f"yes (clientAuth), path of 2 certificates to {CLIENT_CA_NAME}"


# -- --verify-client against each client ----------------------------------------------------------------------


def test_verify_client_with_tls12_connect(mtls_server: tuple[ServeProcess, str], files: Files) -> None:
    server, ca = mtls_server
    assert f"client certificate required, issued by: {CLIENT_CA_NAME})" in server.output()
    result = connect(server.port, ca, "--cert", files.alice, "--key", files.alice_key)
    assert result.returncode == 0, result.stderr
    assert ("Client certificate: asked for (the server names 1 CA it accepts); sent ecdsa-p256 certificate for "
            "alice.example:") in result.stdout
    assert "  subject:  CN=alice.example,O=tls12 throwaway\n" in result.stdout
    assert_alice_on_the_page(result.stdout)
    line = log_line(server, rb"handshake ok: ")
    assert line.endswith(", client alice.example (DNS:alice.example)"), line


def test_verify_client_with_openssl_s_client(mtls_server: tuple[ServeProcess, str], files: Files) -> None:
    server, ca = mtls_server
    result = s_client(server.port, ca, "-cert", files.alice, "-key", files.alice_key)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.output()}"
    assert "Acceptable client certificate CA names\nO = tls12 throwaway, CN = tls12 test client CA" in result.stdout
    assert_alice_on_the_page(result.stdout)
    assert log_line(server, rb"handshake ok: ").endswith(", client alice.example (DNS:alice.example)")


def test_verify_client_with_curl(mtls_server: tuple[ServeProcess, str], files: Files) -> None:
    server, ca = mtls_server
    result = curl(server.port, ca, "--cert", files.alice, "--key", files.alice_key)
    assert result.returncode == 0, f"{result.stderr}\n{server.output()}"
    assert_alice_on_the_page(result.stdout)
    # Without one: refused, and the log says why.
    refused = curl(server.port, ca)
    assert refused.returncode != 0 and "alert handshake failure" in refused.stderr, refused.stderr
    line = log_line(server, rb"failed: ")
    assert "failed: no client certificate (handshake_failure sent): the client sent no certificate and one is " \
           "required" in line, line


def test_required_certificate_missing(mtls_server: tuple[ServeProcess, str]) -> None:
    server, ca = mtls_server
    result = connect(server.port, ca)
    assert result.returncode == 1, result.stdout
    assert "handshake failed: peer sent fatal alert handshake_failure" in result.stderr
    assert ("tls12 connect: the server requires a client certificate (handshake_failure after none was sent): "
            "pass --cert and --key") in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_certificate_from_another_ca_is_refused(mtls_server: tuple[ServeProcess, str], files: Files) -> None:
    server, ca = mtls_server
    result = connect(server.port, ca, "--cert", files.stranger, "--key", files.stranger_key)
    assert result.returncode == 1, result.stdout
    assert "handshake failed: peer sent fatal alert unknown_ca" in result.stderr, result.stderr
    assert (f"the server refused the client certificate (unknown_ca): --cert {files.stranger} "
            "(CN=mallory.example,O=tls12 throwaway): it does not trust the CA that issued it "
            "(CN=a CA nobody trusts,O=tls12 throwaway)") in result.stderr, result.stderr
    line = log_line(server, rb"failed: ")
    assert "failed: client certificate refused (unknown_ca sent): certificate verify failed: " in line, line
    assert "CN=a CA nobody trusts" in line
    # curl too is refused, and says so.
    refused = curl(server.port, ca, "--cert", files.stranger, "--key", files.stranger_key)
    assert refused.returncode != 0 and "alert unknown ca" in refused.stderr, refused.stderr


def test_certificate_not_for_client_authentication(mtls_server: tuple[ServeProcess, str], files: Files) -> None:
    server, ca = mtls_server
    result = connect(server.port, ca, "--cert", files.server_purpose, "--key", files.server_purpose_key)
    assert result.returncode == 1
    assert (f"warning: --cert {files.server_purpose} is not for client authentication (its extended key usage "
            "lacks clientAuth)") in result.stderr, result.stderr
    assert "the server refused the client certificate (unsupported_certificate)" in result.stderr, result.stderr
    line = log_line(server, rb"failed: ")
    assert "client certificate refused (unsupported_certificate sent)" in line, line


def test_the_log_escapes_the_client_identity(mtls_server: tuple[ServeProcess, str], files: Files) -> None:
    server, ca = mtls_server
    result = connect(server.port, ca, "--cert", files.forged, "--key", files.forged_key)
    assert result.returncode == 0, result.stderr
    line = log_line(server, rb"handshake ok: ")
    assert line.endswith(", client evil\\x1b[31m\\nFORGED handshake ok (DNS:evil.example)"), line
    assert "\x1b" not in server.output()
    assert len(re.findall("handshake ok", server.output())) == 2  # one line, the CN's words in it


# -- --optional ------------------------------------------------------------------------------------------------


def test_optional_with_and_without_a_certificate(tmp_path: Path, files: Files) -> None:
    ca = str(tmp_path / "ca.pem")
    with serve(tmp_path, "--www", "--write-ca", ca, "--verify-client", files.client_ca, "--optional") as server:
        assert "client certificate optional, issued by: " in server.output()
        anonymous = connect(server.port, ca)
        assert anonymous.returncode == 0, anonymous.stderr
        assert ("Client certificate: asked for (the server names 1 CA it accepts); none sent (no --cert): the "
                "server let us in without one") in anonymous.stdout
        assert field(anonymous.stdout, "Client certificate") == "no client certificate (asked for, optional)"
        assert log_line(server, rb"handshake ok: ").endswith(", no client certificate")

        alice = connect(server.port, ca, "--cert", files.alice, "--key", files.alice_key)
        assert alice.returncode == 0, alice.stderr
        assert_alice_on_the_page(alice.stdout)
        server.wait_for(rb"client alice\.example \(DNS:alice\.example\)")

        # A certificate that is sent must still verify.
        stranger = connect(server.port, ca, "--cert", files.stranger, "--key", files.stranger_key)
        assert stranger.returncode == 1 and "unknown_ca" in stranger.stderr, stranger.stderr


def test_without_client_authentication_nothing_is_asked(tmp_path: Path, files: Files) -> None:
    ca = str(tmp_path / "ca.pem")
    with serve(tmp_path, "--www", "--write-ca", ca) as server:
        result = connect(server.port, ca, "--cert", files.alice, "--key", files.alice_key)
        assert result.returncode == 0, result.stderr
        assert "Client certificate: not asked for by the server (--cert not sent)" in result.stdout
        assert field(result.stdout, "Client certificate") == "no client certificate (not asked for)"
        line = log_line(server, rb"handshake ok: ")
        assert "client" not in line.split("certificate rsa certificate for localhost")[1], line


# -- --write-client-cert ---------------------------------------------------------------------------------------


def test_write_client_cert_end_to_end(tmp_path: Path) -> None:
    ca, client = tmp_path / "ca.pem", tmp_path / "client.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca), "--write-client-cert", str(client)) as server:
        assert (f"client certificate for tls12-client written to {client}; client certificate required, issued "
                "by: CN=tls12 serve throwaway CA,O=tls12 throwaway)") in server.output()
        pem = client.read_text(encoding="ascii")
        assert pem.index("-----BEGIN CERTIFICATE-----") < pem.index("-----BEGIN PRIVATE KEY-----")
        assert stat.S_IMODE(client.stat().st_mode) == 0o600  # it holds a key
        leaf = x509.load_pem_x509_certificate(pem.encode("ascii"))
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]

        # The key is in the same file: --cert alone (tls12 connect, curl, openssl s_client), or as --key too.
        result = connect(server.port, str(ca), "--cert", str(client))
        assert result.returncode == 0, result.stderr
        assert "sent rsa certificate for tls12-client:" in result.stdout
        assert field(result.stdout, "Client certificate") == "CN=tls12-client,O=tls12 throwaway"
        assert field(result.stdout, "Client issuer") == "CN=tls12 serve throwaway CA,O=tls12 throwaway"
        assert field(result.stdout, "Client names") == "DNS:tls12-client"
        assert field(result.stdout, "Client key") == "rsa"
        assert field(result.stdout, "Client verified").startswith("yes (clientAuth), path of 2 certificates to ")
        assert log_line(server, rb"handshake ok: ").endswith(", client tls12-client (DNS:tls12-client)")

        by_curl = curl(server.port, str(ca), "--cert", str(client), "--key", str(client))
        assert by_curl.returncode == 0, by_curl.stderr
        assert field(by_curl.stdout, "Client certificate") == "CN=tls12-client,O=tls12 throwaway"
        by_openssl = s_client(server.port, str(ca), "-cert", str(client))
        assert by_openssl.returncode == 0, by_openssl.stderr
        assert field(by_openssl.stdout, "Client certificate") == "CN=tls12-client,O=tls12 throwaway"

        # Without it: refused.
        refused = connect(server.port, str(ca))
        assert refused.returncode == 1 and "pass --cert and --key" in refused.stderr, refused.stderr


def test_write_client_cert_with_verify_client_trusts_both(tmp_path: Path, files: Files) -> None:
    ca, client = tmp_path / "ca.pem", tmp_path / "client.pem"
    with serve(tmp_path, "--www", "--write-ca", str(ca), "--write-client-cert", str(client),
               "--verify-client", files.client_ca) as server:
        assert (f"issued by: {CLIENT_CA_NAME}; CN=tls12 serve throwaway CA,O=tls12 throwaway)"
                in server.output()), server.output()
        ours = connect(server.port, str(ca), "--cert", str(client))
        assert ours.returncode == 0, ours.stderr
        assert "(the server names 2 CAs it accepts)" in ours.stdout
        theirs = connect(server.port, str(ca), "--cert", files.alice, "--key", files.alice_key)
        assert theirs.returncode == 0, theirs.stderr
        assert_alice_on_the_page(theirs.stdout)


# -- tls12 connect --cert against openssl s_server ---------------------------------------------------------------


class SServer:
    """`openssl s_server -www -Verify 1` on 127.0.0.1:0 with the client CA; stopped by the test."""

    def __init__(self, pem_dir: Path, client_ca: str, stderr: Path) -> None:
        self.stderr = stderr.open("wb")
        self.popen = subprocess.Popen(
            [tool("openssl"), "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-www", "-cert",
             str(pem_dir / "leaf.pem"), "-key", str(pem_dir / "leaf.key"), "-Verify", "1", "-verify_return_error",
             "-CAfile", client_ca], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.lines: list[str] = []
        found = threading.Event()

        def read() -> None:
            assert self.popen.stdout is not None
            for raw in self.popen.stdout:
                self.lines.append(raw.decode("utf-8", "replace"))
                if raw.startswith(b"ACCEPT "):
                    found.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        assert found.wait(TIMEOUT), f"openssl s_server did not start: {self.lines}"
        match = re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", next(line for line in self.lines if line.startswith("ACCEPT")))
        assert match is not None
        self.port = int(match.group(1))

    def stop(self) -> None:
        self.popen.kill()
        self.popen.wait(TIMEOUT)
        self.reader.join(TIMEOUT)
        self.stderr.close()


def test_connect_cert_against_openssl_s_server(pem_dir: Path, files: Files, tmp_path: Path) -> None:
    server = SServer(pem_dir, files.client_ca, tmp_path / "s_server.stderr")
    try:
        ca = str(pem_dir / "ca.pem")
        result = tls12("connect", f"localhost:{server.port}", "--cafile", ca, "--cert", files.alice,
                       "--key", files.alice_key)
        assert result.returncode == 0, result.stderr
        assert ("Client certificate: asked for (the server names 1 CA it accepts); sent ecdsa-p256 certificate "
                "for alice.example:") in result.stdout
        missing = tls12("connect", f"localhost:{server.port}", "--cafile", ca)
        assert missing.returncode == 1
        assert "the server requires a client certificate (handshake_failure after none was sent): pass --cert " \
               "and --key" in missing.stderr, missing.stderr
        stranger = tls12("connect", f"localhost:{server.port}", "--cafile", ca, "--cert", files.stranger,
                         "--key", files.stranger_key)
        assert stranger.returncode == 1
        assert "the server refused the client certificate (unknown_ca)" in stranger.stderr, stranger.stderr
    finally:
        server.stop()


# -- what is refused before anything starts ------------------------------------------------------------------


def _usage_error(*args: str) -> str:
    result = tls12(*args, timeout=20)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_usage_errors(files: Files, tmp_path: Path) -> None:
    assert "--optional goes with --verify-client CAFILE" in _usage_error("serve", "--port", "0", "--optional")
    assert "--write-client-cert is for the throwaway CA" in _usage_error(
        "serve", "--port", "0", "--cert", files.alice, "--key", files.alice_key,
        "--write-client-cert", str(tmp_path / "c.pem"))
    assert f"--verify-client {files.alice_key}: holds PRIVATE KEY but no certificate" in _usage_error(
        "serve", "--port", "0", "--verify-client", files.alice_key)
    assert "--key needs --cert" in _usage_error("connect", "127.0.0.1:1", "--key", files.alice_key)
    assert (f"--cert {files.alice} and --key {files.stranger_key}: the private key does not match the leaf "
            "certificate") in _usage_error("connect", "127.0.0.1:1", "--cert", files.alice, "--key", files.stranger_key)
    assert f"--cert {files.alice}: holds CERTIFICATE but no private key" in _usage_error(
        "connect", "127.0.0.1:1", "--cert", files.alice)
    assert "the directory" in _usage_error("serve", "--port", "0", "--write-client-cert",
                                           str(tmp_path / "missing" / "c.pem"))
