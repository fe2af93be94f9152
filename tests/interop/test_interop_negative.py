"""What must fail, fails cleanly, against real peers.

- Botan's echo server selects the ALPN protocol "echo/0.1", which we never offered:
  our client refuses it (illegal_parameter) instead of carrying on.
- A server certificate for another name: our client refuses it (bad_certificate).
- A peer that only has suites we do not: a handshake_failure alert, both ways (our
  server sends it to their clients; their servers send it to our client), and
  no hang. The peer's only suite is ECDHE-RSA-AES128-SHA256: the key exchange and
  certificate of a suite we speak, but CBC records with HMAC-SHA256 (RFC 5246), which
  tls12 does not speak (AEAD suites only); so the refusal is about the suite alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_support import (
    ALL_SUITES,
    ECDHE_RSA_AES128_CBC_SHA256,
    LOOPBACK,
    ClientScript,
    EchoApp,
    Matrix,
    NetnsServer,
    Pki,
    Proc,
    SessionResult,
    free_port,
    our_server,
    require_tool,
    run,
    run_client,
    wait_listening,
)

PEER = "?"
pytestmark = pytest.mark.interop

NOT_OURS = ECDHE_RSA_AES128_CBC_SHA256
GNUTLS_NOT_OURS = "NONE:+VERS-TLS1.2:+ECDHE-RSA:+AES-128-CBC:+SHA256:+SIGN-ALL:+GROUP-ALL:+COMP-NULL:+CTYPE-X509"


def assert_offered_only_not_ours(r: SessionResult) -> None:
    """The client offered NOT_OURS and no suite tls12 speaks (so the refusal is the right answer)."""
    assert NOT_OURS.code in r.offered_suites, [hex(c) for c in r.offered_suites]
    assert not {s.code for s in ALL_SUITES} & set(r.offered_suites), [hex(c) for c in r.offered_suites]


def assert_refused(r: SessionResult, alert_sent: str | None = None, alert_received: str | None = None,
                   reason: str = "") -> None:
    assert not r.handshake, f"the handshake completed: {r}"
    assert r.error is not None and reason in r.error, r.error
    assert r.sent == r.received == 0
    if alert_sent is not None:
        assert r.alert_sent == alert_sent, r
    if alert_received is not None:
        assert r.alert_received == alert_received, r


# -- an ALPN protocol we did not offer ----------------------------------------------------------


def test_botan_selects_unoffered_alpn(pki: Pki, matrix: Matrix) -> None:
    require_tool("botan", "stdbuf")
    row = matrix.row("negative", "server selects ALPN echo/0.1 that we did not offer -> we refuse",
                     peer="botan")
    with NetnsServer(["stdbuf", "-oL", "botan", "tls_server", pki.leaf_pem, pki.leaf_key, "--port=4433"],
                     name="botan tls_server", inner_port=4433) as server:
        r = run_client(server.port, ClientScript(b"must not be sent\n"),
                       config=pki.client_config(alpn_protocols=("http/1.1",)))
    matrix.ours(row, r)
    assert_refused(r, alert_sent="illegal_parameter", reason="ALPN")
    assert "Alert: illegal_parameter" in server.text, server.text


# -- a certificate for another name -------------------------------------------------------------


def test_openssl_wrong_name(pki: Pki, matrix: Matrix) -> None:
    require_tool("openssl")
    row = matrix.row("negative", "server certificate for another name -> we refuse", peer="openssl")
    port = free_port()
    with Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", pki.other_pem,
               "-key", pki.other_key, "-rev", "-naccept", "1"], name="s_server", limit=60) as server:
        wait_listening(port, 15, server)
        r = run_client(port, ClientScript(b"must not be sent\n"), config=pki.client_config())
        server.wait(15)
    matrix.ours(row, r)
    assert_refused(r, alert_sent="bad_certificate")
    assert "alert bad certificate" in server.text, server.text


def test_gnutls_wrong_name(pki: Pki, matrix: Matrix) -> None:
    require_tool("gnutls-serv", "stdbuf")
    row = matrix.row("negative", "server certificate for another name -> we refuse", peer="gnutls")
    with NetnsServer(["stdbuf", "-oL", "gnutls-serv", "--echo", "-p", "4433", f"--x509certfile={pki.other_pem}",
                      f"--x509keyfile={pki.other_key}"], name="gnutls-serv", inner_port=4433) as server:
        r = run_client(server.port, ClientScript(b"must not be sent\n"), config=pki.client_config())
    matrix.ours(row, r)
    assert_refused(r, alert_sent="bad_certificate")


def test_go_wrong_name(pki: Pki, matrix: Matrix, go_peer: Path) -> None:
    row = matrix.row("negative", "server certificate for another name -> we refuse", peer="go")
    with Proc([go_peer, "server", "-cert", pki.other_pem, "-key", pki.other_key], name="gopeer server",
              limit=60) as server:
        port = int(server.wait_for(rb"LISTENING (\d+)", 15).group(1))
        r = run_client(port, ClientScript(b"must not be sent\n"), config=pki.client_config())
        rc = server.wait(15)
    matrix.ours(row, r)
    assert_refused(r, alert_sent="bad_certificate")
    assert rc == 1 and "bad certificate" in server.text, server.text


# -- only suites we do not have: handshake_failure, both ways -----------------------------------


def test_openssl_client_without_our_suite(pki: Pki, matrix: Matrix) -> None:
    require_tool("openssl")
    row = matrix.row("negative", f"client offers only {NOT_OURS.openssl} -> our server sends handshake_failure",
                     peer="openssl")
    with our_server(pki.server_config(), EchoApp) as server:
        rc, text = run(["openssl", "s_client", "-connect", f"{LOOPBACK}:{server.port}", "-servername", "localhost",
                        "-CAfile", pki.ca_pem, "-tls1_2", "-cipher", NOT_OURS.openssl], name="s_client", timeout=30,
                       stdin_data=b"")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_refused(r, alert_sent="handshake_failure")
    assert_offered_only_not_ours(r)
    assert rc != 0
    assert "alert handshake failure" in text, text


def test_gnutls_client_without_our_suite(pki: Pki, matrix: Matrix) -> None:
    require_tool("gnutls-cli")
    row = matrix.row("negative", f"client offers only {NOT_OURS.openssl} -> our server sends handshake_failure",
                     peer="gnutls")
    with our_server(pki.server_config(), EchoApp) as server:
        rc, text = run(["gnutls-cli", f"--x509cafile={pki.ca_pem}", "--sni-hostname=localhost",
                        f"--priority={GNUTLS_NOT_OURS}", "-p", str(server.port), LOOPBACK],
                       name="gnutls-cli", timeout=30, stdin_data=b"")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_refused(r, alert_sent="handshake_failure")
    assert_offered_only_not_ours(r)
    assert rc != 0
    assert "Received alert [40]: Handshake failed" in text, text


def test_openssl_server_without_our_suite(pki: Pki, matrix: Matrix) -> None:
    require_tool("openssl")
    row = matrix.row("negative", f"server has only {NOT_OURS.openssl} -> it sends handshake_failure to our client",
                     peer="openssl")
    port = free_port()
    with Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", pki.leaf_pem, "-key", pki.leaf_key,
               "-cipher", NOT_OURS.openssl, "-rev", "-naccept", "1"], name="s_server", limit=60) as server:
        wait_listening(port, 15, server)
        r = run_client(port, ClientScript(b"must not be sent\n"), config=pki.client_config())
        server.wait(15)
    matrix.ours(row, r)
    assert_refused(r, alert_received="handshake_failure")
    assert "no shared cipher" in server.text, server.text


def test_gnutls_server_without_our_suite(pki: Pki, matrix: Matrix) -> None:
    require_tool("gnutls-serv", "stdbuf")
    row = matrix.row("negative", f"server has only {NOT_OURS.openssl} -> it sends handshake_failure to our client",
                     peer="gnutls")
    with NetnsServer(["stdbuf", "-oL", "gnutls-serv", "--echo", "-p", "4433", f"--x509certfile={pki.leaf_pem}",
                      f"--x509keyfile={pki.leaf_key}", f"--priority={GNUTLS_NOT_OURS}"],
                     name="gnutls-serv", inner_port=4433) as server:
        r = run_client(server.port, ClientScript(b"must not be sent\n"), config=pki.client_config())
    matrix.ours(row, r)
    assert_refused(r, alert_received="handshake_failure")


def test_go_server_without_our_suite(pki: Pki, matrix: Matrix, go_peer: Path) -> None:
    row = matrix.row("negative", f"server has only {NOT_OURS.openssl} -> it sends handshake_failure",
                     peer="go")
    with Proc([go_peer, "server", "-cert", pki.leaf_pem, "-key", pki.leaf_key, "-suites", f"{NOT_OURS.code:04x}"],
              name="gopeer server", limit=60) as server:
        port = int(server.wait_for(rb"LISTENING (\d+)", 15).group(1))
        r = run_client(port, ClientScript(b"must not be sent\n"), config=pki.client_config())
        rc = server.wait(15)
    matrix.ours(row, r)
    assert_refused(r, alert_received="handshake_failure")
    assert rc == 1 and "FAIL handshake: tls: no cipher suite supported by both" in server.text, server.text
