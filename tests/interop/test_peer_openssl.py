"""OpenSSL's command-line tools against tls12: s_client -> our server, our client -> s_server."""

from __future__ import annotations

import pytest
from interop_support import (
    BY_IANA,
    LOOPBACK,
    ClientScript,
    Matrix,
    Pki,
    Proc,
    assert_ours,
    drive_stdin_client,
    echo_server_app,
    free_port,
    our_server,
    require_tool,
    run_client,
    wait_listening,
)

PEER = "openssl"
pytestmark = pytest.mark.interop

MESSAGE = b"hello from openssl s_client\n"
# s_client's offer lists AES-256-GCM first (ECDHE-ECDSA-AES256-GCM-SHA384), no ChaCha20 first: our
# server's order wins, and our first suite an RSA key serves is ECDHE-RSA-AES128-GCM-SHA256.
# s_server takes the client's order (no -serverpref): again our first suite its RSA key serves.
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
# OpenSSL's group names, and how s_client reports the server's ephemeral key.
GROUPS = {"x25519": ("X25519", "X25519, 253 bits"),
          "secp256r1": ("P-256", "ECDH, prime256v1, 256 bits"),
          "secp384r1": ("P-384", "ECDH, secp384r1, 384 bits")}


def s_client(port: int, pki: Pki, *extra: str) -> list[str]:
    require_tool("openssl")
    return ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", "localhost",
            "-CAfile", str(pki.ca_pem), "-verify_return_error", "-verify_hostname", "localhost", *extra]


def assert_s_client_saw_our_suite(text: str) -> None:
    assert "Verify return code: 0 (ok)" in text, text
    assert "Protocol  : TLSv1.2" in text, text
    assert f"Cipher    : {EXPECTED.openssl}" in text, text


# -- our server <- s_client ---------------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["peer", "us"])
def test_s_client_default_offer(pki: Pki, matrix: Matrix, closed_first: str) -> None:
    """s_client's own default offer (TLS 1.3 and 1.2, many suites and groups): we pick TLS 1.2 and our suite."""
    row = matrix.row("server", f"default offer, {'client' if closed_first == 'peer' else 'server'} closes first")
    with our_server(pki.server_config(), echo_server_app(closed_first, MESSAGE)) as server:
        rc, text = drive_stdin_client(s_client(server.port, pki), name="s_client", message=MESSAGE,
                                      closed_first=closed_first)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert rc == 0, text
    assert_s_client_saw_our_suite(text)
    assert "Extended master secret: yes" in text
    assert_ours(r, suite=EXPECTED, group="x25519", closed_first=closed_first)
    assert r.received_head == MESSAGE and r.sent == len(MESSAGE)
    assert r.client_hello is not None and 0x0304 in r.client_hello.versions, "s_client offered TLS 1.3 too"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_s_client_group(pki: Pki, matrix: Matrix, group: str) -> None:
    ossl_name, temp_key = GROUPS[group]
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config(), echo_server_app("peer", MESSAGE)) as server:
        rc, text = drive_stdin_client(s_client(server.port, pki, "-groups", ossl_name), name="s_client",
                                      message=MESSAGE, closed_first="peer")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert rc == 0, text
    assert_s_client_saw_our_suite(text)
    assert f"Server Temp Key: {temp_key}" in text
    assert_ours(r, suite=EXPECTED, group=group)


@pytest.mark.parametrize(("ours", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_s_client_alpn(pki: Pki, matrix: Matrix, ours: tuple[str, ...], expected: str) -> None:
    row = matrix.row("server", f"ALPN {expected}")
    with our_server(pki.server_config(alpn_protocols=ours), echo_server_app("peer", MESSAGE)) as server:
        rc, text = drive_stdin_client(s_client(server.port, pki, "-alpn", "h2,http/1.1"), name="s_client",
                                      message=MESSAGE, closed_first="peer")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert rc == 0, text
    assert f"ALPN protocol: {expected}" in text
    assert_ours(r, suite=EXPECTED, alpn=expected)


# -- our client -> s_server ---------------------------------------------------------------------


def s_server(pki: Pki, port: int, *extra: str) -> Proc:
    """s_server -rev: echoes each line reversed; the line CLOSE makes it send close_notify."""
    require_tool("openssl")
    proc = Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", pki.leaf_pem,
                 "-key", pki.leaf_key, "-rev", "-naccept", "1", *extra], name="s_server", limit=60)
    try:
        wait_listening(port, 15, proc)
    except BaseException:
        proc.stop()
        raise
    return proc


LINE = b"hello from tls12\n"
REVERSED = b"21slt morf olleh\n"


@pytest.mark.parametrize("closed_first", ["us", "peer"])
def test_s_server_default(pki: Pki, matrix: Matrix, closed_first: str) -> None:
    """s_server's defaults (TLS 1.3 enabled): our ClientHello offers only TLS 1.2 and our suite."""
    row = matrix.row("client", f"default, {'client' if closed_first == 'us' else 'server'} closes first")
    port = free_port()
    with s_server(pki, port) as server:
        script = ClientScript(LINE, expect=len(REVERSED), close=closed_first,
                              then=b"CLOSE\n" if closed_first == "peer" else b"")
        r = run_client(port, script, config=pki.client_config())
        rc = server.wait(15)
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, closed_first=closed_first)
    assert r.received_head == REVERSED
    assert rc == 0, server.text
    assert "Protocol version: TLSv1.2" in server.text and f"Ciphersuite: {EXPECTED.openssl}" in server.text


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_s_server_group(pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("client", f"group {group}")
    port = free_port()
    with s_server(pki, port, "-groups", GROUPS[group][0]) as server:
        r = run_client(port, ClientScript(LINE, expect=len(REVERSED)), config=pki.client_config())
        server.wait(15)
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group)


@pytest.mark.parametrize(("offer", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_s_server_alpn(pki: Pki, matrix: Matrix, offer: tuple[str, ...], expected: str) -> None:
    row = matrix.row("client", f"ALPN {expected}")
    port = free_port()
    with s_server(pki, port, "-alpn", "h2,http/1.1") as server:
        r = run_client(port, ClientScript(LINE, expect=len(REVERSED)), config=pki.client_config(alpn_protocols=offer))
        server.wait(15)
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, alpn=expected)
