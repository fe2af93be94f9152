"""Resumed connections captured by dumpcap on 127.0.0.1, then explained from the pcapng and the key log.

`openssl s_client -reconnect` against `openssl s_server` makes six connections: a full handshake, then
five that resume its session, by ticket (OpenSSL's default) or by session ID (`-no_ticket`). What
`tls12 explain` shows is checked against s_client's own account (one "New", five "Reused"), its key
log (a resumed connection's CLIENT_RANDOM line carries the session's master secret) and the wire as
tshark reads it (the echoed session_id, the ticket the first connection received).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from test_pcap_peers import check_against_keylog_and_wire, explain, keylog_lines, s_server, wire
from tls12.cli.main import main

from pcap_support import Dumpcap, Process, free_port, require

pytestmark = pytest.mark.interop

SUITE = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"  # OpenSSL's first choice with an RSA certificate


def _reconnect(pem_dir: Path, tmp_path: Path, *args: str) -> tuple[Path, Path, str]:
    """s_client -reconnect against s_server (TLS 1.2), captured: (the capture, the client's key log, its output)."""
    require("openssl")
    port, cap, keys = free_port(), tmp_path / "reconnect.pcapng", tmp_path / "client.keys"
    server = s_server(pem_dir, port, tmp_path / "server.keys", "-tls1_2")
    try:
        with Dumpcap(port, cap):
            client = Process(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", pem_dir / "ca.pem",
                              "-keylogfile", keys, "-reconnect", *args], stdin=b"")
            try:
                assert client.wait(60) == 0, client.text
            finally:
                client.stop()
    finally:
        server.stop()
    return cap, keys, client.text


def _step(doc: dict[str, Any], number: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["steps"] if s["number"] == number)
    return found


@pytest.mark.parametrize("by", ["ticket", "session id"])
def test_openssl_reconnect_is_explained_as_resumed(by: str, pem_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cap, keys, said = _reconnect(pem_dir, tmp_path, *(["-no_ticket"] if by == "session id" else []))
    assert [line.split(",")[0] for line in said.splitlines() if line.startswith(("New,", "Reused,"))] == \
        ["New"] + ["Reused"] * 5

    # The listing says which connections resumed: the ServerHello echoes the session_id offered.
    assert main(["explain", str(cap), "--keylog", str(keys), "--explain", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [c["resumed"] for c in listing["connections"]] == [False] + [True] * 5

    first = explain(capsys, cap, "--keylog", str(keys), "--stream", "0")
    assert first["handshake"] == "full" and first["complete"] is True
    master = next(d["value"] for d in _step(first, "6")["derivations"] if d["label"] == "master_secret")
    if by == "ticket":
        assert first["summary"]["session"] == "new (the server sent a ticket)"
        [issued] = wire(cap, "tls.handshake.session_ticket", 4, stream=0)
        assert [s["number"] for s in first["steps"]][-3:] == ["8", "8a", "8b"]
    else:
        assert first["summary"]["session"].startswith("new (session id ")
        assert "8" not in [s["number"] for s in first["steps"]]

    for stream in (1, 5):
        doc = explain(capsys, cap, "--keylog", str(keys), "--stream", str(stream))
        random = check_against_keylog_and_wire(doc, cap, keys, SUITE, stream=stream)
        assert doc["handshake"] == "abbreviated" and doc["failure"] is None
        assert [s["number"] for s in doc["steps"]] in (["1", "2", "3a", "3b", "4a", "4b"],
                                                       ["1", "2", "2b", "3a", "3b", "4a", "4b"])
        assert [[m["label"] for m in f["messages"]] for f in doc["flights"]][:3] == [
            ["ClientHello"], ["ServerHello", *(["NewSessionTicket"] if "2b" in [s["number"] for s in doc["steps"]]
                                               else []), "ChangeCipherSpec", "Finished"],
            ["ChangeCipherSpec", "Finished"]]
        word = "ticket" if by == "ticket" else "session id"
        assert doc["summary"]["session"] == f"resumed by {word} (abbreviated handshake)"
        # The key log's line for this client random is the first connection's master secret: the session's.
        keys_shown = {d["label"]: d for d in _step(doc, "2")["derivations"]}
        assert keylog_lines(keys)[random] == keys_shown["master_secret"]["value"] == master
        assert keys_shown["master_secret"]["source"] == "the key log" and "key_block" in keys_shown
        # The session_id offered is the one echoed, as tshark reads them.
        [offered] = wire(cap, "tls.handshake.session_id", 1, stream=stream)
        assert wire(cap, "tls.handshake.session_id", 2, stream=stream) == [offered]
        decisions = {d["what"]: d for s in doc["steps"] for d in s["decisions"]}
        assert decisions["session"]["value"] == "resumed"
        if by == "ticket":
            assert decisions["session offered"]["value"] == f"ticket of {len(issued) // 2} bytes"
            assert any(f"its first 16 bytes, {issued[:32]}, name the key" in n for n in _step(doc, "1")["notes"])
        else:
            assert decisions["session offered"]["value"] == f"session id {offered}"
        checks = {c["what"]: c for s in doc["steps"] for c in s["checks"]}
        assert "up to the server's Finished" in checks["client Finished"]["detail"]
