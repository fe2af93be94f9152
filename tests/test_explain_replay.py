"""`tls12 explain`: a recorded connection explained offline, from its bytes and its key log.

The golden transcripts are covered by test_explain_golden.py. Here: the two
capture formats give the same explanation; a connection between two OpenSSL
ends (nothing of tls12 on the wire, several messages per record) is
explained and decrypted with OpenSSL's own key log; and a missing, foreign
or wrong key log, or a damaged capture, is said plainly instead of failing.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from explain_support import open_all, randoms, split_records
from tls12.cli.main import main
from tls12.explain import render
from tls12.explain.capture import C2S, S2C, Capture, format_flows, parse_flows
from tls12.explain.replay import parse_keylog, replay

from helpers import StdlibPeer, stdlib_client_context, stdlib_server_context

GOLDEN = Path(__file__).parent / "data" / "golden"


def _doc(capture: Capture, keylog: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(replay(capture, keylog), "json", reveal_secrets=True))
    return doc


def _golden() -> tuple[Capture, str]:
    flows = parse_flows((GOLDEN / "x25519.txt").read_text(encoding="ascii"))
    return Capture(flows), (GOLDEN / "x25519.keylog").read_text(encoding="ascii")


def test_two_raw_streams_explain_like_the_flows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture, keylog = _golden()
    c2s, s2c = tmp_path / "c2s.bin", tmp_path / "s2c.bin"
    c2s.write_bytes(capture.stream(C2S))
    s2c.write_bytes(capture.stream(S2C))
    (tmp_path / "keys.log").write_text(keylog, encoding="ascii")
    assert main(["explain", str(c2s), str(s2c), "--keylog", str(tmp_path / "keys.log"), "--explain", "json",
                 "--reveal-secrets"]) == 0
    from_streams = json.loads(capsys.readouterr().out)
    from_flows = _doc(capture, keylog)
    assert from_streams["complete"] is from_flows["complete"] is True
    for key in ("steps", "after_handshake", "summary", "flights"):
        assert from_streams[key] == from_flows[key], key


def test_a_connection_between_two_openssl_ends(pem_dir: Path, tmp_path: Path) -> None:
    """Any peer's handshake: OpenSSL to OpenSSL, in memory, with OpenSSL's key log."""
    server_ctx = stdlib_server_context(pem_dir, curve="secp384r1")
    client_ctx = stdlib_client_context(pem_dir, curve="secp384r1")
    client_ctx.keylog_filename = str(tmp_path / "openssl.keylog")
    server = StdlibPeer(server_ctx, server_side=True)
    client = StdlibPeer(client_ctx, server_side=False, server_hostname="localhost")
    flows: list[tuple[str, bytes]] = []

    def move(src: StdlibPeer, dst: StdlibPeer, direction: str) -> bool:
        data = src.outgoing.read()
        if data:
            flows.append((direction, data))
            dst.incoming.write(data)
        return bool(data)

    for _ in range(10):
        for peer in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                peer.obj.do_handshake()
        if not (move(client, server, C2S) | move(server, client, S2C)):
            break
    client.obj.write(b"GET / HTTP/1.0\r\n\r\n")
    move(client, server, C2S)
    assert server.obj.read() == b"GET / HTTP/1.0\r\n\r\n"
    server.obj.write(b"HTTP/1.0 200 OK\r\n\r\nhello")
    move(server, client, S2C)
    keylog = (tmp_path / "openssl.keylog").read_text(encoding="ascii")
    capture = Capture(flows)  # type: ignore[arg-type]
    doc = _doc(capture, keylog)

    assert doc["complete"] is True and doc["failure"] is None
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3", "4", "5", "6", "7a", "7b", "8", "8a", "8b"]
    ticket = doc["steps"][8]  # the ssl module's client asks for a session ticket: step 8, before the server's CCS
    assert ticket["title"] == "NewSessionTicket" and ticket["rfc"] == "RFC 5077 §3.3"
    assert [f["name"] for f in ticket["fields"]] == ["handshake header", "ticket_lifetime_hint", "ticket"]
    checks = {c["what"]: c["status"] for s in doc["steps"] for c in s["checks"]}
    assert checks == {"certificate chain": "skipped", "ServerKeyExchange signature": "ok",
                      "client Finished": "ok", "server Finished": "ok"}
    assert dict(doc["summary"])["group"] == "secp384r1 (0x0018)"
    data = [bytes.fromhex(t["plaintext"]) for t in doc["after_handshake"] if t["kind"] == "application_data"]
    assert data == [b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\nhello"]
    # The master secret the explanation shows opens the records, read independently.
    master = next(d["value"] for d in doc["steps"][5]["derivations"] if d["label"] == "master_secret")
    sides = [(("client" if d == C2S else "server"), b) for d, b in flows]
    opened = open_all(sides, bytes.fromhex(master))
    assert [o.plaintext for o in opened if o.content_type == 23] == data
    assert parse_keylog(keylog) == {randoms(sides)[0]: bytes.fromhex(master)}


def test_messages_sharing_a_record_or_split_across_records() -> None:
    """Re-framed golden bytes: the server's flight as one record, the client's ClientHello in three."""
    capture, keylog = _golden()
    flows = list(capture.flows)
    records = split_records([("server", flows[1][1])])
    body = b"".join(r.fragment for r in records)
    flows[1] = (S2C, b"\x16\x03\x03" + len(body).to_bytes(2, "big") + body)
    hello = split_records([("client", flows[0][1])])[0].fragment
    pieces = [hello[:3], hello[3:50], hello[50:]]
    flows[0] = (C2S, b"".join(b"\x16\x03\x01" + len(p).to_bytes(2, "big") + p for p in pieces))
    doc = _doc(Capture(flows), keylog)
    assert doc["complete"] is True
    assert len({json.dumps(s["records"]) for s in doc["steps"][1:5]}) == 1  # one record, four steps
    assert doc["steps"][1]["records"][0]["length"] == len(body)
    assert [r["length"] for r in doc["steps"][0]["records"]] == [3, 47, len(hello) - 50]
    assert doc["flights"][1]["wire_bytes"] == 5 + len(body)
    assert doc["steps"][0]["hex"] == hello.hex()


def test_without_a_key_log_the_encrypted_part_is_said_to_be_closed() -> None:
    capture, _ = _golden()
    doc = _doc(capture, None)
    # The server's NewSessionTicket goes in the clear, before its ChangeCipherSpec: step 8 is where it belongs
    # even when the Finished messages around it cannot be read.
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3", "4", "5", "6", "7a", "8", "8a"]
    assert doc["complete"] is False and doc["failure"] is None
    assert any("encrypted and there is no key" in note for note in doc["notes"])
    assert all(t["plaintext"] is None for t in doc["after_handshake"])
    assert "Note: the client's records after its ChangeCipherSpec are encrypted" in render(replay(capture), "text")


def test_a_key_log_for_another_connection_is_said_so() -> None:
    capture, keylog = _golden()
    other = keylog.replace(keylog.split()[1], "00" * 32)
    doc = _doc(capture, other)
    assert any("no CLIENT_RANDOM line for client random" in note for note in doc["notes"])
    assert "7b" not in [s["number"] for s in doc["steps"]]


def test_a_wrong_master_secret_is_said_so() -> None:
    capture, keylog = _golden()
    client_random = keylog.split()[1]
    doc = _doc(capture, f"# a comment\nCLIENT_RANDOM {client_random} {'11' * 48}\n")
    assert any("did not decrypt" in note for note in doc["notes"])
    assert "7b" not in [s["number"] for s in doc["steps"]]


def test_a_cut_capture_is_explained_as_far_as_it_goes() -> None:
    capture, keylog = _golden()
    flows = capture.flows[:2]
    flows[1] = (flows[1][0], flows[1][1][:-100])  # the server's flight, cut inside its last record
    doc = _doc(Capture(flows), keylog)
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3"]
    assert any("not a whole record" in note for note in doc["notes"])


def test_the_capture_formats_round_trip() -> None:
    capture, _ = _golden()
    assert parse_flows(format_flows(capture.flows, ["a comment"])) == capture.flows
    with pytest.raises(ValueError, match="line 2: not hex"):
        parse_flows(">>> Flow 1 (client to server)\nnot hex\n")
    with pytest.raises(ValueError, match="out of order"):
        parse_flows(">>> Flow 2 (client to server)\n00\n")


def test_the_cli_refuses_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("hello\n", encoding="ascii")
    assert main(["explain", str(bad)]) == 2
    assert "tls12 explain:" in capsys.readouterr().err
    assert main(["explain", str(bad), str(bad), str(bad)]) == 2
    assert main(["explain", str(tmp_path / "missing.txt")]) == 2


def test_the_demo_capture_replays_to_the_same_values(tmp_path: Path) -> None:
    keylog, capture, live_json, replay_json = (tmp_path / n for n in ("k.log", "c.txt", "live.json", "replay.json"))
    assert main(["demo", "--keylog", str(keylog), "--capture", str(capture), "--explain", "json",
                 "--output", str(live_json)]) == 0
    assert main(["explain", str(capture), "--keylog", str(keylog), "--explain", "json", "--reveal-secrets",
                 "--output", str(replay_json)]) == 0
    live, seen = (json.loads(p.read_text(encoding="utf-8")) for p in (live_json, replay_json))
    assert [s["hex"] for s in live["steps"]] == [s["hex"] for s in seen["steps"]]
    assert [s["fields"] for s in live["steps"]] == [s["fields"] for s in seen["steps"]]
    assert [t["plaintext"] for t in live["after_handshake"]] == [t["plaintext"] for t in seen["after_handshake"]]
    live_keys = {d["label"]: d["value"] for d in live["steps"][5]["derivations"]}
    seen_keys = {d["label"]: d["value"] for d in seen["steps"][5]["derivations"]}
    assert {k: v for k, v in live_keys.items() if k != "pre_master_secret"} == \
        {k: v for k, v in seen_keys.items() if k != "pre_master_secret"}
