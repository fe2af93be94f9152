"""NSS (Firefox's TLS) against tls12: tstclnt -> our server, our client -> selfserv.

Both are run with `-G` (extended master secret) as Firefox is configured; Debian's NSS 3.87
offers and accepts it even without. tstclnt has no ALPN option and cannot close first
(it spins on its input's end), so our server closes first with it.
selfserv can only bind the wildcard address, so it runs in a private network
namespace behind a relay on 127.0.0.1 (`NetnsServer`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_support import (
    BY_IANA,
    LOOPBACK,
    ClientScript,
    EchoApp,
    Matrix,
    NetnsServer,
    Pki,
    assert_ours,
    our_server,
    require_tool,
    run,
    run_client,
)

PEER = "nss"
pytestmark = pytest.mark.interop

MESSAGE = b"hello from NSS tstclnt\n"
GROUPS = {"x25519": ("x25519", "255-bit ECDHE"), "secp256r1": ("P256", "256-bit ECDHE"),
          "secp384r1": ("P384", "384-bit ECDHE")}
# tstclnt lists ECDHE-ECDSA-AES128-GCM-SHA256 first (AES before ChaCha20): our server's order wins, and
# our first suite an RSA key serves is ECDHE-RSA-AES128-GCM-SHA256. selfserv chooses by NSS's own
# order, which also puts ECDHE-RSA-AES128-GCM-SHA256 first among those an RSA key serves.
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def tstclnt(pki: Pki, db: Path, port: int, request: Path, *extra: str) -> tuple[int, str]:
    """tstclnt sends `request` and prints what comes back until our server closes (it closes first)."""
    require_tool("tstclnt")
    return run(["tstclnt", "-h", LOOPBACK, "-p", str(port), "-a", "localhost", "-d", f"sql:{db}", "-4", "-v",
                "-A", request, *extra], name="tstclnt", timeout=30)


def assert_tstclnt_ok(rc: int, text: str) -> None:
    assert rc == 0, text
    assert "SSL version 3.3 using 128-bit AES-GCM" in text, text
    assert "Extended Master Secret: Yes" in text, text
    assert MESSAGE.decode().strip() in text, text


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    f = tmp_path / "request.txt"
    f.write_bytes(MESSAGE)
    return f


# -- our server <- tstclnt ----------------------------------------------------------------------


@pytest.mark.parametrize("extra", [["-G"], ["-G", "-i", "64"]], ids=["default", "ech-grease"])
def test_tstclnt_default_offer(pki: Pki, nss_client_db: Path, request_file: Path, matrix: Matrix,
                               extra: list[str]) -> None:
    """tstclnt offers TLS 1.3 and 1.2 (with -i, an ECH GREASE extension too); we pick TLS 1.2 and close first."""
    row = matrix.row("server", "default offer + EMS (-G)" + (", ECH GREASE" if "-i" in extra else ""))
    with our_server(pki.server_config(), lambda: EchoApp(close_after=len(MESSAGE))) as server:
        rc, text = tstclnt(pki, nss_client_db, server.port, request_file, *extra)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_tstclnt_ok(rc, text)
    assert_ours(r, suite=EXPECTED, closed_first="us")
    assert r.client_hello is not None and 0x0304 in r.client_hello.versions
    if "-i" in extra:
        assert 0xFE0D in r.client_hello.extensions, "no ECH GREASE extension in the ClientHello"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_tstclnt_group(pki: Pki, nss_client_db: Path, request_file: Path, matrix: Matrix, group: str) -> None:
    nss_name, kx = GROUPS[group]
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config(), lambda: EchoApp(close_after=len(MESSAGE))) as server:
        rc, text = tstclnt(pki, nss_client_db, server.port, request_file, "-G", "-I", nss_name)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_tstclnt_ok(rc, text)
    assert f"Key Exchange: {kx}" in text
    assert_ours(r, suite=EXPECTED, group=group)


# -- our client -> selfserv (in its own network namespace) ---------------------------------------


def selfserv(db: Path, *extra: str) -> NetnsServer:
    require_tool("selfserv", "stdbuf")
    return NetnsServer(["stdbuf", "-oL", "selfserv", "-p", "4433", "-d", f"sql:{db}", "-n", "server", "-v", *extra],
                       name="selfserv", inner_port=4433)


REQUEST = b"GET / HTTP/1.0\r\n\r\n"


def assert_selfserv_answer(head: bytes) -> None:
    """selfserv answers a GET with a fixed HTTP header followed by the request itself, then closes."""
    assert head.startswith(b"HTTP/1.0 200 OK\r\n"), head
    assert REQUEST in head, head


def test_selfserv_default(pki: Pki, nss_server_db: Path, matrix: Matrix) -> None:
    row = matrix.row("client", "default + EMS (-G), server closes first")
    with selfserv(nss_server_db, "-G") as server:
        r = run_client(server.port, ClientScript(REQUEST, expect=1, close="peer"), config=pki.client_config())
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, closed_first="peer")
    assert_selfserv_answer(r.received_head)
    assert "Extended Master Secret: Yes" in server.text


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_selfserv_group(pki: Pki, nss_server_db: Path, matrix: Matrix, group: str) -> None:
    nss_name, kx = GROUPS[group]
    row = matrix.row("client", f"group {group}")
    with selfserv(nss_server_db, "-G", "-I", nss_name) as server:
        r = run_client(server.port, ClientScript(REQUEST, expect=1, close="peer"), config=pki.client_config())
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group, closed_first="peer")
    assert f"Key Exchange: {kx}" in server.text


def test_selfserv_alpn(pki: Pki, nss_server_db: Path, matrix: Matrix) -> None:
    """selfserv -Q speaks ALPN http/1.1 only; we offer h2 first."""
    row = matrix.row("client", "ALPN http/1.1")
    with selfserv(nss_server_db, "-G", "-Q") as server:
        r = run_client(server.port, ClientScript(REQUEST, expect=1, close="peer"),
                       config=pki.client_config(alpn_protocols=("h2", "http/1.1")))
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, alpn="http/1.1", closed_first="peer")
