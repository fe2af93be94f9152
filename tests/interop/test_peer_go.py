"""Go's crypto/tls against tls12, both ways, with tests/interop/peers/gopeer.go.

Go 1.23 from bookworm-backports (`interop_support.GO`), with the extended master secret
(Go 1.21 and later) in both roles. GnuTLS's `%NO_SESSION_HASH` is the peer without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_support import (
    BULK,
    BY_IANA,
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

PEER = "go"
pytestmark = pytest.mark.interop

MESSAGE = "hello from Go crypto/tls\n"
GROUPS = ("x25519", "secp256r1", "secp384r1")
# Go (on a machine with AES instructions) lists ECDHE-ECDSA-AES128-GCM-SHA256 first, no ChaCha20 first:
# our server's order wins, and our first suite an RSA key serves is ECDHE-RSA-AES128-GCM-SHA256. A Go
# server chooses by its own order (AES-128-GCM, AES-256-GCM, ChaCha20; ECDSA before RSA), unless the
# client lists ChaCha20 first, which ours does not: ECDHE-RSA-AES128-GCM-SHA256 too.
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def go_client(go_peer: Path, pki: Pki, port: int, *extra: str) -> tuple[dict[str, str], dict[str, str]]:
    return run_peer_client([go_peer, "client", "-port", str(port), "-ca", pki.ca_pem, "-sni", "localhost", *extra],
                           name="gopeer client", suite=EXPECTED)


def go_server(go_peer: Path, pki: Pki, *extra: str) -> tuple[Proc, int]:
    return start_peer_server([go_peer, "server", "-cert", pki.leaf_pem, "-key", pki.leaf_key, *extra],
                             name="gopeer server", ready=15)


# -- our server <- Go client ----------------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["peer", "us"])
def test_client_default_offer(go_peer: Path, pki: Pki, matrix: Matrix, closed_first: str) -> None:
    """Go's default offer (TLS 1.3 and 1.2): TLS 1.2, our suite, x25519, EMS, either side closing first."""
    row = matrix.row("server", f"default offer, {'client' if closed_first == 'peer' else 'server'} closes first")
    app = (lambda: EchoApp(close_after=len(MESSAGE))) if closed_first == "us" else EchoApp
    with our_server(pki.server_config(), app) as server:
        go_client(go_peer, pki, server.port, "-send", MESSAGE, "-close", "peer" if closed_first == "us" else "us")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group="x25519", closed_first=closed_first)
    assert r.client_hello is not None and 0x0304 in r.client_hello.versions


@pytest.mark.parametrize("group", GROUPS)
def test_client_group(go_peer: Path, pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config()) as server:
        go_client(go_peer, pki, server.port, "-send", MESSAGE, "-groups", group)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group)


@pytest.mark.parametrize(("ours", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_client_alpn(go_peer: Path, pki: Pki, matrix: Matrix, ours: tuple[str, ...],
                     expected: str) -> None:
    row = matrix.row("server", f"ALPN {expected}")
    with our_server(pki.server_config(alpn_protocols=ours)) as server:
        hs, _ = go_client(go_peer, pki, server.port, "-send", MESSAGE, "-alpn", "h2,http/1.1")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, suite=EXPECTED, alpn=expected)


def test_client_bulk(go_peer: Path, pki: Pki, matrix: Matrix) -> None:
    """16 MiB each way: Go writes in mixed sizes (1 byte to 1 MiB), we echo, Go checks every byte."""
    row = matrix.row("server", "16 MiB each way, mixed write sizes")
    with our_server(pki.server_config()) as server:
        _, result = go_client(go_peer, pki, server.port, "-bulk", str(BULK))
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED)
    assert int(result["sent"]) == int(result["received"]) == r.received == r.sent == BULK
    assert r.received_sha256 == result["sent_sha256"]


# -- our client -> Go server ---------------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["us", "peer"])
def test_server_default(go_peer: Path, pki: Pki, matrix: Matrix, closed_first: str) -> None:
    row = matrix.row("client", f"default, {'client' if closed_first == 'us' else 'server'} closes first")
    line = b"hello from tls12\n"
    proc, port = go_server(go_peer, pki, *(["-close-after", str(len(line))] if closed_first == "peer" else []))
    with proc:
        r = run_client(port, ClientScript(line, close=closed_first), config=pki.client_config())
        _, result = finish_peer_server(proc, suite=EXPECTED)
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group="x25519", closed_first=closed_first)
    assert r.received_head == line
    assert result["closed_first"] == ("us" if closed_first == "peer" else "peer")


@pytest.mark.parametrize("group", GROUPS)
def test_server_group(go_peer: Path, pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("client", f"group {group}")
    proc, port = go_server(go_peer, pki, "-groups", group)
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config())
        finish_peer_server(proc, suite=EXPECTED)
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group)


@pytest.mark.parametrize(("offer", "expected"), [(("h2", "http/1.1"), "http/1.1"), (("h2",), "h2")])
def test_server_alpn(go_peer: Path, pki: Pki, matrix: Matrix, offer: tuple[str, ...],
                     expected: str) -> None:
    """Go picks by its own order (http/1.1, then h2)."""
    row = matrix.row("client", f"ALPN {expected}")
    proc, port = go_server(go_peer, pki, "-alpn", "http/1.1,h2")
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config(alpn_protocols=offer))
        hs, _ = finish_peer_server(proc, suite=EXPECTED)
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, suite=EXPECTED, alpn=expected)


def test_server_bulk(go_peer: Path, pki: Pki, matrix: Matrix) -> None:
    """16 MiB each way: we write in mixed sizes (1 byte to 1 MiB) and read the echo as we go."""
    row = matrix.row("client", "16 MiB each way, mixed write sizes")
    proc, port = go_server(go_peer, pki)
    with proc:
        r = run_client(port, ClientScript(bulk=BULK), config=pki.client_config(), timeout=120)
        _, result = finish_peer_server(proc, suite=EXPECTED)
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED)
    assert r.sent == r.received == int(result["received"]) == BULK
    assert r.sent_sha256 == r.received_sha256 == result["received_sha256"]
