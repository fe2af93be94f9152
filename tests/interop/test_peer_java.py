"""Java's SunJSSE (SSLSocket / SSLServerSocket) against tls12, both ways, with peers/TlsPeer.java.

TlsPeer.java is compiled with javac once per session. JSSE picks its groups from
`-Djdk.tls.namedGroups`; it cannot report the group, so that comes from our side.
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
    require_tool,
    run_client,
    run_peer_client,
    start_peer_server,
)

PEER = "java"
pytestmark = pytest.mark.interop

MESSAGE = "hello from Java SSLSocket\n"
GROUPS = ("x25519", "secp256r1", "secp384r1")
# JSSE lists AES-256-GCM first (TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384), no ChaCha20 first: our
# server's order wins, and our first suite an RSA key serves is ECDHE-RSA-AES128-GCM-SHA256.
AS_CLIENT = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
# A JSSE server chooses by its own order (SunJSSE's servers honour the local suite order by default),
# which puts AES-256-GCM first: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 is its first an RSA key serves.
AS_SERVER = BY_IANA["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]


def java(classes: Path, group: str | None) -> list[str | Path]:
    require_tool("java")
    flags = [f"-Djdk.tls.namedGroups={group}"] if group else []
    return ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", *flags, "-cp", classes, "TlsPeer"]


def java_client(classes: Path, pki: Pki, port: int, *extra: str,
                group: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    return run_peer_client([*java(classes, group), "client", "-port", str(port), "-ca", pki.ca_pem,
                            "-sni", "localhost", *extra], name="TlsPeer client", suite=AS_CLIENT)


def java_server(classes: Path, pki: Pki, *extra: str, group: str | None = None) -> tuple[Proc, int]:
    return start_peer_server([*java(classes, group), "server", "-cert", pki.leaf_pem, "-key", pki.leaf_key, *extra],
                             name="TlsPeer server", ready=30)


# -- our server <- Java client ---------------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["peer", "us"])
def test_client_default_offer(java_classes: Path, pki: Pki, matrix: Matrix, closed_first: str) -> None:
    """JSSE's default offer (TLS 1.3 and 1.2, many suites): TLS 1.2, our suite, EMS, either side closing first."""
    row = matrix.row("server", f"default offer, {'client' if closed_first == 'peer' else 'server'} closes first")
    app = (lambda: EchoApp(close_after=len(MESSAGE))) if closed_first == "us" else EchoApp
    with our_server(pki.server_config(), app) as server:
        java_client(java_classes, pki, server.port, "-send", MESSAGE,
                    "-close", "peer" if closed_first == "us" else "us")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=AS_CLIENT, closed_first=closed_first)
    assert r.client_hello is not None and 0x0304 in r.client_hello.versions


@pytest.mark.parametrize("group", GROUPS)
def test_client_group(java_classes: Path, pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config()) as server:
        java_client(java_classes, pki, server.port, "-send", MESSAGE, group=group)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=AS_CLIENT, group=group)


@pytest.mark.parametrize(("ours", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_client_alpn(java_classes: Path, pki: Pki, matrix: Matrix, ours: tuple[str, ...], expected: str) -> None:
    row = matrix.row("server", f"ALPN {expected}")
    with our_server(pki.server_config(alpn_protocols=ours)) as server:
        hs, _ = java_client(java_classes, pki, server.port, "-send", MESSAGE, "-alpn", "h2,http/1.1")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, suite=AS_CLIENT, alpn=expected)


def test_client_bulk(java_classes: Path, pki: Pki, matrix: Matrix) -> None:
    """16 MiB each way: Java writes in mixed sizes from a second thread, we echo, Java checks every byte."""
    row = matrix.row("server", "16 MiB each way, mixed write sizes")
    with our_server(pki.server_config()) as server:
        _, result = java_client(java_classes, pki, server.port, "-bulk", str(BULK))
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, suite=AS_CLIENT)
    assert int(result["sent"]) == int(result["received"]) == r.received == r.sent == BULK
    assert r.received_sha256 == result["sent_sha256"]


# -- our client -> Java server ---------------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["us", "peer"])
def test_server_default(java_classes: Path, pki: Pki, matrix: Matrix, closed_first: str) -> None:
    row = matrix.row("client", f"default, {'client' if closed_first == 'us' else 'server'} closes first")
    line = b"hello from tls12\n"
    proc, port = java_server(java_classes, pki,
                             *(["-close-after", str(len(line))] if closed_first == "peer" else []))
    with proc:
        r = run_client(port, ClientScript(line, close=closed_first), config=pki.client_config())
        _, result = finish_peer_server(proc, suite=AS_SERVER)
    matrix.ours(row, r)
    assert_ours(r, suite=AS_SERVER, group="x25519", closed_first=closed_first)
    assert r.received_head == line
    assert result["closed_first"] == ("us" if closed_first == "peer" else "peer")


@pytest.mark.parametrize("group", GROUPS)
def test_server_group(java_classes: Path, pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("client", f"group {group}")
    proc, port = java_server(java_classes, pki, group=group)
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config())
        finish_peer_server(proc, suite=AS_SERVER)
    matrix.ours(row, r)
    assert_ours(r, suite=AS_SERVER, group=group)


@pytest.mark.parametrize(("offer", "expected"), [(("h2", "http/1.1"), "http/1.1"), (("h2",), "h2")])
def test_server_alpn(java_classes: Path, pki: Pki, matrix: Matrix, offer: tuple[str, ...], expected: str) -> None:
    """JSSE picks by its own order (http/1.1, then h2)."""
    row = matrix.row("client", f"ALPN {expected}")
    proc, port = java_server(java_classes, pki, "-alpn", "http/1.1,h2")
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config(alpn_protocols=offer))
        hs, _ = finish_peer_server(proc, suite=AS_SERVER)
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, suite=AS_SERVER, alpn=expected)


def test_server_bulk(java_classes: Path, pki: Pki, matrix: Matrix) -> None:
    """16 MiB each way: we write in mixed sizes (1 byte to 1 MiB) and read the echo as we go."""
    row = matrix.row("client", "16 MiB each way, mixed write sizes")
    proc, port = java_server(java_classes, pki)
    with proc:
        r = run_client(port, ClientScript(bulk=BULK), config=pki.client_config(), timeout=120)
        _, result = finish_peer_server(proc, suite=AS_SERVER)
    matrix.ours(row, r)
    assert_ours(r, suite=AS_SERVER)
    assert r.sent == r.received == int(result["received"]) == BULK
    assert r.sent_sha256 == r.received_sha256 == result["received_sha256"]
