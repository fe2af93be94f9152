"""curl (with OpenSSL, as Debian builds it) -> our server, over HTTP/1.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_support import (
    BY_IANA,
    HttpApp,
    Matrix,
    Pki,
    assert_ours,
    our_server,
    require_tool,
    run,
)

PEER = "curl"
pytestmark = pytest.mark.interop

MARKER = "served by tls12 to curl"
CURVES = {"x25519": "X25519", "secp256r1": "P-256", "secp384r1": "P-384"}
# curl offers OpenSSL's default list (AES-256-GCM first, no ChaCha20 first): our server's order wins,
# and our first suite an RSA key serves is ECDHE-RSA-AES128-GCM-SHA256.
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def curl(port: int, pki: Pki, out: Path, *extra: str) -> tuple[int, str]:
    require_tool("curl")
    return run(["curl", "-sS", "-v", "--max-time", "20", "--cacert", pki.ca_pem,
                "--resolve", f"localhost:{port}:127.0.0.1", "-o", out, *extra, f"https://localhost:{port}/"],
               name="curl", timeout=30)


@pytest.mark.parametrize("variant", ["default", "no-alpn", *sorted(CURVES)])
def test_curl(pki: Pki, matrix: Matrix, tmp_path: Path, variant: str) -> None:
    """curl's default offer is TLS 1.3 and 1.2 with ALPN h2 and http/1.1: we pick TLS 1.2 and http/1.1."""
    extra = {"default": [], "no-alpn": ["--no-alpn"]}.get(variant, ["--curves", CURVES.get(variant, "")])
    row = matrix.row("server", {"default": "default offer (ALPN h2, http/1.1)", "no-alpn": "no ALPN"}.get(
        variant, f"group {variant}"))
    body = tmp_path / "body.html"
    with our_server(pki.server_config(alpn_protocols=("http/1.1",)), lambda: HttpApp(MARKER)) as server:
        rc, text = curl(server.port, pki, body, *extra)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert rc == 0, text
    assert f"SSL connection using TLSv1.2 / {EXPECTED.openssl}" in text, text
    assert "SSL certificate verify ok." in text, text
    assert MARKER in body.read_text(), body.read_text()
    alpn = None if variant == "no-alpn" else "http/1.1"
    if alpn:
        assert "ALPN: server accepted http/1.1" in text, text
    assert_ours(r, suite=EXPECTED, alpn=alpn, group=variant if variant in CURVES else "x25519", closed_first="us")
    assert r.received_head.startswith(b"GET / HTTP/1.1\r\n")
