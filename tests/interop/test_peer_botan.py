"""Botan against tls12: botan tls_client -> our server, our client -> botan tls_server.

Botan 2 speaks TLS 1.2 at most. Its tls_server echoes, and can only bind the wildcard
address, so it runs in a private network namespace behind a relay on 127.0.0.1. It
always selects the ALPN protocol "echo/0.1" when the client offers ALPN: that is a
negative test (test_interop_negative.py); here our client offers no ALPN to it.
Groups are forced with a policy file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_support import (
    BY_IANA,
    ClientScript,
    Matrix,
    NetnsServer,
    Pki,
    assert_ours,
    drive_stdin_client,
    echo_server_app,
    our_server,
    require_tool,
    run_client,
)

PEER = "botan"
pytestmark = pytest.mark.interop

MESSAGE = b"hello from botan tls_client\n"
GROUPS = ("x25519", "secp256r1", "secp384r1")
# Botan's default policy lists ChaCha20-Poly1305 first (then AES-256-GCM, AES-128-GCM). As a client it
# offers a ChaCha20 suite first: our server moves its ChaCha20 suites first (the mobile-client rule),
# and ECDHE-RSA-CHACHA20-POLY1305 is the first an RSA key serves. As a server it chooses by its own
# policy (server_uses_own_ciphersuite_preferences): ECDHE-RSA-CHACHA20-POLY1305 again.
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
SUITE = EXPECTED.iana.removeprefix("TLS_")  # Botan's spelling


def policy(tmp_path: Path, group: str) -> str:
    f = tmp_path / f"{group}.policy"
    f.write_text(f"groups = {group}\n")
    return f"--policy={f}"


def botan_client(port: int, pki: Pki, *extra: str) -> list[str]:
    # stdbuf: botan writes through C++ streams, fully buffered into a pipe otherwise.
    require_tool("botan", "stdbuf")
    return ["stdbuf", "-oL", "botan", "tls_client", "localhost", f"--port={port}", "--skip-system-cert-store",
            f"--trusted-cas={pki.ca_pem}", *extra]


def assert_client_ok(rc: int, text: str) -> None:
    assert rc == 0, text
    assert "Certificate validation status: Verified" in text, text
    assert f"Handshake complete, TLS v1.2 using {SUITE}" in text, text


# -- our server <- botan tls_client ------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["peer", "us"])
def test_client_default_offer(pki: Pki, matrix: Matrix, closed_first: str) -> None:
    row = matrix.row("server", f"default offer, {'client' if closed_first == 'peer' else 'server'} closes first")
    with our_server(pki.server_config(), echo_server_app(closed_first, MESSAGE)) as server:
        rc, text = drive_stdin_client(botan_client(server.port, pki), name="botan tls_client", message=MESSAGE,
                                      closed_first=closed_first)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_client_ok(rc, text)
    assert_ours(r, suite=EXPECTED, closed_first=closed_first)
    assert r.received_head == MESSAGE


@pytest.mark.parametrize("group", GROUPS)
def test_client_group(pki: Pki, matrix: Matrix, tmp_path: Path, group: str) -> None:
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config(), echo_server_app("peer", MESSAGE)) as server:
        rc, text = drive_stdin_client(botan_client(server.port, pki, policy(tmp_path, group)),
                                      name="botan tls_client", message=MESSAGE, closed_first="peer")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_client_ok(rc, text)
    assert_ours(r, suite=EXPECTED, group=group)


@pytest.mark.parametrize(("ours", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_client_alpn(pki: Pki, matrix: Matrix, ours: tuple[str, ...], expected: str) -> None:
    row = matrix.row("server", f"ALPN {expected}")
    with our_server(pki.server_config(alpn_protocols=ours), echo_server_app("peer", MESSAGE)) as server:
        rc, text = drive_stdin_client(botan_client(server.port, pki, "--next-protocols=h2,http/1.1"),
                                      name="botan tls_client", message=MESSAGE, closed_first="peer")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_client_ok(rc, text)
    assert f"Server choose protocol: {expected}" in text
    assert_ours(r, suite=EXPECTED, alpn=expected)


# -- our client -> botan tls_server (in its own network namespace) --------------------------------


def botan_server(pki: Pki, *extra: str) -> NetnsServer:
    require_tool("botan", "stdbuf")
    return NetnsServer(["stdbuf", "-oL", "botan", "tls_server", pki.leaf_pem, pki.leaf_key, "--port=4433", *extra],
                       name="botan tls_server", inner_port=4433)


LINE = b"hello from tls12\n"


def test_server_default(pki: Pki, matrix: Matrix) -> None:
    row = matrix.row("client", "default (echo server, no ALPN)")
    with botan_server(pki) as server:
        r = run_client(server.port, ClientScript(LINE), config=pki.client_config())
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, closed_first="us")
    assert r.received_head == LINE
    assert f"Handshake complete, TLS v1.2 using {SUITE}" in server.text
    assert "Alert: close_notify" in server.text


@pytest.mark.parametrize("group", GROUPS)
def test_server_group(pki: Pki, matrix: Matrix, tmp_path: Path, group: str) -> None:
    row = matrix.row("client", f"group {group}")
    with botan_server(pki, policy(tmp_path, group)) as server:
        r = run_client(server.port, ClientScript(LINE), config=pki.client_config())
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group)
