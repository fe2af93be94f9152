"""A Let's-Encrypt-shaped chain served by `tls12 serve` to every client peer.

The chain: an ECDSA P-256 leaf, issued by an ECDSA P-384 intermediate, under an RSA root (as
Let's Encrypt issues today: E5/E6 under ISRG Root X1). `tls12 serve --cert chain.pem --key leaf.key`
sends the leaf and the intermediate; each client trusts the root only, so it must build the path
through the intermediate and verify an ECDSA signature made by an RSA-signed CA.

The suite is what `tls12 serve`'s defaults give for each client's default offer: the server's order
(Mozilla intermediate) wins, and its first suite an ECDSA key serves is ECDHE-ECDSA-AES128-GCM-SHA256,
unless the client lists a ChaCha20 suite first (Botan, tlslite-ng): then ECDHE-ECDSA-CHACHA20-POLY1305.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from interop_support import (
    BY_IANA,
    LOOPBACK,
    PEERS,
    Leaf,
    Matrix,
    Pki,
    Proc,
    Suite,
    drive_stdin_client,
    free_port,
    report_line,
    require_tool,
    run,
    wait_listening,
)

PEER = "?"
pytestmark = pytest.mark.interop

AES128 = BY_IANA["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
CHACHA20 = BY_IANA["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]
MESSAGE = b"hello through a Let's Encrypt shaped chain\n"
PAGE_MARK = "<h1>tls12 serve</h1>"


@contextlib.contextmanager
def tls12_serve(chain: Leaf, mode: str) -> Iterator[int]:
    port = free_port()
    with Proc([sys.executable, "-u", "-m", "tls12", "serve", "--port", str(port), "--cert", chain.cert_pem,
               "--key", chain.key_pem, mode], name=f"tls12 serve {mode}", limit=240) as proc:
        wait_listening(port, 30, proc)
        yield port


@pytest.fixture(scope="module")
def echo_port(letsencrypt_chain: Leaf) -> Iterator[int]:
    with tls12_serve(letsencrypt_chain, "--echo") as port:
        yield port


@pytest.fixture(scope="module")
def www_port(letsencrypt_chain: Leaf) -> Iterator[int]:
    with tls12_serve(letsencrypt_chain, "--www") as port:
        yield port


def row(matrix: Matrix, peer: str, suite: Suite) -> None:
    r = matrix.row("server", "Let's Encrypt shape: ECDSA P-256 leaf, ECDSA intermediate, RSA root "
                             "(tls12 serve)", peer=peer)
    r.details.update({"suite": suite.iana, "version": "TLSv1.2", "key_type": "ecdsa-p256",
                      "chain": "letsencrypt"})


def test_openssl(echo_port: int, pki: Pki, matrix: Matrix) -> None:
    require_tool("openssl")
    row(matrix, "openssl", AES128)
    rc, text = drive_stdin_client(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{echo_port}", "-servername", "localhost", "-CAfile",
         str(pki.ca_pem), "-verify_return_error", "-verify_hostname", "localhost"],
        name="s_client", message=MESSAGE, closed_first="peer")
    assert rc == 0, text
    assert "Verify return code: 0 (ok)" in text and f"Cipher    : {AES128.openssl}" in text, text
    assert "depth=1 O = tls12 throwaway, CN = tls12 interop E5 (ECDSA intermediate)" in text, text


def test_gnutls(echo_port: int, pki: Pki, matrix: Matrix) -> None:
    require_tool("gnutls-cli")
    row(matrix, "gnutls", AES128)
    rc, text = drive_stdin_client(
        ["gnutls-cli", f"--x509cafile={pki.ca_pem}", "--sni-hostname=localhost", "--verify-hostname=localhost",
         "-p", str(echo_port), LOOPBACK], name="gnutls-cli", message=MESSAGE, closed_first="peer")
    assert rc == 0 and "- Status: The certificate is trusted." in text, text
    assert "(TLS1.2-X.509)-(ECDHE-X25519)-(ECDSA-SHA256)-(AES-128-GCM)" in text, text


def test_botan(echo_port: int, pki: Pki, matrix: Matrix) -> None:
    require_tool("botan", "stdbuf")
    row(matrix, "botan", CHACHA20)
    rc, text = drive_stdin_client(
        ["stdbuf", "-oL", "botan", "tls_client", "localhost", f"--port={echo_port}", "--skip-system-cert-store",
         f"--trusted-cas={pki.ca_pem}"], name="botan tls_client", message=MESSAGE, closed_first="peer")
    assert rc == 0 and "Certificate validation status: Verified" in text, text
    assert f"using {CHACHA20.iana.removeprefix('TLS_')}" in text, text


def program(argv: list[str | Path], name: str, suite: Suite) -> None:
    rc, text = run(argv, name=name, timeout=90)
    assert rc == 0, text
    assert (report_line(text, "HANDSHAKE")["cipher"], report_line(text, "RESULT")["echo_ok"].lower()) == \
        (suite.iana, "true"), text


def test_go(echo_port: int, pki: Pki, matrix: Matrix, go_peer: Path) -> None:
    row(matrix, "go", AES128)
    program([go_peer, "client", "-port", str(echo_port), "-ca", pki.ca_pem, "-sni", "localhost",
             "-send", MESSAGE.decode()], "gopeer client", AES128)


def test_java(echo_port: int, pki: Pki, matrix: Matrix, java_classes: Path) -> None:
    row(matrix, "java", AES128)
    program(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", java_classes, "TlsPeer", "client",
             "-port", str(echo_port), "-ca", pki.ca_pem, "-sni", "localhost", "-send", MESSAGE.decode()],
            "TlsPeer client", AES128)


def test_tlslite(echo_port: int, pki: Pki, matrix: Matrix) -> None:
    row(matrix, "tlslite", CHACHA20)
    program([sys.executable, PEERS / "tlslite_peer.py", "client", "--port", str(echo_port), "--ca", pki.ca_pem,
             "--sni", "localhost", "--send", MESSAGE.decode()], "tlslite client", CHACHA20)


def test_curl(www_port: int, pki: Pki, matrix: Matrix, tmp_path: Path) -> None:
    require_tool("curl")
    row(matrix, "curl", AES128)
    page = tmp_path / "page.html"
    rc, text = run(["curl", "-sS", "-v", "--max-time", "20", "--cacert", pki.ca_pem, "--resolve",
                    f"localhost:{www_port}:127.0.0.1", "-o", page, f"https://localhost:{www_port}/"],
                   name="curl", timeout=30)
    assert rc == 0 and f"SSL connection using TLSv1.2 / {AES128.openssl}" in text, text
    assert "SSL certificate verify ok." in text and PAGE_MARK in page.read_text(), text


def test_nss(www_port: int, pki: Pki, matrix: Matrix, nss_client_db: Path, tmp_path: Path) -> None:
    require_tool("tstclnt")
    row(matrix, "nss", AES128)
    request = tmp_path / "request.txt"
    request.write_bytes(b"GET / HTTP/1.0\r\n\r\n")
    rc, text = run(["tstclnt", "-h", LOOPBACK, "-p", str(www_port), "-a", "localhost", "-d", f"sql:{nss_client_db}",
                    "-4", "-v", "-G", "-A", request], name="tstclnt", timeout=30)
    assert rc == 0 and "SSL version 3.3 using 128-bit AES-GCM" in text and PAGE_MARK in text, text


def test_chromium(www_port: int, matrix: Matrix, nss_client_db: Path, tmp_path: Path) -> None:
    require_tool("chromium")
    row(matrix, "chromium", AES128)
    home = tmp_path / "home"
    shutil.copytree(nss_client_db.parent.parent, home)
    rc, text = run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
                    "--host-resolver-rules=MAP localhost 127.0.0.1", "--dump-dom", f"https://localhost:{www_port}/"],
                   name="chromium", timeout=90, env={"HOME": str(home)})
    assert rc == 0 and "tls12 serve" in text and AES128.iana in text, text[-3000:]
