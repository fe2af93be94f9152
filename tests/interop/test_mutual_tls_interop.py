"""Mutual TLS with real peers, both roles, through the sans-I/O core (issue 12).

Client certificates come from a client CA of their own (`client_pki`): an RSA, an ECDSA P-256 and an
Ed25519 leaf with the clientAuth purpose, and a stranger's from a CA nobody here trusts.

- Our server (`client_auth="required"`, trusting the client CA only) <- each peer's client with a client
  certificate: our side asserts that the chain it received is the peer's and that the path it verified
  runs from that leaf to the client CA, and the application data came back.
- Our client (`client_credentials`) -> each peer's server asking for a certificate: the peer reports the
  identity it verified; with no credential the peer refuses, and our client raises `AlertReceivedError`
  with the alert that peer sends.
- Negative: a peer client with the stranger's certificate gets unknown_ca from our server, a peer client
  with none gets handshake_failure, and each peer says so.

Key types: every peer does RSA and ECDSA; Ed25519 with OpenSSL, curl, GnuTLS, Java and Go. NSS has no
Ed25519 in TLS, and Botan 2 has none in TLS 1.2 (as for server certificates: README, "Left out, and
why"): their CertificateRequest lists no ed25519 scheme, so our client holding only an Ed25519
credential sends them an empty Certificate (tested below); NSS's pk12util cannot even import an
Ed25519 key for tstclnt (SEC_ERROR_PKCS12_UNABLE_TO_IMPORT_KEY).

Botan's command-line tool cannot do mutual TLS: `botan tls_client` has no option for a client
certificate (its credentials manager has none), and `botan tls_server` asks for one only with the
policy `request_client_certificate_authentication = true`, and then trusts no CA for it ("Certificate
validation failure: Certificate issuer not found", bad_certificate, to every client certificate).
So Botan runs as `peers/botanpeer.cpp`, a small client / echo server on the same Botan 2 library,
built with g++ against libbotan-2-dev.

What a peer server sends when a client it requires a certificate of sends none (TLS 1.2): OpenSSL and
Botan handshake_failure; NSS, JSSE and Go bad_certificate; GnuTLS 3.7 decode_error (it says "No
certificate was found" and sends the same alert to gnutls-cli and to openssl s_client).

Peers that choose their certificate by the CA names of our CertificateRequest (JSSE's key manager,
Go's crypto/tls) send none when theirs is not from a CA we name: that is their no-certificate case
below. For the stranger's certificate to reach our server at all, its test turns the names off
(`client_ca_names=False`); OpenSSL, GnuTLS, NSS, curl and botanpeer send their certificate either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from interop_support import (
    BY_IANA,
    LOOPBACK,
    App,
    ClientPki,
    ClientScript,
    Ctx,
    EchoApp,
    HttpApp,
    Leaf,
    Matrix,
    NetnsServer,
    Proc,
    SessionResult,
    Suite,
    assert_client_verified,
    assert_ours,
    common_name,
    drive_stdin_client,
    finish_peer_server,
    free_port,
    labelled,
    our_server,
    report_line,
    require_tool,
    run,
    run_client,
    start_peer_server,
    wait_listening,
)

PEER = "?"
pytestmark = pytest.mark.interop

MESSAGE = b"hello from a client with a certificate\n"
AES128_RSA = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
AES256_RSA = BY_IANA["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
CHACHA_RSA = BY_IANA["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
ALL_KEYS = ("rsa", "ecdsa-p256", "ed25519")
NO_ED25519 = ("rsa", "ecdsa-p256")


# -- the peers' clients, each with a client certificate (or none) ---------------------------------------
#
# `ok` says whether the handshake should succeed: then the client sends MESSAGE and reads the echo;
# otherwise it runs to its (failing) end. Each returns the client's exit status and output.


def cert_args(leaf: Leaf | None, cert: str = "-cert", key: str = "-key") -> list[str | Path]:
    return [] if leaf is None else [cert, leaf.cert_pem, key, leaf.key_pem]


def openssl_client(c: Ctx, port: int, leaf: Leaf | None, ok: bool) -> tuple[int, str]:
    require_tool("openssl")
    argv = ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", "localhost",
            "-CAfile", c.pki.ca_pem, "-verify_return_error", *cert_args(leaf)]
    if ok:
        return drive_stdin_client(argv, name="s_client", message=MESSAGE, closed_first="peer")
    return run(argv, name="s_client", timeout=30, stdin_data=b"")


def gnutls_client(c: Ctx, port: int, leaf: Leaf | None, ok: bool) -> tuple[int, str]:
    require_tool("gnutls-cli")
    argv: list[str | Path] = ["gnutls-cli", f"--x509cafile={c.pki.ca_pem}", "--sni-hostname=localhost",
                              "--verify-hostname=localhost", "-p", str(port), LOOPBACK]
    if leaf is not None:
        argv[1:1] = [f"--x509certfile={leaf.cert_pem}", f"--x509keyfile={leaf.key_pem}"]
    if ok:
        return drive_stdin_client(argv, name="gnutls-cli", message=MESSAGE, closed_first="peer")
    return run(argv, name="gnutls-cli", timeout=30, stdin_data=b"")


def nss_client(c: Ctx, port: int, leaf: Leaf | None, ok: bool) -> tuple[int, str]:
    """tstclnt with the client certificate of nickname client-<key type> (or the stranger's); with none, a
    database without client certificates (given a database with some, tstclnt picks one by itself)."""
    require_tool("tstclnt")
    request = c.tmp_path / "request.txt"
    request.write_bytes(MESSAGE)
    if leaf is None:
        db, nick = c.fixture("nss_client_db"), []
    else:
        name = "stranger" if leaf is c.client_pki.stranger else f"client-{leaf.key_type}"
        db, nick = c.fixture("nss_mtls_client_db"), ["-n", name]
    return run(["tstclnt", "-h", LOOPBACK, "-p", str(port), "-a", "localhost", "-d", f"sql:{db}", "-4",
                "-v", "-A", request, *nick], name="tstclnt", timeout=30)


def java_cmd(c: Ctx) -> list[str | Path]:
    require_tool("java")
    return ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", c.fixture("java_classes"), "TlsPeer"]


def java_client(c: Ctx, port: int, leaf: Leaf | None, ok: bool) -> tuple[int, str]:
    return run([*java_cmd(c), "client", "-port", str(port), "-ca", c.pki.ca_pem, "-sni", "localhost",
                "-send", MESSAGE.decode(), *cert_args(leaf)], name="TlsPeer client", timeout=60)


def go_client(c: Ctx, port: int, leaf: Leaf | None, ok: bool) -> tuple[int, str]:
    return run([c.fixture("go_peer"), "client", "-port", str(port), "-ca", c.pki.ca_pem, "-sni", "localhost",
                "-send", MESSAGE.decode(), *cert_args(leaf)], name="gopeer client", timeout=60)


def botan_client(c: Ctx, port: int, leaf: Leaf | None, ok: bool) -> tuple[int, str]:
    return run([c.fixture("botan_peer"), "client", "-port", str(port), "-ca", c.pki.ca_pem, "-sni", "localhost",
                "-send", MESSAGE.decode(), *cert_args(leaf)], name="botanpeer client", timeout=60)


def curl_client(c: Ctx, port: int, leaf: Leaf | None, ok: bool) -> tuple[int, str]:
    require_tool("curl")
    return run(["curl", "-sS", "-v", "--max-time", "20", "--cacert", c.pki.ca_pem,
                "--resolve", f"localhost:{port}:127.0.0.1", "-o", c.tmp_path / "body.html",
                *cert_args(leaf, "--cert", "--key"), f"https://localhost:{port}/"], name="curl", timeout=30)


@dataclass(frozen=True)
class PeerClient:
    run: Callable[[Ctx, int, Leaf | None, bool], tuple[int, str]]
    app: Callable[[], App]  # our server's application for it
    suite: Suite  # what our server chooses from its offer
    closed_first: str  # who sends close_notify first on a good connection
    unknown_ca: str  # how it reports our unknown_ca alert
    handshake_failure: str  # how it reports our handshake_failure alert
    reports_ok: Callable[[str, Leaf], None]  # what its own output says of a good mutual handshake


def reports_echo(text: str, leaf: Leaf) -> None:
    """gopeer, TlsPeer and botanpeer: TLS 1.2, and the echo came back intact."""
    assert report_line(text, "HANDSHAKE")["version"] == "TLSv1.2", text
    assert report_line(text, "RESULT")["echo_ok"] == "true", text


def s_client_ok(text: str, leaf: Leaf) -> None:
    # s_client lists the CA names of our CertificateRequest; it sends its certificate regardless.
    assert "Acceptable client certificate CA names\nO = tls12 throwaway, CN = tls12 interop client CA\n" in text, text
    assert "Verify return code: 0 (ok)" in text and "Protocol  : TLSv1.2" in text, text


def gnutls_cli_ok(text: str, leaf: Leaf) -> None:
    assert "- Successfully sent 1 certificate(s) to server." in text, text
    assert "- Handshake was completed" in text and "(TLS1.2-X.509)" in text, text


def tstclnt_ok(text: str, leaf: Leaf) -> None:
    assert "SSL version 3.3" in text and MESSAGE.decode().strip() in text, text


def curl_ok(text: str, leaf: Leaf) -> None:
    assert "TLS handshake, Request CERT (13)" in text and "TLS handshake, CERT verify (15)" in text, text
    assert f"SSL connection using TLSv1.2 / {AES128_RSA.openssl}" in text, text


PEER_CLIENTS: dict[str, PeerClient] = {
    # s_client, gnutls-cli, curl (OpenSSL), tstclnt, JSSE and Go list AES-GCM first: our order wins,
    # ECDHE-RSA-AES128-GCM-SHA256 (as in each test_peer_*.py). Botan lists ChaCha20 first: ours moves first.
    "openssl": PeerClient(openssl_client, EchoApp, AES128_RSA, "peer", "alert unknown ca",
                          "alert handshake failure", s_client_ok),
    "gnutls": PeerClient(gnutls_client, EchoApp, AES128_RSA, "peer", "Received alert [48]: CA is unknown",
                         "Received alert [40]: Handshake failed", gnutls_cli_ok),
    # tstclnt cannot close first: our server does, once the echo is out.
    "nss": PeerClient(nss_client, lambda: EchoApp(close_after=len(MESSAGE)), AES128_RSA, "us",
                      "SSL_ERROR_UNKNOWN_CA_ALERT", "SSL_ERROR_HANDSHAKE_FAILURE_ALERT", tstclnt_ok),
    "java": PeerClient(java_client, EchoApp, AES128_RSA, "peer", "Received fatal alert: unknown_ca",
                       "Received fatal alert: handshake_failure", reports_echo),
    "go": PeerClient(go_client, EchoApp, AES128_RSA, "peer", "remote error: tls: unknown certificate authority",
                     "remote error: tls: handshake failure", reports_echo),
    "botan": PeerClient(botan_client, EchoApp, CHACHA_RSA, "peer", "ALERT unknown_ca", "ALERT handshake_failure",
                        reports_echo),
    "curl": PeerClient(curl_client, lambda: HttpApp("served to a client with a certificate"), AES128_RSA, "us",
                       "alert unknown ca", "alert handshake failure", curl_ok),
}
CLIENT_KEYS = {"openssl": ALL_KEYS, "gnutls": ALL_KEYS, "nss": NO_ED25519, "java": ALL_KEYS, "go": ALL_KEYS,
               "botan": NO_ED25519, "curl": ALL_KEYS}


# -- our server <- each peer's client, with a client certificate ---------------------------------------


@pytest.mark.parametrize(("peer", "key_type"), [(p, k) for p, keys in CLIENT_KEYS.items() for k in keys])
def test_peer_client_certificate_verified_by_our_server(ctx: Ctx, client_pki: ClientPki, matrix: Matrix,
                                                        peer: str, key_type: str) -> None:
    spec, leaf = PEER_CLIENTS[peer], client_pki.leaves[key_type]
    row = matrix.row("server", labelled(peer, f"mutual TLS: {key_type} client certificate, required and verified"),
                     peer=peer)
    with our_server(client_pki.server_config(ctx.pki), spec.app) as server:
        rc, text = spec.run(ctx, server.port, leaf, True)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    row.details["client_certificate"] = common_name(leaf)
    assert rc == 0, text
    assert_client_verified(r, leaf, client_pki)
    assert_ours(r, suite=spec.suite, closed_first=spec.closed_first)
    if peer == "curl":
        assert r.received_head.startswith(b"GET / HTTP/1.1\r\n"), r.received_head
    else:
        assert r.received_head == MESSAGE and r.sent == len(MESSAGE)
    spec.reports_ok(text, leaf)


# -- negative: a certificate from another CA, and none -------------------------------------------------


def assert_our_server_refused(r: SessionResult, alert: str) -> None:
    assert not r.handshake, f"the handshake completed: {r}"
    assert r.alert_sent == alert, r
    assert r.peer_chain == () and r.verified_chain == ()
    assert r.sent == r.received == 0


@pytest.mark.parametrize("peer", list(PEER_CLIENTS))
def test_peer_client_certificate_from_another_ca(ctx: Ctx, client_pki: ClientPki, matrix: Matrix,
                                                 peer: str) -> None:
    """The stranger's certificate: our server sends unknown_ca, and the peer reports it. (Our server names
    no CA here, so that JSSE and Go, which choose by the names, send the certificate at all.)"""
    spec = PEER_CLIENTS[peer]
    row = matrix.row("negative", labelled(peer, "client certificate from another CA -> our server sends unknown_ca"),
                     peer=peer)
    with our_server(client_pki.server_config(ctx.pki, client_ca_names=False), spec.app) as server:
        rc, text = spec.run(ctx, server.port, client_pki.stranger, False)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_our_server_refused(r, "unknown_ca")
    assert r.error is not None and "another client CA" in r.error, r.error
    assert rc != 0, text
    assert spec.unknown_ca in text, text


@pytest.mark.parametrize("peer", list(PEER_CLIENTS))
def test_peer_client_without_certificate(ctx: Ctx, client_pki: ClientPki, matrix: Matrix, peer: str) -> None:
    """No client certificate to a server that requires one: handshake_failure (RFC 5246 §7.4.6)."""
    spec = PEER_CLIENTS[peer]
    row = matrix.row("negative", labelled(peer, "client sends no certificate -> our server (required) sends "
                                                "handshake_failure"), peer=peer)
    with our_server(client_pki.server_config(ctx.pki), spec.app) as server:
        rc, text = spec.run(ctx, server.port, None, False)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_our_server_refused(r, "handshake_failure")
    assert rc != 0, text
    assert spec.handshake_failure in text, text


@pytest.mark.parametrize("peer", ["java", "go"])
def test_peer_client_keeps_a_certificate_our_server_does_not_name(ctx: Ctx, client_pki: ClientPki, matrix: Matrix,
                                                                  peer: str) -> None:
    """JSSE and Go read the CA names of our CertificateRequest: holding only the stranger's certificate,
    they send an empty Certificate, and our server (required) sends handshake_failure."""
    spec = PEER_CLIENTS[peer]
    row = matrix.row("negative", labelled(peer, "client holds only a certificate from a CA our server does not "
                                                "name -> it sends none, handshake_failure"), peer=peer)
    with our_server(client_pki.server_config(ctx.pki), spec.app) as server:
        rc, text = spec.run(ctx, server.port, client_pki.stranger, False)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_our_server_refused(r, "handshake_failure")
    assert rc != 0 and spec.handshake_failure in text, text


# -- our client -> each peer's server, which requires a client certificate --------------------------------


LINE = b"hello from tls12 with a certificate\n"
REVERSED = LINE[:-1][::-1] + b"\n"
HTTP_REQUEST = b"GET / HTTP/1.0\r\n\r\n"


@dataclass
class Served:
    """One connection of our client to a peer server: our result, and the server's output once it ended."""

    r: SessionResult
    text: str


def openssl_server(c: Ctx, leaf: Leaf | None) -> Served:
    require_tool("openssl")
    port = free_port()
    with Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key,
               "-rev", "-naccept", "1", "-Verify", "1", "-CAfile", c.client_pki.ca_pem, "-verify_return_error"],
              name="s_server", limit=60) as server:
        wait_listening(port, 15, server)
        r = run_client(port, ClientScript(LINE, expect=len(REVERSED)), config=c.client_pki.client_config(
            c.pki, *([leaf] if leaf else [])))
        server.wait(15)
    return Served(r, server.text)


def gnutls_server(c: Ctx, leaf: Leaf | None) -> Served:
    require_tool("gnutls-serv", "stdbuf")
    with NetnsServer(["stdbuf", "-oL", "gnutls-serv", "--echo", "-p", "4433", f"--x509certfile={c.pki.leaf_pem}",
                      f"--x509keyfile={c.pki.leaf_key}", "--require-client-cert", "--verify-client-cert",
                      f"--x509cafile={c.client_pki.ca_pem}"], name="gnutls-serv", inner_port=4433) as server:
        r = run_client(server.port, ClientScript(LINE), config=c.client_pki.client_config(
            c.pki, *([leaf] if leaf else [])))
        # Its verdict is in its output once it has taken our line, or failed.
        server.server.wait_for("Processing|Error in handshake", 10)
    return Served(r, server.text)


def nss_server(c: Ctx, leaf: Leaf | None) -> Served:
    """selfserv -r -r: ask for a client certificate on the first handshake, and require it."""
    require_tool("selfserv", "stdbuf")
    db = c.fixture("nss_mtls_server_db")
    with NetnsServer(["stdbuf", "-oL", "selfserv", "-p", "4433", "-d", f"sql:{db}", "-n", "server", "-v", "-G",
                      "-r", "-r"], name="selfserv", inner_port=4433) as server:
        r = run_client(server.port, ClientScript(HTTP_REQUEST, expect=1, close="peer"),
                       config=c.client_pki.client_config(c.pki, *([leaf] if leaf else [])))
        server.server.wait_for("SSL version 3.3|PR_Read returned error", 10)
    return Served(r, server.text)


def reporting_server(argv: list[str | Path], name: str, c: Ctx, leaf: Leaf | None, suite: Suite) -> Served:
    """gopeer, TlsPeer or botanpeer as a server: one connection; on success it must exit 0 having
    negotiated `suite`."""
    proc, port = start_peer_server(argv, name=name, ready=30)
    with proc:
        r = run_client(port, ClientScript(LINE), config=c.client_pki.client_config(c.pki, *([leaf] if leaf else [])))
        if r.handshake:
            finish_peer_server(proc, suite=suite)
        else:
            assert proc.wait(15) == 1, proc.text
    return Served(r, proc.text)


def java_server(c: Ctx, leaf: Leaf | None) -> Served:
    return reporting_server([*java_cmd(c), "server", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key, "-client-ca",
                             c.client_pki.ca_pem], "TlsPeer server", c, leaf, AES256_RSA)


def go_server(c: Ctx, leaf: Leaf | None) -> Served:
    return reporting_server([c.fixture("go_peer"), "server", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key,
                             "-client-ca", c.client_pki.ca_pem], "gopeer server", c, leaf, AES128_RSA)


def botan_server(c: Ctx, leaf: Leaf | None) -> Served:
    return reporting_server([c.fixture("botan_peer"), "server", "-cert", c.pki.leaf_pem, "-key", c.pki.leaf_key,
                             "-client-ca", c.client_pki.ca_pem], "botanpeer server", c, leaf, CHACHA_RSA)


@dataclass(frozen=True)
class PeerServer:
    serve: Callable[[Ctx, Leaf | None], Served]
    suite: Suite  # what it chooses from our offer
    closed_first: str  # who sends close_notify first
    received: bytes  # what our client receives
    verified: Callable[[str, Leaf], None]  # its output names the client it verified
    no_certificate: tuple[str, str]  # the alert it sends when we send no certificate, and what it says


def s_server_verified(text: str, leaf: Leaf) -> None:
    assert f"Peer certificate: O = tls12 throwaway, CN = {common_name(leaf)}\n" in text, text
    assert "Verification: OK" in text and "Protocol version: TLSv1.2" in text, text


def gnutls_serv_verified(text: str, leaf: Leaf) -> None:
    assert "- Status: The certificate is trusted." in text, text
    assert f"Subject: CN={common_name(leaf)},O=tls12 throwaway\n" in text, text
    assert "- Version: TLS1.2" in text and "- Client Signature: " in text, text


def selfserv_verified(text: str, leaf: Leaf) -> None:
    assert f"selfserv: Subject: CN={common_name(leaf)},O=tls12 throwaway\n" in text, text
    assert "selfserv: Issuer : CN=tls12 interop client CA,O=tls12 throwaway\n" in text, text
    assert "-- SSL3: Certificate Validated." in text and "SSL version 3.3" in text, text


def reported_peer(text: str, leaf: Leaf) -> None:
    """gopeer and botanpeer say whether their library verified a chain; JSSE's needClientAuth only completes
    a handshake after its trust manager has."""
    hs = report_line(text, "HANDSHAKE")
    assert hs["peer"] == common_name(leaf), text
    assert hs.get("peer_verified", "true") == "true", text


PEER_SERVERS: dict[str, PeerServer] = {
    "openssl": PeerServer(openssl_server, AES128_RSA, "us", REVERSED, s_server_verified,
                          ("handshake_failure", "peer did not return a certificate")),
    "gnutls": PeerServer(gnutls_server, AES128_RSA, "us", LINE, gnutls_serv_verified,
                         ("decode_error", "Error in handshake: No certificate was found.")),
    "nss": PeerServer(nss_server, AES128_RSA, "peer", b"HTTP/1.0 200 OK\r\n", selfserv_verified,
                      ("bad_certificate", "Unable to find the certificate or key necessary for authentication")),
    "java": PeerServer(java_server, AES256_RSA, "us", LINE, reported_peer,
                       ("bad_certificate", "Empty client certificate chain")),
    "go": PeerServer(go_server, AES128_RSA, "us", LINE, reported_peer,
                     ("bad_certificate", "tls: client didn't provide a certificate")),
    "botan": PeerServer(botan_server, CHACHA_RSA, "us", LINE, reported_peer,
                        ("handshake_failure", "Policy requires client send a certificate, but it did not")),
}
SERVER_KEYS = {"openssl": ALL_KEYS, "gnutls": ALL_KEYS, "nss": NO_ED25519, "java": ALL_KEYS, "go": ALL_KEYS,
               "botan": NO_ED25519}


@pytest.mark.parametrize(("peer", "key_type"), [(p, k) for p, keys in SERVER_KEYS.items() for k in keys])
def test_our_client_certificate_verified_by_peer_server(ctx: Ctx, client_pki: ClientPki, matrix: Matrix,
                                                        peer: str, key_type: str) -> None:
    spec, leaf = PEER_SERVERS[peer], client_pki.leaves[key_type]
    row = matrix.row("client", labelled(peer, f"mutual TLS: our {key_type} client certificate, required and "
                                              "verified"), peer=peer)
    served = spec.serve(ctx, leaf)
    matrix.ours(row, served.r)
    row.details["client_certificate"] = common_name(leaf)
    assert_ours(served.r, suite=spec.suite, closed_first=spec.closed_first)
    assert served.r.received_head.startswith(spec.received), served.r.received_head
    spec.verified(served.text, leaf)


@pytest.mark.parametrize("peer", list(PEER_SERVERS))
def test_our_client_without_credential_refused_by_peer_server(ctx: Ctx, matrix: Matrix, peer: str) -> None:
    """Our client holds no credential: it answers the CertificateRequest with an empty Certificate, the
    peer refuses, and our client raises AlertReceivedError with the peer's alert."""
    spec = PEER_SERVERS[peer]
    alert, says = spec.no_certificate
    row = matrix.row("negative", labelled(peer, f"our client sends no certificate -> the server (required) sends "
                                                f"{alert}"), peer=peer)
    served = spec.serve(ctx, None)
    matrix.ours(row, served.r)
    r = served.r
    assert not r.handshake and r.sent == r.received == 0, r
    assert r.error is not None and r.error.startswith("AlertReceivedError"), r.error
    assert r.alert_received == alert, r
    assert says in served.text, served.text


@pytest.mark.parametrize("peer", ["nss", "botan"])
def test_our_ed25519_credential_to_a_server_without_ed25519(ctx: Ctx, client_pki: ClientPki, matrix: Matrix,
                                                            peer: str) -> None:
    """NSS and Botan 2 have no Ed25519 in TLS 1.2: their CertificateRequest lists no ed25519 scheme, so our
    client, holding only an Ed25519 credential, sends an empty Certificate, and the server refuses as
    for no certificate at all (not as for a chain it rejected)."""
    spec = PEER_SERVERS[peer]
    alert, says = spec.no_certificate
    row = matrix.row("negative", labelled(peer, "our client holds only an Ed25519 certificate, which the server "
                                                f"cannot take -> it sends none, {alert}"), peer=peer)
    served = spec.serve(ctx, client_pki.leaves["ed25519"])
    matrix.ours(row, served.r)
    assert not served.r.handshake and served.r.alert_received == alert, served.r
    assert says in served.text, served.text
