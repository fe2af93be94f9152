"""Captures of connections tls12 did not make, taken by dumpcap on 127.0.0.1 in the test, then explained.

curl to `openssl s_server` (each suite tls12 explains in full today), `openssl
s_client` to `tls12 serve`, a handshake that fails (curl does not know the
CA), and TLS 1.3 (OpenSSL's default), which must be named and skipped. The
explanation's values are checked against the peer's own key log (client
random, master secret), against the wire as tshark reads it (client random,
suite), and against what the peers sent and received (the decrypted
application data). The same connection captured on `any` (Linux cooked SLL,
classic pcap; SLL2, pcapng) and a capture rewritten with the libraries
(segments cut, reordered and duplicated) give the same explanation.

Suites of the handshake step of the suites issue (DHE_RSA, static RSA,
ECDHE_ECDSA) join the parametrisation of `test_curl_to_openssl_s_server` once
they are merged: `tls12.explain` reads the suite from the table.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import dpkt
import pcapng
import pytest
from pcapng import blocks

from tls12.cli.main import main
from tls12.explain.connections import find_tls
from tls12.explain.pcapfile import read_packet_file
from tls12.explain.tcpstream import reassemble

from pcap_support import Dumpcap, Process, free_port, require, wait_port, write_capture

pytestmark = pytest.mark.interop

SUITES = {
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}


def s_server(pem_dir: Path, port: int, keys: Path, *args: str) -> Process:
    require("openssl")
    server = Process(["openssl", "s_server", "-accept", str(port), "-cert", pem_dir / "leaf.pem", "-key",
                      pem_dir / "leaf.key", "-www", "-keylogfile", keys, "-quiet", *args])
    wait_port(port)
    return server


def curl(port: int, keys: Path, out: Path, *args: str, check: bool = True) -> int:
    require("curl")
    result = subprocess.run(["curl", "-sS", f"https://localhost:{port}/", "-o", str(out), *args], timeout=60,
                            env={"SSLKEYLOGFILE": str(keys), "PATH": "/usr/bin:/bin"}, capture_output=True,
                            check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result.returncode


def explain(capsys: pytest.CaptureFixture[str], cap: Path, *args: str) -> dict[str, Any]:
    assert main(["explain", str(cap), "--explain", "json", "--reveal-secrets", *args]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def keylog_lines(path: Path) -> dict[str, str]:
    """client random -> master secret, read by hand from an NSS key log."""
    out = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "CLIENT_RANDOM":
            out[parts[1]] = parts[2]
    return out


def wire(cap: Path, field: str, handshake_type: int, *, stream: int | None = None) -> list[str]:
    """A field of the handshake messages of a type as tshark reads them (in TCP stream `stream` only, if given)."""
    require("tshark")
    where = f"tls.handshake.type == {handshake_type}" + (f" && tcp.stream == {stream}" if stream is not None else "")
    result = subprocess.run(["tshark", "-n", "-r", str(cap), "-Y", where, "-T", "fields", "-e", field],
                            capture_output=True, text=True, timeout=60, check=True)
    return [line.strip().replace(":", "") for line in result.stdout.splitlines() if line.strip()]


def field(doc: dict[str, Any], step: str, name: str) -> str:
    s = next(s for s in doc["steps"] if s["title"] == step)
    value: str = next(f["value"] for f in s["fields"] if f["name"] == name)
    return value


def app_data(doc: dict[str, Any], sender: str) -> bytes:
    return b"".join(bytes.fromhex(t["plaintext"]) for t in doc["after_handshake"]
                    if t["kind"] == "application_data" and t["from"] == sender)


def check_against_keylog_and_wire(doc: dict[str, Any], cap: Path, keys: Path, suite: str, *,
                                  stream: int | None = None) -> str:
    """The explanation's client random, master secret and suite are the key log's and the wire's (of TCP stream
    `stream`, when the capture holds several connections)."""
    assert doc["complete"] is True, doc["notes"]
    checks = {c["what"]: c["status"] for s in doc["steps"] for c in s["checks"]}
    assert checks["client Finished"] == checks["server Finished"] == "ok"
    random = field(doc, "ClientHello", "random")
    assert wire(cap, "tls.handshake.random", 1, stream=stream) == [random]
    master = next(d["value"] for s in doc["steps"] for d in s["derivations"] if d["label"] == "master_secret")
    assert keylog_lines(keys)[random] == master
    assert doc["summary"]["cipher suite"].startswith(suite + " ")
    assert [int(v, 16) for v in wire(cap, "tls.handshake.ciphersuite", 2, stream=stream)] == [
        int(doc["summary"]["cipher suite"].split("(")[1].rstrip(")"), 16)]
    return random


@pytest.mark.parametrize("openssl_suite", list(SUITES))
def test_curl_to_openssl_s_server(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  openssl_suite: str) -> None:
    port, cap, keys, page = free_port(), tmp_path / "curl.pcapng", tmp_path / "curl.keys", tmp_path / "page"
    server = s_server(pem_dir, port, tmp_path / "server.keys", "-tls1_2", "-cipher", openssl_suite)
    try:
        with Dumpcap(port, cap):
            curl(port, keys, page, "--cacert", str(pem_dir / "ca.pem"), "--tls-max", "1.2")
    finally:
        server.stop()
    doc = explain(capsys, cap, "--keylog", str(keys))
    check_against_keylog_and_wire(doc, cap, keys, SUITES[openssl_suite])
    assert app_data(doc, "client").startswith(b"GET / HTTP/1.1\r\nHost: localhost:")
    response = app_data(doc, "server")
    assert response.startswith(b"HTTP/1.0 200 ok\r\n")
    assert response.split(b"\r\n\r\n", 1)[1] == page.read_bytes()  # what curl received and saved


def test_openssl_s_client_to_tls12_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("openssl")
    port, cap, keys, ca = free_port(), tmp_path / "s_client.pcapng", tmp_path / "s_client.keys", tmp_path / "ca.pem"
    server = Process([sys.executable, "-m", "tls12", "serve", "--port", str(port), "--www", "--write-ca", ca])
    try:
        server.wait_for("listening on", 30)
        with Dumpcap(port, cap):
            client = Process(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca, "-keylogfile",
                              keys, "-ign_eof", "-quiet"], stdin=b"GET /hello HTTP/1.0\r\n\r\n")
            try:
                assert client.wait(30) == 0, client.text
            finally:
                client.stop()
    finally:
        server.stop()
    doc = explain(capsys, cap, "--keylog", str(keys))
    # s_client lists AES-256-GCM first, no ChaCha20 first: the server's order (Mozilla intermediate) wins,
    # and its first suite the throwaway RSA certificate serves is ECDHE-RSA-AES128-GCM-SHA256.
    check_against_keylog_and_wire(doc, cap, keys, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    assert app_data(doc, "client") == b"GET /hello HTTP/1.0\r\n\r\n"
    response = app_data(doc, "server")
    assert response.startswith(b"HTTP/1.0 200 OK\r\n") and b"<h1>tls12 serve</h1>" in response
    assert response.split(b"\r\n\r\n", 1)[1] in client.output  # what s_client printed


def test_a_failed_handshake_is_explained_up_to_the_alert(pem_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    port, cap, keys = free_port(), tmp_path / "unknown-ca.pcapng", tmp_path / "curl.keys"
    server = s_server(pem_dir, port, tmp_path / "server.keys", "-tls1_2")
    try:
        with Dumpcap(port, cap):
            assert curl(port, keys, tmp_path / "page", "--tls-max", "1.2", check=False) == 60  # peer not verified
    finally:
        server.stop()
    doc = explain(capsys, cap, "--keylog", str(keys))  # curl logged no key: none was derived
    assert doc["complete"] is False
    assert [s["title"] for s in doc["steps"]] == ["ClientHello", "ServerHello", "Certificate"]
    failure = doc["failure"]
    assert (failure["step_title"], failure["detected_by"], failure["alert_name"]) == ("Certificate", "client",
                                                                                      "unknown_ca")
    [alert] = [t for t in doc["after_handshake"] if t["kind"] == "alert"]
    assert (alert["from"], alert["alert_level"], alert["alert_name"]) == ("client", 2, "unknown_ca")
    assert [n["title"] for n in doc["not_reached"] if n["sent"]] == ["ServerKeyExchange", "ServerHelloDone"]
    assert field(doc, "ClientHello", "random") == wire(cap, "tls.handshake.random", 1)[0]


def test_tls13_is_named_and_skipped(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port, cap, keys = free_port(), tmp_path / "mixed.pcapng", tmp_path / "curl.keys"
    server = s_server(pem_dir, port, tmp_path / "server.keys")  # OpenSSL's default: TLS 1.3
    try:
        with Dumpcap(port, cap):
            curl(port, keys, tmp_path / "page13", "--cacert", str(pem_dir / "ca.pem"))
            curl(port, keys, tmp_path / "page12", "--cacert", str(pem_dir / "ca.pem"), "--tls-max", "1.2")
    finally:
        server.stop()
    assert main(["explain", str(cap), "--explain", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)  # one TLS 1.2 connection: explained directly, the other noted
    assert "steps" in listing
    assert any("is TLS 1.3: not explained" in n for n in listing["notes"])
    assert main(["explain", str(cap), "--stream", "0"]) == 1
    err = capsys.readouterr().err
    assert "TCP stream 0 (127.0.0.1:" in err and "it is TLS 1.3; tls12 explains TLS 1.2 only" in err
    found = find_tls(reassemble(read_packet_file(cap).segments), {})
    assert [(c.version, c.explainable, c.sni) for c in found] == [("TLS 1.3", False, "localhost"),
                                                                  ("TLS 1.2", True, "localhost")]


@pytest.mark.parametrize(("link", "fmt"), [("LINUX_SLL", "pcap"), ("LINUX_SLL2", "pcapng")])
def test_a_capture_on_any_in_linux_cooked_format(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 link: str, fmt: str) -> None:
    port, cap, keys = free_port(), tmp_path / f"any.{fmt}", tmp_path / "curl.keys"
    server = s_server(pem_dir, port, tmp_path / "server.keys", "-tls1_2")
    try:
        with Dumpcap(port, cap, interface="any", extra=["-y", link, *(["-P"] if fmt == "pcap" else [])]):
            curl(port, keys, tmp_path / "page", "--cacert", str(pem_dir / "ca.pem"), "--tls-max", "1.2")
    finally:
        server.stop()
    head = cap.read_bytes()[:4]
    assert head == (b"\x0a\x0d\x0d\x0a" if fmt == "pcapng" else bytes.fromhex("d4c3b2a1"))
    assert read_packet_file(cap).link_types == {113 if link == "LINUX_SLL" else 276}
    doc = explain(capsys, cap, "--keylog", str(keys))
    check_against_keylog_and_wire(doc, cap, keys, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


def rewrite(cap: Path, out: Path) -> int:
    """The capture's TCP data segments cut in three, sent 3-1-2, the first piece twice; returns the packet count."""
    items: list[tuple[float, bytes]] = []
    with warnings.catch_warnings():  # python-pcapng's own IDB schema warns about its if_tsresol option
        warnings.simplefilter("ignore", DeprecationWarning)
        scanned = list(pcapng.FileScanner(io.BytesIO(cap.read_bytes())))
    for block in scanned:
        if not isinstance(block, blocks.EnhancedPacket):
            continue
        eth = dpkt.ethernet.Ethernet(bytes(block.packet_data))
        tcp = getattr(eth.data, "data", None)
        if not isinstance(tcp, dpkt.tcp.TCP) or len(tcp.data) < 3:
            items.append((0.0, bytes(eth)))
            continue
        data, third = bytes(tcp.data), len(tcp.data) // 3
        pieces = [(0, data[:third]), (third, data[third : 2 * third]), (2 * third, data[2 * third :])]
        for offset, piece in (pieces[2], pieces[0], pieces[1], pieces[0]):
            copy = dpkt.ethernet.Ethernet(bytes(eth))
            copy.data.data.seq = (tcp.seq + offset) % 2**32
            copy.data.data.data = piece
            copy.data.data.sum = 0
            copy.data.sum = 0
            copy.data.len = copy.data.__hdr_len__ + len(copy.data.opts) + len(copy.data.data)
            items.append((0.0, bytes(copy)))
    write_capture(out, [(1_700_000_000 + i / 1000, frame) for i, (_, frame) in enumerate(items)])
    return len(items)


def test_a_rewritten_capture_explains_like_the_clean_one(pem_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    port, cap, keys = free_port(), tmp_path / "clean.pcapng", tmp_path / "curl.keys"
    server = s_server(pem_dir, port, tmp_path / "server.keys", "-tls1_2")
    try:
        with Dumpcap(port, cap):
            curl(port, keys, tmp_path / "page", "--cacert", str(pem_dir / "ca.pem"), "--tls-max", "1.2")
    finally:
        server.stop()
    shuffled = tmp_path / "shuffled.pcapng"
    assert rewrite(cap, shuffled) > 30
    clean, rewritten = explain(capsys, cap, "--keylog", str(keys)), explain(capsys, shuffled, "--keylog", str(keys))
    assert clean["complete"] is True
    for key in ("steps", "after_handshake", "summary", "flights", "complete", "failure"):
        assert rewritten[key] == clean[key], key


GO_CLIENT = """// A TLS 1.2 client on Go's crypto/tls: one GET, its keys to a key log.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
)

func main() {
	addr, caFile, keyLog := os.Args[1], os.Args[2], os.Args[3]
	pem, err := os.ReadFile(caFile)
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	keys, err := os.Create(keyLog)
	if err != nil {
		panic(err)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost",
		MaxVersion: tls.VersionTLS12, KeyLogWriter: keys})
	if err != nil {
		panic(err)
	}
	io.WriteString(conn, "GET /from-go HTTP/1.0\\r\\n\\r\\n")
	body, _ := io.ReadAll(conn)
	os.Stdout.Write(body)
	conn.Close()
}
"""


def test_go_client_to_tls12_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Go 1.19's crypto/tls offers no extended master secret: the classic derivation is explained."""
    require("go")
    (tmp_path / "main.go").write_text(GO_CLIENT)
    env = {"HOME": str(tmp_path), "GOCACHE": str(tmp_path / "cache"), "GOPATH": str(tmp_path / "gopath"),
           "GOPROXY": "off", "GOFLAGS": "", "GO111MODULE": "on", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
           "PATH": "/usr/bin:/bin"}
    subprocess.run(["go", "build", "-o", str(tmp_path / "goclient"), "main.go"], cwd=tmp_path, env=env, check=True,
                   timeout=300, capture_output=True)
    port, cap, keys, ca = free_port(), tmp_path / "go.pcapng", tmp_path / "go.keys", tmp_path / "ca.pem"
    server = Process([sys.executable, "-m", "tls12", "serve", "--port", str(port), "--www", "--write-ca", ca])
    try:
        server.wait_for("listening on", 30)
        with Dumpcap(port, cap):
            client = subprocess.run([str(tmp_path / "goclient"), f"127.0.0.1:{port}", str(ca), str(keys)],
                                    capture_output=True, timeout=60, check=True)
    finally:
        server.stop()
    doc = explain(capsys, cap, "--keylog", str(keys))
    # Go lists AES-128-GCM first (a machine with AES instructions), no ChaCha20 first: the server's order
    # wins, and its first suite the throwaway RSA certificate serves is ECDHE-RSA-AES128-GCM-SHA256.
    check_against_keylog_and_wire(doc, cap, keys, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    assert doc["summary"]["extended master secret"] == "no"
    master = next(d for s in doc["steps"] for d in s["derivations"] if d["label"] == "master_secret")
    assert "'master secret', client_random + server_random" in master["formula"]
    assert app_data(doc, "client") == b"GET /from-go HTTP/1.0\r\n\r\n"
    assert app_data(doc, "server") == client.stdout  # what the Go client read


def test_tls11_is_named_and_skipped(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port, cap = free_port(), tmp_path / "tls11.pcapng"
    old = ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]  # OpenSSL 3 speaks TLS 1.1 only at security level 0
    server = s_server(pem_dir, port, tmp_path / "server.keys", *old)
    try:
        with Dumpcap(port, cap):
            client = Process(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *old], stdin=b"")
            try:
                client.wait(30)
            finally:
                client.stop()
    finally:
        server.stop()
    assert main(["explain", str(cap)]) == 1
    err = capsys.readouterr().err
    assert "TCP stream 0 (127.0.0.1:" in err and "is not explained: it is TLS 1.1; tls12 explains TLS 1.2 only" in err


def test_over_ipv6_loopback(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("openssl", "curl")
    port, cap, keys, page = free_port(), tmp_path / "v6.pcapng", tmp_path / "curl.keys", tmp_path / "page"
    server = Process(["openssl", "s_server", "-6", "-accept", f"[::1]:{port}", "-cert", pem_dir / "leaf.pem",
                      "-key", pem_dir / "leaf.key", "-www", "-quiet", "-tls1_2"])
    try:
        wait_port(port, host="::1")
        with Dumpcap(port, cap):
            assert curl(port, keys, page, "--cacert", str(pem_dir / "ca.pem"), "--connect-to",
                        f"localhost:{port}:[::1]:{port}") == 0
    finally:
        server.stop()
    doc = explain(capsys, cap, "--keylog", str(keys))
    check_against_keylog_and_wire(doc, cap, keys, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    assert doc["subtitle"].startswith("[::1]:")
    assert app_data(doc, "server").split(b"\r\n\r\n", 1)[1] == page.read_bytes()
