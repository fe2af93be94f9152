"""tlslite-ng (pure Python TLS) against tls12, both ways, with peers/tlslite_peer.py.

tlslite-ng's AES-GCM is pure Python here (no M2Crypto), so the messages stay small.
It does no certificate path validation: tlslite_peer.py checks the chain and name
with `cryptography`'s verifier.
"""

from __future__ import annotations

import sys

import pytest
from interop_support import (
    BY_IANA,
    PEERS,
    ClientScript,
    EchoApp,
    Matrix,
    Pki,
    Proc,
    assert_ours,
    finish_peer_server,
    our_server,
    run_client,
    run_peer_client,
    start_peer_server,
)

PEER = "tlslite"
pytestmark = pytest.mark.interop

MESSAGE = "hello from tlslite-ng\n"
GROUPS = ("x25519", "secp256r1", "secp384r1")
SCRIPT = PEERS / "tlslite_peer.py"
# tlslite-ng puts ChaCha20-Poly1305 first in its cipher list (then AES-256-GCM, AES-128-GCM), in both
# roles. As a client it lists a ChaCha20 suite first: our server moves its ChaCha20 suites first (the
# mobile-client rule), and ECDHE-RSA-CHACHA20-POLY1305 is the first an RSA key serves. As a server it
# chooses by its own order: ECDHE-RSA-CHACHA20-POLY1305 again (ECDHE before DHE).
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]


def tlslite_client(pki: Pki, port: int, *extra: str) -> tuple[dict[str, str], dict[str, str]]:
    return run_peer_client([sys.executable, SCRIPT, "client", "--port", str(port), "--ca", pki.ca_pem,
                            "--sni", "localhost", "--send", MESSAGE, *extra],
                           name="tlslite client", suite=EXPECTED, ems="yes", echo_ok="True")


def tlslite_server(pki: Pki, *extra: str) -> tuple[Proc, int]:
    return start_peer_server([sys.executable, SCRIPT, "server", "--cert", pki.leaf_pem, "--key", pki.leaf_key,
                              *extra], name="tlslite server", ready=30)


# -- our server <- tlslite-ng client ------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["peer", "us"])
def test_client_default_offer(pki: Pki, matrix: Matrix, closed_first: str) -> None:
    """tlslite-ng's default offer (TLS 1.3 to 1.0, many suites, FFDHE groups too): we pick TLS 1.2."""
    row = matrix.row("server", f"default offer, {'client' if closed_first == 'peer' else 'server'} closes first")
    app = (lambda: EchoApp(close_after=len(MESSAGE))) if closed_first == "us" else EchoApp
    with our_server(pki.server_config(), app) as server:
        tlslite_client(pki, server.port, "--close", "peer" if closed_first == "us" else "us")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, closed_first=closed_first)
    assert r.client_hello is not None and 0x0304 in r.client_hello.versions


@pytest.mark.parametrize("group", GROUPS)
def test_client_group(pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config()) as server:
        tlslite_client(pki, server.port, "--groups", group)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group)


@pytest.mark.parametrize(("ours", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_client_alpn(pki: Pki, matrix: Matrix, ours: tuple[str, ...], expected: str) -> None:
    row = matrix.row("server", f"ALPN {expected}")
    with our_server(pki.server_config(alpn_protocols=ours)) as server:
        hs, _ = tlslite_client(pki, server.port, "--alpn", "h2,http/1.1")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, suite=EXPECTED, alpn=expected)


# -- our client -> tlslite-ng server ------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["us", "peer"])
def test_server_default(pki: Pki, matrix: Matrix, closed_first: str) -> None:
    row = matrix.row("client", f"default, {'client' if closed_first == 'us' else 'server'} closes first")
    line = b"hello from tls12\n"
    proc, port = tlslite_server(pki, *(["--close-after", str(len(line))] if closed_first == "peer" else []))
    with proc:
        r = run_client(port, ClientScript(line, close=closed_first), config=pki.client_config())
        _, result = finish_peer_server(proc, suite=EXPECTED, ems="yes")
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, closed_first=closed_first)
    assert r.received_head == line
    assert result["closed_first"] == ("us" if closed_first == "peer" else "peer")


@pytest.mark.parametrize("group", GROUPS)
def test_server_group(pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("client", f"group {group}")
    proc, port = tlslite_server(pki, "--groups", group)
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config())
        finish_peer_server(proc, suite=EXPECTED, ems="yes")
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group)


@pytest.mark.parametrize("offer", [("h2", "http/1.1"), ("http/1.1",)])
def test_server_alpn(pki: Pki, matrix: Matrix, offer: tuple[str, ...]) -> None:
    """tlslite-ng picks by the client's order."""
    expected = offer[0]
    row = matrix.row("client", f"ALPN {expected}")
    proc, port = tlslite_server(pki, "--alpn", "http/1.1,h2")
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config(alpn_protocols=offer))
        hs, _ = finish_peer_server(proc, suite=EXPECTED, ems="yes")
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, suite=EXPECTED, alpn=expected)
