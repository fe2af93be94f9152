"""Wireshark decrypts tls12: one connection of our server and one of our client, captured on lo.

tshark captures the connection, then reads the capture twice: with our NSS key log
it must show both Finished messages (they are only recognisable once decrypted, and
with the extended master secret they also prove the session hash) and the application
data both ways; with an empty key log it must show neither. A mutual-TLS connection also shows the client's
Certificate and CertificateVerify.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from interop_support import (
    ALL_SUITES,
    BY_CODE,
    LOOPBACK,
    ClientPki,
    ClientScript,
    Leaf,
    Matrix,
    Pki,
    Proc,
    SessionResult,
    assert_client_verified,
    common_name,
    drive_stdin_client,
    echo_server_app,
    free_port,
    our_server,
    require_tool,
    run,
    run_client,
    wait_listening,
)

from tls12.enums import CipherSuite

PEER = "tshark"
pytestmark = pytest.mark.interop


def key_log_writer(path: Path) -> Callable[[str], None]:
    """The `key_log` callback of our configs: one NSS key log line per handshake, appended."""

    def write(line: str) -> None:
        with path.open("a") as f:
            f.write(line + "\n")

    return write


class Capture:
    """tshark capturing `tcp port PORT` on lo into a file, for the duration of a `with` block.

    "Capturing on 'lo'" comes before dumpcap really captures, so entering the block also
    waits until a UDP probe to a sentinel port of ours shows up in tshark's packet list."""

    def __init__(self, port: int, pcap: Path) -> None:
        require_tool("tshark")
        self.port = port
        self.pcap = pcap
        self.sentinel = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sentinel.bind((LOOPBACK, 0))
        probe_port = self.sentinel.getsockname()[1]
        self.proc = Proc(["tshark", "-i", "lo", "-f", f"tcp port {port} or udp port {probe_port}", "-w", pcap,
                          "-P", "-l", "-a", "duration:120"], name="tshark capture", limit=150)

    def __enter__(self) -> Capture:
        try:
            self.proc.wait_for(r"Capturing on", 30)
            deadline = time.monotonic() + 30
            while True:
                self.sentinel.sendto(b"tls12 capture probe", self.sentinel.getsockname())
                with contextlib.suppress(AssertionError):
                    self.proc.wait_for(rb"\bUDP\b", 0.3)
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"tshark captured nothing within 30 s:\n{self.proc.text}")
        except BaseException:
            self.proc.stop()
            self.sentinel.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        # Let the last packets through, then SIGINT to tshark alone: it stops its dumpcap
        # and writes the file out. (A signal to the whole group could lose packets.)
        time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGINT)
        with contextlib.suppress(AssertionError):
            self.proc.wait(30)
        self.proc.stop()
        self.sentinel.close()

    def read(self, key_log: Path, *args: str) -> str:
        rc, text = run(["tshark", "-r", self.pcap, "-d", f"tcp.port=={self.port},tls",
                        "-o", f"tls.keylog_file:{key_log}", *args], name="tshark read", timeout=60)
        assert rc == 0, text
        return text

    def finished(self, key_log: Path) -> list[str]:
        """One line per decrypted Finished message: "<tcp stream> <source port>"."""
        text = self.read(key_log, "-Y", "tls.handshake.type == 20", "-T", "fields", "-e", "tcp.stream",
                         "-e", "tcp.srcport")
        return [line for line in text.splitlines() if re.fullmatch(r"\d+\s+\d+", line.strip())]

    def follow(self, key_log: Path) -> str:
        """The decrypted application data of the first TCP stream, both directions."""
        return self.read(key_log, "-q", "-z", "follow,tls,ascii,0")

    def client_randoms(self) -> list[str]:
        text = self.read(Path("/dev/null"), "-Y", "tls.handshake.type == 1", "-T", "fields",
                         "-e", "tls.handshake.random")
        return [line.strip().replace(":", "") for line in text.splitlines()
                if re.fullmatch(r"[0-9a-f:]{64,95}", line.strip())]


def check_decryption(cap: Capture, key_log: Path, empty: Path, r: SessionResult, ours_port: int,
                     to_server: bytes, to_client: bytes, row_details: dict[str, object]) -> None:
    assert r.error is None and r.handshake and r.clean, r
    lines = key_log.read_text().splitlines()
    randoms = cap.client_randoms()
    assert len(randoms) == 1, randoms
    assert len(lines) == 1 and lines[0].startswith(f"CLIENT_RANDOM {randoms[0]} "), (lines, randoms)

    finished = cap.finished(key_log)
    sources = sorted(int(line.split()[1]) for line in finished)
    assert len(finished) == 2, f"decrypted Finished messages: {finished}"
    assert ours_port in sources and len(set(sources)) == 2, sources  # one from each side
    data = cap.follow(key_log)
    assert to_server.decode().strip() in data and to_client.decode().strip() in data, data

    assert cap.finished(empty) == [], "Finished messages visible without the key log"
    no_keys = cap.follow(empty)
    assert to_server.decode().strip() not in no_keys and to_client.decode().strip() not in no_keys, no_keys
    row_details.update({"finished_decrypted": len(finished), "finished_without_keys": 0,
                        "application_data_decrypted": True})


def test_wireshark_decrypts_our_server(pki: Pki, matrix: Matrix, tmp_path: Path) -> None:
    """openssl s_client -> our server (writing the key log), captured; decrypted with our key log only."""
    require_tool("openssl")
    row = matrix.row("wireshark", "our server (peer: openssl s_client), decrypted with our key log")
    key_log, empty = tmp_path / "server.keylog", tmp_path / "empty.keylog"
    empty.write_text("")
    message = b"wireshark sees this request from s_client\n"
    config = pki.server_config(key_log=key_log_writer(key_log))
    with our_server(config, echo_server_app("peer", message)) as server, \
            Capture(server.port, tmp_path / "server.pcapng") as cap:
        rc, text = drive_stdin_client(
            ["openssl", "s_client", "-connect", f"{LOOPBACK}:{server.port}", "-servername", "localhost",
             "-CAfile", str(pki.ca_pem), "-verify_return_error"],
            name="s_client", message=message, closed_first="peer")
        (r,) = server.wait_results()
    assert rc == 0, text
    matrix.ours(row, r)
    check_decryption(cap, key_log, empty, r, server.port, message, message, row.details)


def test_wireshark_decrypts_our_client(pki: Pki, matrix: Matrix, tmp_path: Path) -> None:
    """Our client (writing the key log) -> openssl s_server -rev, captured; decrypted with our key log only."""
    require_tool("openssl")
    row = matrix.row("wireshark", "our client (peer: openssl s_server), decrypted with our key log")
    key_log, empty = tmp_path / "client.keylog", tmp_path / "empty.keylog"
    empty.write_text("")
    line = b"wireshark sees this line from tls12\n"
    reversed_line = line[:-1][::-1] + b"\n"
    port = free_port()
    with Capture(port, tmp_path / "client.pcapng") as cap, \
            Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", pki.leaf_pem, "-key", pki.leaf_key,
                  "-rev", "-naccept", "1"], name="s_server", limit=60) as server:
        wait_listening(port, 15, server)
        r = run_client(port, ClientScript(line, expect=len(reversed_line)),
                       config=pki.client_config(key_log=key_log_writer(key_log)))
        server.wait(15)
    matrix.ours(row, r)
    assert r.received_head == reversed_line
    check_decryption(cap, key_log, empty, r, port, line, reversed_line, row.details)


def test_wireshark_decrypts_every_suite(pki: Pki, leaves: dict[str, Leaf], matrix: Matrix, tmp_path: Path) -> None:
    """Every suite tls12 speaks, in one capture: our client (one suite enabled per connection, writing the
    key log) -> one openssl s_server with an RSA and an ECDSA P-256 certificate. tshark must name each
    connection's suite, decrypt both Finished messages and the application data of each, and nothing
    without the key log."""
    require_tool("openssl")
    key_log, empty = tmp_path / "suites.keylog", tmp_path / "empty.keylog"
    empty.write_text("")
    rsa, ecdsa = leaves["rsa"], leaves["ecdsa-p256"]
    port = free_port()
    lines = {s.code: f"wireshark sees {s.openssl}\n".encode() for s in ALL_SUITES}
    with Capture(port, tmp_path / "suites.pcapng") as cap, \
            Proc(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", rsa.cert_pem, "-key", rsa.key_pem,
                  "-dcert", ecdsa.cert_pem, "-dkey", ecdsa.key_pem, "-rev", "-naccept", str(len(ALL_SUITES))],
                 name="s_server", limit=120) as server:
        wait_listening(port, 15, server)
        results = []
        for suite in ALL_SUITES:
            config = pki.client_config(cipher_suites=[CipherSuite(suite.code)], key_log=key_log_writer(key_log))
            r = run_client(port, ClientScript(lines[suite.code], expect=len(lines[suite.code])), config=config)
            assert r.error is None and r.suite == suite.iana and r.clean, r
            results.append(r)
        server.wait(15)
    assert len(key_log.read_text().splitlines()) == len(ALL_SUITES)
    # Stream i is the i-th connection: its suite from the ServerHello (in the clear).
    hello = cap.read(empty, "-Y", "tls.handshake.type == 2", "-T", "fields", "-e", "tcp.stream",
                     "-e", "tls.handshake.ciphersuite")
    suite_of = {int(f[0]): int(f[1], 16) for f in (line.split() for line in hello.splitlines())
                if len(f) == 2 and f[0].isdigit()}
    assert sorted(suite_of.values()) == sorted(s.code for s in ALL_SUITES), suite_of
    finished = cap.finished(key_log)
    per_stream: dict[int, int] = {}
    for line in finished:
        per_stream[int(line.split()[0])] = per_stream.get(int(line.split()[0]), 0) + 1
    assert cap.finished(empty) == [], "Finished messages visible without the key log"
    for stream, code in sorted(suite_of.items()):
        suite = BY_CODE[code]
        row = matrix.row("wireshark", f"{suite.openssl}: our client -> openssl s_server, decrypted with our key log")
        row.details.update({"matrix_suite": suite.openssl, "matrix_kx": suite.kx, "matrix_auth": suite.auth,
                            "matrix_cipher": suite.cipher, "key_type": "rsa" if suite.auth == "rsa" else "ecdsa-p256"})
        row.details.update(results[stream].summary())
        assert per_stream.get(stream) == 2, f"{suite.openssl}: decrypted Finished messages {per_stream}"
        data = cap.read(key_log, "-q", "-z", f"follow,tls,ascii,{stream}")
        assert lines[code].decode().strip() in data, f"{suite.openssl}: {data}"
        assert lines[code].decode().strip() not in cap.read(empty, "-q", "-z", f"follow,tls,ascii,{stream}")
        row.details.update({"finished_decrypted": 2, "finished_without_keys": 0, "application_data_decrypted": True})


def test_wireshark_decrypts_mutual_tls(pki: Pki, client_pki: ClientPki, matrix: Matrix, tmp_path: Path) -> None:
    """openssl s_client with an ECDSA client certificate -> our server requiring one (writing the key log).

    tshark decrypts the connection with our key log only, and shows our CertificateRequest naming the client
    CA, then the client's Certificate (its leaf) and CertificateVerify (ecdsa_secp256r1_sha256, 0x0403), both
    from the client's port. In TLS 1.2 those two travel before ChangeCipherSpec, in the clear: tshark shows
    them without the key log too (TLS 1.2 does not hide who the client is)."""
    require_tool("openssl")
    row = matrix.row("wireshark", "mutual TLS, our server (peer: openssl s_client -cert), decrypted with our key log")
    key_log, empty = tmp_path / "mtls.keylog", tmp_path / "empty.keylog"
    empty.write_text("")
    message = b"wireshark sees this request from a client with a certificate\n"
    leaf = client_pki.leaves["ecdsa-p256"]
    config = client_pki.server_config(pki, key_log=key_log_writer(key_log))
    with our_server(config, echo_server_app("peer", message)) as server, \
            Capture(server.port, tmp_path / "mtls.pcapng") as cap:
        rc, text = drive_stdin_client(
            ["openssl", "s_client", "-connect", f"{LOOPBACK}:{server.port}", "-servername", "localhost",
             "-CAfile", str(pki.ca_pem), "-verify_return_error", "-cert", leaf.cert_pem, "-key", leaf.key_pem],
            name="s_client", message=message, closed_first="peer")
        (r,) = server.wait_results()
    assert rc == 0, text
    matrix.ours(row, r)
    assert_client_verified(r, leaf, client_pki)
    check_decryption(cap, key_log, empty, r, server.port, message, message, row.details)

    def handshake(msg_type: int, *fields: str, keys: Path = key_log) -> list[list[str]]:
        out = cap.read(keys, "-Y", f"tls.handshake.type == {msg_type}", "-T", "fields", "-E", "occurrence=a",
                       "-e", "tcp.srcport", *(a for f in fields for a in ("-e", f)))
        return [line.split("\t") for line in out.splitlines() if re.match(r"\d+\t", line)]

    (request,) = handshake(13, "x509sat.uTF8String")
    assert int(request[0]) == server.port and "tls12 interop client CA" in request[1].split(","), request
    certificates = handshake(11, "x509sat.uTF8String")
    (client_certificate,) = [c for c in certificates if int(c[0]) != server.port]
    assert common_name(leaf) in client_certificate[1].split(","), certificates
    (verify,) = handshake(15, "tls.handshake.sig_hash_alg")
    assert int(verify[0]) == int(client_certificate[0]) and int(verify[1], 16) == 0x0403, verify
    assert handshake(11, "x509sat.uTF8String", keys=empty) == certificates
    assert handshake(15, "tls.handshake.sig_hash_alg", keys=empty) == [verify]
    row.details.update({"client_certificate": common_name(leaf), "certificate_verify_scheme": "0x0403"})
