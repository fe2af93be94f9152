"""Captures of headless Chromium (BoringSSL) and of Java (SunJSSE) talking to `openssl s_server`, then explained.

Both are taken by dumpcap on 127.0.0.1 in the test, as in test_pcap_peers.py.
Chromium offers TLS 1.3 and 1.2 with GREASE, a post-quantum key share and ECH
GREASE; it writes its key log to $SSLKEYLOGFILE and may open more than one
connection (a second one for /favicon.ico): the capture's listing names each,
and the one that carried `GET /` is explained. JSSE writes no key log, so its
keys come from the server's `-keylogfile`.

The values are checked against the key logs (client and server agree), against
the wire as tshark reads it (client random, suite, group, extended master
secret, per TCP stream), against the suite the server itself reports in its
`-www` page, and against what the client received (Chromium's DOM, the bytes
the Java client printed).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from test_pcap_peers import app_data, check_against_keylog_and_wire, explain, field, keylog_lines, s_server, wire
from tls12.cli.main import main

from pcap_support import Dumpcap, Process, free_port, require

pytestmark = pytest.mark.interop

EMS = 23  # extended_master_secret (RFC 7627)


def stdname(openssl_name: str) -> str:
    """The IANA name of a TLS 1.2 suite OpenSSL names, as `openssl ciphers -stdname` gives it."""
    out = subprocess.run(["openssl", "ciphers", "-stdname", "-tls1_2", openssl_name], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    [iana] = [line.split()[0] for line in out.splitlines() if line.split()[2:3] == [openssl_name]]
    return iana


def served_suite(received: bytes) -> str:
    """The suite `openssl s_server -www` says it negotiated, in the page the client received."""
    m = re.search(rb"New, TLSv1\.2, Cipher is ([\w-]+)", received)
    assert m is not None, received[:2000]
    return stdname(m.group(1).decode())


def check_group_and_ems(doc: dict[str, Any], cap: Path, stream: int | None = None) -> None:
    """The explanation's group and extended master secret are the wire's (ServerKeyExchange, ServerHello)."""
    [curve] = wire(cap, "tls.handshake.server_named_curve", 12, stream=stream)
    assert doc["summary"]["group"].endswith(f"(0x{int(curve, 16):04X})")
    [extensions] = wire(cap, "tls.handshake.extension.type", 2, stream=stream)
    ems = EMS in {int(t) for t in extensions.split(",")}
    assert doc["summary"]["extended master secret"] == ("yes" if ems else "no")
    master = next(d for s in doc["steps"] for d in s["derivations"] if d["label"] == "master_secret")
    assert ("'extended master secret', session_hash" if ems else "'master secret', client_random") in master["formula"]


def check_session_ticket(doc: dict[str, Any], cap: Path, stream: int | None = None) -> None:
    """OpenSSL hands out a session ticket: the ServerHello's extension promises it (not "asks for" it), and the
    NewSessionTicket step shows the wire's ticket."""
    ticket = wire(cap, "tls.handshake.session_ticket", 4, stream=stream)
    step = next((s for s in doc["steps"] if s["id"] == "new_session_ticket"), None)
    assert (step is not None) == bool(ticket)
    if step is None:
        return
    hello = next(s for s in doc["steps"] if s["title"] == "ServerHello")
    extensions = next(f for f in hello["fields"] if f["name"] == "extensions")["children"]
    promise = next(f["meaning"] for f in extensions if f["name"] == "session_ticket (0x0023)")
    assert "NewSessionTicket" in promise and "asks" not in promise
    session_id = next(f for f in hello["fields"] if f["name"] == "session_id")  # empty: the ticket resumes it
    assert "not be resumed" not in session_id["value"] + session_id["meaning"]
    shown = next(f["value"] for f in step["fields"] if f["name"] == "ticket")
    prefix, size = re.fullmatch(r"([0-9a-f]+)… \((\d+) bytes\)", shown).groups()  # type: ignore[union-attr]
    assert ticket[0].startswith(prefix) and len(ticket[0]) == 2 * int(size)


def nss_home(home: Path, ca: Path) -> Path:
    """$HOME with .pki/nssdb trusting the CA: where Chromium on Linux looks for the trust it adds."""
    require("certutil")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    for argv in (["certutil", "-d", f"sql:{db}", "-N", "--empty-password"],
                 ["certutil", "-d", f"sql:{db}", "-A", "-n", "tls12 test CA", "-t", "CT,C,", "-i", str(ca)]):
        subprocess.run(argv, capture_output=True, timeout=30, check=True)
    return home


def test_chromium_to_openssl_s_server(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("chromium", "tshark")
    home = nss_home(tmp_path / "home", pem_dir / "ca.pem")
    port, cap = free_port(), tmp_path / "chromium.pcapng"
    client_keys, server_keys = tmp_path / "chromium.keys", tmp_path / "server.keys"
    server = s_server(pem_dir, port, server_keys, "-tls1_2")
    try:
        with Dumpcap(port, cap):
            browser = Process(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
                               "--host-resolver-rules=MAP localhost 127.0.0.1", "--dump-dom",
                               f"https://localhost:{port}/"],
                              env={"HOME": str(home), "SSLKEYLOGFILE": str(client_keys)})
            try:
                assert browser.wait(90) == 0, browser.text
            finally:
                browser.stop()
    finally:
        server.stop()
    suite = served_suite(browser.output)  # in the page as Chromium rendered it (--dump-dom)

    # The listing: every TLS connection of the capture, the ones tshark sees ClientHellos in.
    assert main(["explain", str(cap), "--keylog", str(client_keys), "--explain", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    hello_streams = [int(s) for s in wire(cap, "tcp.stream", 1)]
    if "connections" in first:  # several connections: listed, none explained
        listed = first["connections"]
        assert [c["stream"] for c in listed] == hello_streams
        for c in listed:
            assert (c["version"], c["sni"], c["in_key_log"], c["explained"]) == ("TLS 1.2", "localhost", True, True)
            assert [c["client_random"]] == wire(cap, "tls.handshake.random", 1, stream=c["stream"])
    else:  # one connection: explained directly
        assert hello_streams == [0] and first["complete"] is True

    docs = {n: explain(capsys, cap, "--keylog", str(client_keys), "--stream", str(n)) for n in hello_streams}
    requests = {n: app_data(doc, "client") for n, doc in docs.items()}
    [page] = [n for n, sent in requests.items() if sent.startswith(b"GET / HTTP/1.1\r\nHost: localhost:")]
    doc = docs[page]
    response = app_data(doc, "server")
    assert response.startswith(b"HTTP/1.0 200 ok\r\n")
    random = check_against_keylog_and_wire(doc, cap, client_keys, suite, stream=page)
    assert keylog_lines(server_keys)[random] == keylog_lines(client_keys)[random]  # both ends logged one secret
    check_group_and_ems(doc, cap, stream=page)
    check_session_ticket(doc, cap, stream=page)
    assert field(doc, "ClientHello", "random") == random
    assert served_suite(response) == suite  # the page decrypted from the capture
    # Every other connection that carried a request was the favicon's, and is explained in full too.
    for n, sent in requests.items():
        if n != page and sent:
            assert sent.startswith(b"GET /favicon.ico HTTP/1.1\r\n"), sent[:200]
            check_against_keylog_and_wire(docs[n], cap, client_keys, suite, stream=n)


JAVA_CLIENT = """// A client on Java's SunJSSE (its default offer: TLS 1.3 and 1.2): one GET, the response to stdout.
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;
import javax.net.ssl.*;

public class JavaClient {
    public static void main(String[] args) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = new FileInputStream(args[1])) {
            trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket()) {
            s.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 10000);
            s.setSoTimeout(30000);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName("localhost")));
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.getOutputStream().write("GET /from-java HTTP/1.0\\r\\n\\r\\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            s.getInputStream().transferTo(System.out);
            System.out.flush();
        }
    }
}
"""


def test_java_client_to_openssl_s_server(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSSE writes no key log: the server's (`openssl s_server -keylogfile`) opens the records."""
    require("javac", "java", "tshark")
    (tmp_path / "JavaClient.java").write_text(JAVA_CLIENT)
    subprocess.run(["javac", "-d", str(tmp_path), str(tmp_path / "JavaClient.java")], capture_output=True,
                   timeout=180, check=True)
    port, cap, keys = free_port(), tmp_path / "java.pcapng", tmp_path / "server.keys"
    server = s_server(pem_dir, port, keys, "-tls1_2")
    try:
        with Dumpcap(port, cap):
            client = subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", str(tmp_path),
                                     "JavaClient", str(port), str(pem_dir / "ca.pem")], capture_output=True,
                                    timeout=90, check=False)
    finally:
        server.stop()
    assert client.returncode == 0, client.stderr.decode(errors="replace")
    doc = explain(capsys, cap, "--keylog", str(keys))  # one connection: explained directly
    assert doc["summary"]["server name (SNI)"] == "localhost"
    assert app_data(doc, "client") == b"GET /from-java HTTP/1.0\r\n\r\n"
    response = app_data(doc, "server")
    assert response == client.stdout  # what the Java client received, byte for byte
    assert response.startswith(b"HTTP/1.0 200 ok\r\n")
    check_against_keylog_and_wire(doc, cap, keys, served_suite(client.stdout))
    check_group_and_ems(doc, cap)
    check_session_ticket(doc, cap)
    # OpenSSL's explicit GCM nonces count up from a random start, not from the sequence number (RFC 5288 §3
    # allows either): the record-protection paragraph must not say they are the sequence number.
    records = [t["record"] for t in doc["after_handshake"] if t["from"] == "server"]
    assert records and all(int(r["explicit_nonce"], 16) != r["seq"] for r in records)
    assert "which is its sequence number" not in doc["record_protection"]
    assert "explicit nonce" in doc["record_protection"]
