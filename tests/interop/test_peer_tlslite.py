"""tlslite-ng (pure Python TLS) against tls12, both ways, with peers/tlslite_peer.py.

tlslite-ng's AES-GCM is pure Python here (no M2Crypto), so the messages stay small.
It does no certificate path validation: tlslite_peer.py checks the chain and name
with `cryptography`'s verifier.
"""

from __future__ import annotations

import sys

import pytest
from interop_support import (
    PEERS,
    SUITE_IANA,
    ClientScript,
    EchoApp,
    Matrix,
    Pki,
    Proc,
    assert_ours,
    our_server,
    report_line,
    run,
    run_client,
)

PEER = "tlslite"
pytestmark = pytest.mark.interop

MESSAGE = "hello from tlslite-ng\n"
GROUPS = ("x25519", "secp256r1", "secp384r1")
SCRIPT = PEERS / "tlslite_peer.py"


def tlslite_client(pki: Pki, port: int, *extra: str) -> tuple[dict[str, str], dict[str, str]]:
    rc, text = run([sys.executable, SCRIPT, "client", "--port", str(port), "--ca", pki.ca_pem, "--sni", "localhost",
                    "--send", MESSAGE, *extra], name="tlslite client", timeout=90)
    assert rc == 0, text
    hs, result = report_line(text, "HANDSHAKE"), report_line(text, "RESULT")
    assert (hs["version"], hs["cipher"], hs["ems"]) == ("TLSv1.2", SUITE_IANA, "yes"), text
    assert result["echo_ok"] == "True", text
    return hs, result


def tlslite_server(pki: Pki, *extra: str) -> tuple[Proc, int]:
    proc = Proc([sys.executable, SCRIPT, "server", "--cert", pki.leaf_pem, "--key", pki.leaf_key, *extra],
                name="tlslite server", limit=120)
    try:
        port = int(proc.wait_for(rb"LISTENING (\d+)", 30).group(1))
    except BaseException:
        proc.stop()
        raise
    return proc, port


def finish_server(proc: Proc) -> tuple[dict[str, str], dict[str, str]]:
    rc = proc.wait(30)
    assert rc == 0, proc.text
    hs = report_line(proc.text, "HANDSHAKE")
    assert (hs["version"], hs["cipher"], hs["sni"], hs["ems"]) == ("TLSv1.2", SUITE_IANA, "localhost", "yes"), \
        proc.text
    return hs, report_line(proc.text, "RESULT")


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
    assert_ours(r, closed_first=closed_first)
    assert r.client_hello is not None and 0x0304 in r.client_hello.versions


@pytest.mark.parametrize("group", GROUPS)
def test_client_group(pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("server", f"group {group}")
    with our_server(pki.server_config()) as server:
        tlslite_client(pki, server.port, "--groups", group)
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert_ours(r, group=group)


@pytest.mark.parametrize(("ours", "expected"), [(("h2", "http/1.1"), "h2"), (("http/1.1",), "http/1.1")])
def test_client_alpn(pki: Pki, matrix: Matrix, ours: tuple[str, ...], expected: str) -> None:
    row = matrix.row("server", f"ALPN {expected}")
    with our_server(pki.server_config(alpn_protocols=ours)) as server:
        hs, _ = tlslite_client(pki, server.port, "--alpn", "h2,http/1.1")
        (r,) = server.wait_results()
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, alpn=expected)


# -- our client -> tlslite-ng server ------------------------------------------------------------


@pytest.mark.parametrize("closed_first", ["us", "peer"])
def test_server_default(pki: Pki, matrix: Matrix, closed_first: str) -> None:
    row = matrix.row("client", f"default, {'client' if closed_first == 'us' else 'server'} closes first")
    line = b"hello from tls12\n"
    proc, port = tlslite_server(pki, *(["--close-after", str(len(line))] if closed_first == "peer" else []))
    with proc:
        r = run_client(port, ClientScript(line, close=closed_first), config=pki.client_config())
        _, result = finish_server(proc)
    matrix.ours(row, r)
    assert_ours(r, closed_first=closed_first)
    assert r.received_head == line
    assert result["closed_first"] == ("us" if closed_first == "peer" else "peer")


@pytest.mark.parametrize("group", GROUPS)
def test_server_group(pki: Pki, matrix: Matrix, group: str) -> None:
    row = matrix.row("client", f"group {group}")
    proc, port = tlslite_server(pki, "--groups", group)
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config())
        finish_server(proc)
    matrix.ours(row, r)
    assert_ours(r, group=group)


@pytest.mark.parametrize("offer", [("h2", "http/1.1"), ("http/1.1",)])
def test_server_alpn(pki: Pki, matrix: Matrix, offer: tuple[str, ...]) -> None:
    """tlslite-ng picks by the client's order."""
    expected = offer[0]
    row = matrix.row("client", f"ALPN {expected}")
    proc, port = tlslite_server(pki, "--alpn", "http/1.1,h2")
    with proc:
        r = run_client(port, ClientScript(b"hello\n"), config=pki.client_config(alpn_protocols=offer))
        hs, _ = finish_server(proc)
    matrix.ours(row, r)
    assert hs["alpn"] == expected
    assert_ours(r, alpn=expected)
