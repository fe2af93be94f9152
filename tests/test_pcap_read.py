"""`tls12 explain FILE.pcap[ng]`: captures built packet by packet with dpkt and python-pcapng.

A golden connection's bytes are cut into TCP segments and written as pcap and
pcapng in every link type tls12 reads; the explanation must be the one the
flows give directly. Then the same capture rewritten (reordered, duplicated
and overlapping segments, no SYN, a lost packet, a snap length, a retransmission
with other bytes), several connections to choose from, and damaged, huge
and hostile files: each said plainly, none a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tls12.cli.main import main
from tls12.explain import render
from tls12.explain.capture import Capture, parse_flows
from tls12.explain.pcapfile import CaptureError, Endpoint, Limits, TcpSegment, read_packet_file
from tls12.explain.replay import replay
from tls12.explain.tcpstream import reassemble

from pcap_support import ACK, PSH, Packet, capture_of, frame, require, tcp_packets, write_capture

GOLDEN = Path(__file__).parent / "data" / "golden"
KEYS = ("steps", "after_handshake", "summary", "flights", "complete", "failure")


def golden(name: str = "x25519") -> tuple[list[tuple[str, bytes]], str]:
    flows = parse_flows((GOLDEN / f"{name}.txt").read_text(encoding="ascii"))
    sides = [("client" if d == "client to server" else "server", data) for d, data in flows]
    return sides, (GOLDEN / f"{name}.keylog").read_text(encoding="ascii")


def expected(name: str = "x25519") -> dict[str, Any]:
    flows = parse_flows((GOLDEN / f"{name}.txt").read_text(encoding="ascii"))
    keylog = (GOLDEN / f"{name}.keylog").read_text(encoding="ascii")
    doc: dict[str, Any] = json.loads(render(replay(Capture(flows), keylog), "json", reveal_secrets=True))
    return doc


def explain_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["explain", *args, "--explain", "json", "--reveal-secrets"]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def same(doc: dict[str, Any], want: dict[str, Any]) -> None:
    assert doc["complete"] is True
    for key in KEYS:
        assert doc[key] == want[key], key


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "keys.log"
    path.write_text(golden()[1], encoding="ascii")
    return path


@pytest.mark.parametrize(("link_type", "fmt", "client", "server"), [
    (1, "pcapng", ("10.0.0.1", 50000), ("10.0.0.2", 443)),
    (1, "pcap", ("2001:db8::1", 50000), ("2001:db8::2", 8443)),
    (113, "pcap", ("10.0.0.1", 50000), ("10.0.0.2", 443)),
    (276, "pcapng", ("10.0.0.1", 50000), ("10.0.0.2", 443)),
    (0, "pcapng", ("127.0.0.1", 50000), ("127.0.0.1", 4433)),
    (101, "pcap", ("::1", 50000), ("::1", 4433)),
])
def test_every_link_type_and_format_explains_like_the_flows(
        tmp_path: Path, keyfile: Path, capsys: pytest.CaptureFixture[str], link_type: int, fmt: str,
        client: tuple[str, int], server: tuple[str, int]) -> None:
    flows, _ = golden()
    cap = capture_of(tmp_path / f"c.{fmt}", tcp_packets(flows, client, server), link_type=link_type, fmt=fmt)
    assert read_packet_file(cap).link_types == {link_type}
    same(explain_json(capsys, str(cap), "--keylog", str(keyfile)), expected())


def test_reordered_duplicated_and_overlapping_segments_explain_like_the_clean_capture(
        tmp_path: Path, keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    clean = tcp_packets(flows, mss=100)
    # The rewrite: within each run of segments one way, send them backwards, repeat the first
    # twice, and add a segment overlapping two others (same bytes); times follow the new order.
    rewritten: list[Packet] = []
    run: list[Packet] = []

    def flush() -> None:
        if not run:
            return
        rewritten.extend(reversed(run))
        rewritten.append(run[0])
        if len(run) >= 2:
            a, b = run[0], run[1]
            rewritten.append(Packet(0, a.src, a.dst, (a.seq + 50) % 2**32, a.ack, PSH | ACK,
                                    a.payload[50:] + b.payload[:30]))
        rewritten.append(run[0])
        run.clear()

    for p in clean:
        if run and (p.src != run[0].src or not p.payload):
            flush()
        if p.payload:
            run.append(p)
        else:
            rewritten.append(p)
    flush()
    for i, p in enumerate(rewritten):
        p.time = 1_700_000_000.0 + i / 1000
    assert len(rewritten) > len(clean) + 10
    cap = capture_of(tmp_path / "shuffled.pcapng", rewritten)
    doc = explain_json(capsys, str(cap), "--keylog", str(keyfile))
    same(doc, expected())
    assert not [n for n in doc["notes"] if "different" in n]  # the copies all agree


def test_a_retransmission_with_other_bytes_is_flagged_and_the_first_copy_kept(
        tmp_path: Path, keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    packets = tcp_packets(flows, mss=200)
    hello = next(p for p in packets if p.payload)
    forged = Packet(hello.time + 0.0005, hello.src, hello.dst, (hello.seq + 10) % 2**32, hello.ack, PSH | ACK,
                    b"\xff" * 20)
    packets.insert(packets.index(hello) + 1, forged)
    doc = explain_json(capsys, str(capture_of(tmp_path / "c.pcapng", packets)), "--keylog", str(keyfile))
    same(doc, expected())
    [note] = [n for n in doc["notes"] if "different from the copy seen first" in n]
    assert f"packet {packets.index(forged) + 1} carries 20 bytes at offset 10 of what 10.0.0.1:50000 sent" in note
    assert "first seen in packet 4" in note


def test_a_capture_that_starts_mid_connection_is_explained_and_says_so(
        tmp_path: Path, keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    packets = tcp_packets(flows, syn=False, client=("10.0.0.1", 443), server=("10.0.0.2", 50000))
    doc = explain_json(capsys, str(capture_of(tmp_path / "c.pcapng", packets)), "--keylog", str(keyfile))
    same(doc, expected())  # the client is the one whose first bytes are a ClientHello, despite its port
    assert any("the capture starts after the connection was opened (no SYN from the client" in n
               for n in doc["notes"])


def test_a_lost_segment_ends_that_direction_at_its_byte_offset(
        tmp_path: Path, keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    packets = tcp_packets(flows, mss=300)
    server_data = [p for p in packets if p.payload and p.src[1] == 443]
    lost = server_data[1]  # inside the server's first flight
    packets.remove(lost)
    doc = explain_json(capsys, str(capture_of(tmp_path / "c.pcapng", packets)), "--keylog", str(keyfile))
    assert doc["complete"] is False
    [note] = [n for n in doc["notes"] if "are not in the capture" in n]
    assert note.startswith("bytes 300 to 599 of what the server (10.0.0.2:443) sent are not in the capture (lost, or "
                           "not captured): nothing it sent from byte 300 on can be read")
    assert [s["title"] for s in doc["steps"]][:1] == ["ClientHello"]  # the client side still explained
    assert doc["steps"][0]["fields"] == expected()["steps"][0]["fields"]


def test_a_snap_length_says_which_packet_was_cut(tmp_path: Path, keyfile: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    packets = tcp_packets(flows, mss=1000)
    cap = tmp_path / "c.pcap"
    write_capture(cap, [(p.time, frame(p)) for p in packets], fmt="pcap", snaplen=300)
    doc = explain_json(capsys, str(cap), "--keylog", str(keyfile))
    cut = [n for n in doc["notes"] if "snap length" in n]
    # 300 - 14 - 20 - 20 = 246 payload bytes kept of the server's first segment (the ClientHello is shorter)
    assert cut[0].startswith("bytes 246 to 999 of what the server (10.0.0.2:443) sent are not in the capture (packet 5 "
                             "was cut short by the capture's snap length, 754 bytes missing): nothing it sent from "
                             "byte 246 on can be read")
    assert doc["steps"][0]["title"] == "ClientHello"


def test_a_resumed_connection_is_listed_as_resumed_and_explained_as_such(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The golden resumed connection in a pcapng after a full one: the listing says which one resumed, and it is
    explained as the abbreviated handshake, exactly as from its flows file."""
    full, full_keys = golden("x25519")
    resumed, resumed_keys = golden("resumed_ticket")
    a = tcp_packets(full, ("10.0.0.1", 50000), ("10.0.0.2", 443))
    b = tcp_packets(resumed, ("10.0.0.1", 50001), ("10.0.0.2", 443))
    for i, p in enumerate(b):
        p.time = a[-1].time + 1 + i
    cap = capture_of(tmp_path / "two.pcapng", a + b)
    keys = tmp_path / "keys.log"
    keys.write_text(full_keys + resumed_keys, encoding="ascii")
    assert main(["explain", str(cap), "--keylog", str(keys), "--explain", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(c["stream"], c["resumed"]) for c in listing["connections"]] == [(0, False), (1, True)]
    doc = explain_json(capsys, str(cap), "--keylog", str(keys), "--stream", "1")
    assert doc["handshake"] == "abbreviated"
    same(doc, expected("resumed_ticket"))


def test_several_connections_are_listed_and_one_is_chosen(tmp_path: Path, keyfile: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = golden("x25519")
    second, _ = golden("secp256r1")
    a = tcp_packets(first, ("10.0.0.1", 50000), ("10.0.0.2", 443))
    b = tcp_packets(second, ("10.0.0.3", 50001), ("10.0.0.4", 8443))
    for i, p in enumerate(b):
        p.time = a[-1].time + 1 + i
    cap = capture_of(tmp_path / "two.pcapng", a + b)
    assert main(["explain", str(cap), "--keylog", str(keyfile)]) == 0
    out = capsys.readouterr().out
    assert "2 TCP connections, 2 TLS; key log: --keylog" in out
    lines = [line.split() for line in out.splitlines() if line.strip().startswith(("0 ", "1 "))]
    # Both golden transcripts negotiate the server's first RSA suite of its default order.
    assert lines == [["0", "10.0.0.1:50000", "10.0.0.2:443", "localhost", "TLS", "1.2",
                      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "new", "yes"],
                     ["1", "10.0.0.3:50001", "10.0.0.4:8443", "localhost", "TLS", "1.2",
                      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "new", "no"]]
    assert "Choose one with --stream N" in out
    same(explain_json(capsys, str(cap), "--keylog", str(keyfile), "--stream", "0"), expected("x25519"))
    chosen = explain_json(capsys, str(cap), "--connection", "10.0.0.4:8443")
    assert dict(chosen["summary"])["group"] == "secp256r1 (0x0017)"
    assert main(["explain", str(cap), "--stream", "7"]) == 1
    assert "TCP stream 7 is not a TLS connection" in capsys.readouterr().out
    assert main(["explain", str(cap), "--explain", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)["connections"]
    assert [(c["stream"], c["in_key_log"], c["explained"]) for c in listing] == [(0, False, True), (1, False, True)]
    assert listing[0]["client_random"] == first[0][1][11:43].hex()


def test_a_decryption_secrets_block_written_by_editcap_is_the_key_log(tmp_path: Path, keyfile: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    require("editcap")
    flows, _ = golden()
    plain = capture_of(tmp_path / "plain.pcapng", tcp_packets(flows))
    with_keys = tmp_path / "with-keys.pcapng"
    subprocess.run(["editcap", "--inject-secrets", f"tls,{keyfile}", str(plain), str(with_keys)], check=True)
    assert read_packet_file(with_keys).keylog.strip() == keyfile.read_text(encoding="ascii").strip()
    doc = explain_json(capsys, str(with_keys))
    same(doc, expected())
    assert "the key log from the capture's Decryption Secrets Block" in doc["subtitle"]


# -- damaged, huge and hostile files ------------------------------------------------------------------


def explain_fails(capsys: pytest.CaptureFixture[str], path: Path, code: int = 2) -> str:
    start = time.monotonic()
    assert main(["explain", str(path)]) == code
    assert time.monotonic() - start < 20
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_garbage_is_refused_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.pcapng"
    garbage.write_bytes(os.urandom(5000).replace(b"\n", b" "))
    assert "is not a pcap or pcapng capture, nor a flows file" in explain_fails(capsys, garbage)
    pcapng_head = tmp_path / "head.pcapng"
    pcapng_head.write_bytes(b"\x0a\x0d\x0d\x0a" + os.urandom(3000))
    assert f"{pcapng_head} is not a readable pcapng file" in explain_fails(capsys, pcapng_head)
    pcap_head = tmp_path / "head.pcap"
    pcap_head.write_bytes(bytes.fromhex("d4c3b2a1") + b"\x02\x00")
    assert f"{pcap_head} is not a readable pcap file" in explain_fails(capsys, pcap_head)


def test_a_truncated_capture_explains_what_it_holds(tmp_path: Path, keyfile: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    cap = capture_of(tmp_path / "c.pcapng", tcp_packets(flows))
    data = cap.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) * 2 // 3])
    doc = json.loads(subprocess.run([sys.executable, "-m", "tls12", "explain", str(cut), "--keylog", str(keyfile),
                                     "--explain", "json"], capture_output=True, text=True, check=True,
                                    timeout=60).stdout)
    assert any("the capture file is damaged or cut short after packet" in n for n in doc["notes"])
    assert doc["steps"][0]["title"] == "ClientHello"


def test_a_hostile_block_length_is_refused_in_bounded_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    data = bytearray(capture_of(tmp_path / "c.pcapng", tcp_packets(flows)).read_bytes())
    shb_len = int.from_bytes(data[4:8], "little")
    data[shb_len + 4 : shb_len + 8] = (0xFFFFFFF0).to_bytes(4, "little")  # the interface block claims 4 GiB
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(bytes(data))
    assert "is not a readable pcapng file" in explain_fails(capsys, bad)


def test_a_huge_capture_is_refused_before_it_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    huge = tmp_path / "huge.pcapng"
    with huge.open("wb") as f:
        f.write(b"\x0a\x0d\x0d\x0a")
        f.truncate(300 * 1024 * 1024)  # sparse: 300 MiB that take no disk
    err = explain_fails(capsys, huge)
    assert "is 300.0 MiB; tls12 explain reads captures of up to 256 MiB" in err


def test_the_limits_on_packets_connections_and_stream_bytes(tmp_path: Path) -> None:
    flows, _ = golden()
    packets = tcp_packets(flows, mss=100)
    cap = capture_of(tmp_path / "c.pcapng", packets)
    with pytest.raises(CaptureError, match="holds more than 10 packets"):
        read_packet_file(cap, Limits(max_packets=10))
    segments = read_packet_file(cap).segments
    with pytest.raises(CaptureError, match="carries more than 0 MiB one way"):
        reassemble(segments, Limits(max_stream_bytes=1000))
    many = [Packet(1.0 + i, ("10.0.0.1", 1000 + i), ("10.0.0.2", 443), 1, 0, 0x02) for i in range(50)]
    many_cap = capture_of(tmp_path / "many.pcapng", many)
    with pytest.raises(CaptureError, match="more than 20 TCP connections"):
        reassemble(read_packet_file(many_cap).segments, Limits(max_streams=20))


def test_without_the_pcap_extra_the_message_says_how_to_get_it(tmp_path: Path) -> None:
    flows, _ = golden()
    cap = capture_of(tmp_path / "c.pcapng", tcp_packets(flows))
    block = ("import sys; sys.modules['dpkt'] = None; sys.modules['pcapng'] = None; "
             "from tls12.cli.main import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", block, "explain", str(cap)], check=False, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("tls12 explain: reading and writing pcap and pcapng files needs the pcap extra: "
                                     "pip install 'tls12[pcap]'")
    demo = subprocess.run([sys.executable, "-c", block, "demo"], check=False, capture_output=True, text=True,
                          timeout=60)
    assert demo.returncode == 0, demo.stderr
    assert "Finished" in demo.stdout


def test_segments_piling_up_behind_a_gap_are_bounded(tmp_path: Path) -> None:
    """A hostile order: 30,000 one-byte segments, last byte first, and byte 0 never sent."""
    client, server = Endpoint("10.0.0.1", 50000), Endpoint("10.0.0.2", 443)
    segments = [TcpSegment(1, 1.0, client, server, 99, 0, 0x02, b"")]
    segments += [TcpSegment(2 + i, 2.0 + i, client, server, 100 + off, 0, 0x18, b"x")
                 for i, off in enumerate(range(30_000, 0, -1))]
    start = time.monotonic()
    [conn] = reassemble(segments)
    assert time.monotonic() - start < 10
    assert conn.pieces == []
    [note] = [n for n in conn.notes if "are not in the capture" in n]
    assert note.startswith("bytes 0 to 20000 of what the client (10.0.0.1:50000) sent are not in the capture")
    assert "(10000 more bytes were captured after the gap, and 20000 segments after those were not kept)" in note
    overlapping = [*segments[:5001], TcpSegment(9, 9.0, client, server, 100 + 25_000, 0, 0x18, b"y" * 5001)]
    with pytest.raises(CaptureError, match="overlap too much to reassemble in bounded time"):
        reassemble(overlapping * 3, Limits(max_overlap_steps=10_000))


def test_a_clienthello_tls12_cannot_read_is_named_not_explained(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = golden()
    hello = bytearray(flows[0][1])
    hello[-2:] = b"\xff\xff"  # the last extension's length now runs past the message
    cap = capture_of(tmp_path / "c.pcapng", tcp_packets([("client", bytes(hello)), *flows[1:]]))
    assert main(["explain", str(cap)]) == 1
    err = capsys.readouterr().err
    assert "is not explained: its ClientHello cannot be read as a TLS 1.2 ClientHello" in err
