"""`tls12 connect --capture FILE.pcapng` and `tls12 serve --capture DIR`: pcapng that tshark opens decrypted.

tshark is given no key log: it must find the keys in the Decryption Secrets
Block. The block must come before the first packet, hold the line the peer's
own key log has for the connection, and the TCP around the records must be
one tshark finds nothing wrong with (no out-of-order, lost or retransmitted
segments flagged).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pcapng
import pytest

from tls12.cli.main import main
from tls12.explain.pcapwrite import ConnectionWriter

from pcap_support import Process, free_port, require, wait_port

pytestmark = pytest.mark.interop


def tshark(path: Path, *args: str) -> str:
    require("tshark")
    result = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "tls.keylog_file:", *args], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def blocks_of(path: Path) -> list[object]:
    return list(pcapng.FileScanner(io.BytesIO(path.read_bytes())))


def check_written(path: Path, keylog_line: str) -> None:
    kinds = [type(b).__name__ for b in blocks_of(path)]
    assert kinds[:3] == ["SectionHeader", "InterfaceDescription", "DecryptionSecrets"], kinds
    assert set(kinds[3:]) == {"EnhancedPacket"}
    dsb = blocks_of(path)[2]
    assert dsb.secrets_data.decode().strip() == keylog_line.strip()  # type: ignore[attr-defined]
    assert tshark(path, "-Y", "tcp.analysis.flags") == ""  # sequence and acknowledgment numbers add up
    flags = tshark(path, "-T", "fields", "-e", "tcp.flags.str").split()
    assert flags[:3] == ["··········S·", "·······A··S·", "·······A····"] and "·······A···F" in flags


def test_connect_capture_is_decrypted_by_tshark_alone(pem_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    require("openssl", "tshark")
    port = free_port()
    keys = tmp_path / "openssl.keys"
    server = Process(["openssl", "s_server", "-accept", str(port), "-cert", pem_dir / "leaf.pem", "-key",
                      pem_dir / "leaf.key", "-www", "-tls1_2", "-keylogfile", keys, "-quiet"])
    try:
        wait_port(port)
        cap = tmp_path / "ours.pcapng"
        assert main(["connect", f"localhost:{port}", "--cafile", str(pem_dir / "ca.pem"), "--http-get", "/",
                     "--capture", str(cap)]) == 0
    finally:
        server.stop()
    line = next(x for x in keys.read_text().splitlines() if x.startswith("CLIENT_RANDOM"))
    check_written(cap, line)
    assert tshark(cap, "-Y", "http", "-T", "fields", "-e", "http.request.uri").split() == ["/"]
    capsys.readouterr()  # what tls12 connect printed
    assert main(["explain", str(cap), "--explain", "json"]) == 0  # tls12 reads the block too
    doc = json.loads(capsys.readouterr().out)
    assert doc["complete"] is True
    sent = [bytes.fromhex(t["plaintext"]) for t in doc["after_handshake"] if t["kind"] == "application_data"]
    assert sent[0].startswith(b"GET / HTTP/1.1\r\nHost: localhost\r\n") and sent[1].startswith(b"HTTP/1.0 200 ok")
    both_ways = tshark(cap, "-q", "-z", "follow,tls,ascii,0")  # the decrypted application data, both ways
    assert "GET / HTTP/1.1" in both_ways and "HTTP/1.0 200 ok" in both_ways and "s_server -accept" in both_ways


def test_serve_capture_writes_one_decrypted_file_per_connection(tmp_path: Path) -> None:
    require("curl", "tshark")
    port = free_port()
    captures = tmp_path / "captures"
    captures.mkdir()
    ca = tmp_path / "ca.pem"
    server = Process([sys.executable, "-m", "tls12", "serve", "--port", str(port), "--www", "--capture", captures,
                      "--write-ca", ca])
    keys = tmp_path / "curl.keys"
    try:
        server.wait_for("listening on", 30)
        for path in ("/one", "/two"):
            subprocess.run(["curl", "-sS", "--cacert", str(ca), f"https://localhost:{port}{path}", "-o", "/dev/null"],
                           check=True, timeout=60, env={"SSLKEYLOGFILE": str(keys), "PATH": "/usr/bin:/bin"})
        server.wait_for("GET /two", 30)
    finally:
        server.stop()
    files = sorted(captures.iterdir(), key=lambda p: int(p.name.split("-")[2]))
    assert [p.name.split("-")[:4] for p in files] == [["tls12", "serve", "1", "127.0.0.1"],
                                                      ["tls12", "serve", "2", "127.0.0.1"]]
    lines = [x for x in keys.read_text().splitlines() if x.startswith("CLIENT_RANDOM")]
    for path, uri, line in zip(files, ("/one", "/two"), lines, strict=True):
        check_written(path, line)
        fields = tshark(path, "-Y", "http", "-T", "fields", "-e", "http.request.uri", "-e", "http.response.code")
        assert fields.split() == [uri, "200"]


def test_ipv6_endpoints_and_long_sends_are_segmented(tmp_path: Path) -> None:
    cap = tmp_path / "v6.pcapng"
    writer = ConnectionWriter(cap, ("2001:db8::1", 50000), ("2001:db8::2", 443), clock=iter(range(1, 100)).__next__)
    writer.key_log("CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48)
    writer.data("client", b"\x16\x03\x01" + bytes(5000))
    writer.data("server", b"x" * 10)
    writer.close()
    assert tshark(cap, "-Y", "tcp.analysis.flags") == ""
    rows = tshark(cap, "-T", "fields", "-e", "ipv6.src", "-e", "tcp.len").splitlines()
    assert [r.split() for r in rows] == [["2001:db8::1", "0"], ["2001:db8::2", "0"], ["2001:db8::1", "0"],
                                         ["2001:db8::1", "1440"], ["2001:db8::1", "1440"], ["2001:db8::1", "1440"],
                                         ["2001:db8::1", "683"], ["2001:db8::2", "10"], ["2001:db8::1", "0"],
                                         ["2001:db8::2", "0"], ["2001:db8::1", "0"]]


def test_without_the_pcap_extra_capture_says_how_to_get_it(tmp_path: Path) -> None:
    block = ("import sys; sys.modules['dpkt'] = None; sys.modules['pcapng'] = None; "
             "from tls12.cli.main import main; sys.exit(main(sys.argv[1:]))")
    for args in (["connect", "127.0.0.1:1", "--capture", str(tmp_path / "x.pcapng")],
                 ["serve", "--port", "0", "--capture", str(tmp_path)]):
        result = subprocess.run([sys.executable, "-c", block, *args], capture_output=True, text=True, timeout=60,
                                check=False)
        assert result.returncode == 2
        assert result.stderr.strip().endswith("needs the pcap extra: pip install 'tls12[pcap]'"), result.stderr
