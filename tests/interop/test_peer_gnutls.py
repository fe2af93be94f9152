"""GnuTLS against tls12: gnutls-cli -> our server, our client -> gnutls-serv.

gnutls-serv can only bind the wildcard address, so it runs in a private network
namespace behind a relay on 127.0.0.1 (`NetnsServer`).
"""

from __future__ import annotations

import pytest
from interop_support import (
    BY_IANA,
    LOOPBACK,
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

PEER = "gnutls"
pytestmark = pytest.mark.interop

MESSAGE = b"hello from gnutls-cli\n"
GROUPS = {"x25519": "X25519", "secp256r1": "SECP256R1", "secp384r1": "SECP384R1"}
# NORMAL lists AES-256-GCM first, then ChaCha20 (so no ChaCha20 first): our server's order wins, and
# our first suite an RSA key serves is ECDHE-RSA-AES128-GCM-SHA256. gnutls-serv takes the client's
# order (no %SERVER_PRECEDENCE): again our first suite its RSA key serves.
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
#: gnutls-cli's name for it in its one-line description.
EXPECTED_CIPHER = "(AES-128-GCM)"


def gnutls_cli(port: int, pki: Pki, priority: str = "NORMAL", *extra: str) -> list[str]:
    require_tool("gnutls-cli")
    return ["gnutls-cli", f"--x509cafile={pki.ca_pem}", "--sni-hostname=localhost", "--verify-hostname=localhost",
            f"--priority={priority}", *extra, "-p", str(port), LOOPBACK]


def description(text: str) -> str:
    """gnutls-cli's one-line summary, e.g. (TLS1.2-X.509)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)."""
    lines = [line for line in text.splitlines() if line.startswith("- Description:")]
    assert lines, text
    return lines[0]


def assert_cli_ok(rc: int, text: str) -> None:
    assert rc == 0, text
    assert "- Status: The certificate is trusted." in text, text
    assert "- Handshake was completed" in text, text
    assert "(TLS1.2-X.509)" in description(text) and EXPECTED_CIPHER in description(text)


# -- our server <- gnutls-cli -------------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["peer", "us"])
def test_cli_default_offer(pki: Pki, matrix: Matrix, closed_first: str) -> None:
    row = matrix.row("server", f"default offer (NORMAL), {'client' if closed_first == 'peer' else 'server'} "
                               "closes first")
    with our_server(pki.server_config(), echo_server_app(closed_first, MESSAGE)) as server:
        rc, text = drive_stdin_client(gnutls_cli(server.port, pki), name="gnutls-cli", message=MESSAGE,
                                      closed_first=closed_first)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_cli_ok(rc, text)
    assert "extended master secret" in text
    assert_ours(r, suite=EXPECTED, closed_first=closed_first)
    assert r.received_head == MESSAGE
    assert r.client_hello is not None and 0x0304 in r.client_hello.versions, "gnutls-cli offered TLS 1.3 too"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_cli_group(pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config(), echo_server_app("peer", MESSAGE)) as server:
        rc, text = drive_stdin_client(gnutls_cli(server.port, pki, f"NORMAL:-GROUP-ALL:+GROUP-{GROUPS[group]}"),
                                      name="gnutls-cli", message=MESSAGE, closed_first="peer")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_cli_ok(rc, text)
    assert f"(ECDHE-{GROUPS[group]})" in description(text)
    assert_ours(r, suite=EXPECTED, group=group)


def test_cli_without_extended_master_secret(pki: Pki, matrix: Matrix) -> None:
    """%NO_SESSION_HASH: a client that does not offer RFC 7627; we fall back to the plain master secret."""
    row = matrix.row("server", "no extended master secret (%NO_SESSION_HASH)")
    with our_server(pki.server_config(), echo_server_app("peer", MESSAGE)) as server:
        rc, text = drive_stdin_client(gnutls_cli(server.port, pki, "NORMAL:%NO_SESSION_HASH"), name="gnutls-cli",
                                      message=MESSAGE, closed_first="peer")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_cli_ok(rc, text)
    assert "extended master secret" not in text
    assert_ours(r, suite=EXPECTED, ems=False)
    assert r.client_hello is not None and 23 not in r.client_hello.extensions


@pytest.mark.parametrize(("ours", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_cli_alpn(pki: Pki, matrix: Matrix, ours: tuple[str, ...], expected: str) -> None:
    row = matrix.row("server", f"ALPN {expected}")
    with our_server(pki.server_config(alpn_protocols=ours), echo_server_app("peer", MESSAGE)) as server:
        rc, text = drive_stdin_client(gnutls_cli(server.port, pki, "NORMAL", "--alpn=h2", "--alpn=http/1.1"),
                                      name="gnutls-cli", message=MESSAGE, closed_first="peer")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_cli_ok(rc, text)
    assert f"- Application protocol: {expected}" in text
    assert_ours(r, suite=EXPECTED, alpn=expected)


# -- our client -> gnutls-serv (in its own network namespace) ------------------------------------


def gnutls_serv(pki: Pki, priority: str = "NORMAL", *extra: str, cert: str = "leaf") -> NetnsServer:
    require_tool("gnutls-serv", "stdbuf")
    return NetnsServer(["stdbuf", "-oL", "gnutls-serv", "--echo", "-p", "4433",
                        f"--x509certfile={pki.dir / (cert + '.pem')}", f"--x509keyfile={pki.dir / (cert + '.key')}",
                        f"--priority={priority}", *extra], name="gnutls-serv", inner_port=4433)


LINE = b"hello from tls12\n"


def test_serv_default(pki: Pki, matrix: Matrix) -> None:
    row = matrix.row("client", "default (NORMAL)")
    with gnutls_serv(pki) as server:
        r = run_client(server.port, ClientScript(LINE), config=pki.client_config())
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, ems=True)
    assert r.received_head == LINE
    assert "- Given server name[1]: localhost" in server.text
    assert "- Options: extended master secret" in server.text


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_serv_group(pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("client", f"group {group}")
    with gnutls_serv(pki, f"NORMAL:-GROUP-ALL:+GROUP-{GROUPS[group]}") as server:
        r = run_client(server.port, ClientScript(LINE), config=pki.client_config())
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, group=group)


def test_serv_without_extended_master_secret(pki: Pki, matrix: Matrix) -> None:
    row = matrix.row("client", "no extended master secret (%NO_SESSION_HASH)")
    with gnutls_serv(pki, "NORMAL:%NO_SESSION_HASH") as server:
        r = run_client(server.port, ClientScript(LINE), config=pki.client_config())
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, ems=False)
    assert "extended master secret" not in server.text


@pytest.mark.parametrize(("offer", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_serv_alpn(pki: Pki, matrix: Matrix, offer: tuple[str, ...], expected: str) -> None:
    """GnuTLS picks by the client's order: the first of ours that it has."""
    row = matrix.row("client", f"ALPN {expected}")
    with gnutls_serv(pki, "NORMAL", "--alpn=http/1.1", "--alpn=h2") as server:
        r = run_client(server.port, ClientScript(LINE), config=pki.client_config(alpn_protocols=offer))
    matrix.ours(row, r)
    assert_ours(r, suite=EXPECTED, alpn=expected)
    assert f"- Application protocol: {expected}" in server.text
