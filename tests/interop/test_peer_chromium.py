"""Headless Chromium (BoringSSL) -> our server: the largest ClientHello we meet in the wild.

Chromium offers TLS 1.3 and 1.2, GREASE values everywhere, a post-quantum key share
(X25519MLKEM768, about 1.2 KB), ECH GREASE and more: about 1.9 KB of ClientHello. Our
server must pick TLS 1.2 and its suite and ignore the rest. Chromium exits 0 even
when a page fails to load, so the verdict comes from its net log (SSL_CONNECT) and
from the page it dumps. It trusts the CA from $HOME/.pki/nssdb.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from interop_support import BY_IANA, HttpApp, Matrix, Pki, assert_ours, our_server, require_tool, run

PEER = "chromium"
pytestmark = pytest.mark.interop

MARKER = "served by tls12 to Chromium"
X25519MLKEM768 = 0x11EC
ECH = 0xFE0D
# Chromium lists ECDHE-ECDSA-AES128-GCM-SHA256 first (AES before ChaCha20 on a machine with AES
# instructions): our server's order wins, and our first suite an RSA key serves is
# ECDHE-RSA-AES128-GCM-SHA256.
EXPECTED = BY_IANA["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def net_log_events(path: Path) -> list[tuple[str, dict[str, Any]]]:
    raw = path.read_text()
    if not raw.rstrip().endswith("}"):
        raw = raw.rstrip().rstrip(",") + "]}"  # a log cut short: close the JSON
    log = json.loads(raw)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return [(names.get(e["type"], str(e["type"])), e.get("params") or {}) for e in log["events"]]


def test_chromium(pki: Pki, matrix: Matrix, nss_client_db: Path, tmp_path: Path) -> None:
    require_tool("chromium")
    row = matrix.row("server", "default offer (GREASE, X25519MLKEM768, ECH GREASE), ALPN http/1.1")
    home = tmp_path / "home"
    shutil.copytree(nss_client_db.parent.parent, home)  # $HOME/.pki/nssdb: trusts our CA
    profile = tmp_path / "profile"
    net_log = tmp_path / "netlog.json"
    # No resumption: every connection is held to a full handshake with x25519 below (a second
    # connection for /favicon.ico would otherwise resume the first one's ticket).
    config = pki.server_config(alpn_protocols=("http/1.1",), session_store=None, ticket_keys=None)
    with our_server(config, lambda: HttpApp(MARKER)) as server:
        rc, text = run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--disable-extensions", f"--user-data-dir={profile}",
                        "--host-resolver-rules=MAP localhost 127.0.0.1", f"--log-net-log={net_log}",
                        "--dump-dom", f"https://localhost:{server.port}/"],
                       name="chromium", timeout=90, env={"HOME": str(home)})
        server.wait_results(1)
    results = server.results  # every connection, now that the server has stopped
    events = net_log_events(net_log)
    connects = [p for name, p in events if name == "SSL_CONNECT" and "cipher_suite" in p]
    errors = [(name, p) for name, p in events if "net_error" in p and name.startswith(("SSL", "CERT"))]
    matrix.ours(row, max(results, key=lambda r: r.received))
    row.details["chromium_connect"] = connects[0] if connects else None
    assert rc == 0, text
    assert "Page load failed" not in text, text
    assert MARKER in text, f"the page did not load; net log errors: {errors}\n{text[-3000:]}"
    assert connects, f"no SSL_CONNECT in the net log; errors: {errors}"
    for c in connects:
        assert (c["version"], c["cipher_suite"], c["key_exchange_group"], c["next_proto"]) == \
            ("TLS 1.2", EXPECTED.code, 29, "http/1.1"), c
    # Chromium may open more connections than it uses (a preconnect, or a second socket for
    # /favicon.ico) and drop the unused ones at exit without close_notify: those only have
    # to have negotiated correctly. Every connection that carried a request is held to all.
    served = [r for r in results if r.received > 0]
    assert served, results
    for r in served:
        assert_ours(r, suite=EXPECTED, group="x25519", alpn="http/1.1", closed_first="us")
        assert r.received_head.startswith((b"GET / HTTP/1.1\r\n", b"GET /favicon.ico HTTP/1.1\r\n")), r
    for r in results:
        if r.received == 0:
            assert r.error is not None and r.error.startswith("TruncatedConnection"), r
            assert not r.handshake or (r.version, r.suite, r.group) == ("TLSv1.2", EXPECTED.iana, "x25519"), r
    hellos = [r.client_hello for r in results if r.client_hello is not None]
    assert len(hellos) >= len(served)
    for hello in hellos:
        assert hello.length > 1500, hello.length
        assert hello.grease and 0x0304 in hello.versions
        assert ECH in hello.extensions
        assert X25519MLKEM768 in dict(hello.key_shares)
    row.details["client_hello_bytes"] = max(hello.length for hello in hellos)
    row.details["connections"] = f"{len(results)} ({len(served)} with a request)"
    assert any(r.received_head.startswith(b"GET / HTTP/1.1") for r in served)
