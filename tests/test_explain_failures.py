"""A failed handshake is explained at the step that failed: what was expected, what arrived, which alert.

Three failures, each traced at both ends, at one end only, or (for the
unknown CA) replayed from a capture by an observer that saw only the alert:
an unknown CA and a wrong host name (both refused by the client at step 3,
Certificate), and no common cipher suite (refused by the server at step 1,
ClientHello, with OpenSSL as the client, since tls12's own client offers
only the suite tls12's server speaks).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.explain import Recorder, Tagged, render
from tls12.explain.capture import C2S, S2C, Capture
from tls12.explain.replay import replay
from tls12.io.sync import BlockingTLS

from helpers import StdlibPeer

LATER_STEPS = ["Step 4  ServerKeyExchange", "Step 5  ServerHelloDone", "Step 6  ClientKeyExchange",
               "Step 7a", "Step 7b", "Step 8a", "Step 8b"]


@pytest.fixture(scope="module")
def other_ca() -> CertificateAuthority:
    return CertificateAuthority("some other CA")


def _run(client: ClientConnection, server: ServerConnection) -> list[tuple[str, bytes]]:
    """Shuttle bytes until both go quiet, delivering the alerts of a failing side; returns the flows."""
    flows: list[tuple[str, bytes]] = []
    for _ in range(10):
        moved = False
        for name, sender, receiver in (("client", client, server), ("server", server, client)):
            data = sender.data_to_send()
            if data:
                moved = True
                flows.append((name, data))
                if receiver.failure is None:
                    with contextlib.suppress(TLSError):
                        receiver.receive_data(data)
        if not moved:
            break
    assert client.failure is not None or server.failure is not None
    return flows


def _connect(client_config: ClientConfig, leaf: IssuedCertificate, name: str,
             traced: tuple[str, ...]) -> tuple[list[Tagged], list[tuple[str, bytes]]]:
    recorder = Recorder()
    client = ClientConnection(client_config, server_name=name,
                              tracer=recorder.tracer("client") if "client" in traced else None)
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=recorder.tracer("server") if "server" in traced else None)
    flows = _run(client, server)
    return recorder.events, flows


def _json(events: list[Tagged]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(events, "json"))
    return doc


def _assert_stops_at(text: str, heading: str) -> None:
    """The failed step is marked, and nothing after it is explained as if it had happened."""
    line = next(line for line in text.splitlines() if line.startswith(heading))
    assert "✗ FAILED HERE" in line, line
    for later in LATER_STEPS:
        assert later not in text or text.index(later) < text.index(heading), later


TRACED = [("client", "server"), ("client",), ("server",)]


@pytest.mark.parametrize("traced", TRACED, ids=["both", "client", "server"])
def test_unknown_ca_is_explained_at_the_certificate(traced: tuple[str, ...], other_ca: CertificateAuthority,
                                                    leaf: IssuedCertificate) -> None:
    events, _ = _connect(ClientConfig(trust_anchors=[other_ca.certificate]), leaf, "localhost", traced)
    doc = _json(events)
    failure = doc["failure"]
    assert failure["step"] == "3" and failure["step_title"] == "Certificate"
    assert failure["detected_by"] == "client"
    assert failure["alert"] == 48 and failure["alert_name"] == "unknown_ca" and failure["alert_direction"] == "sent"
    assert "trusted root" in failure["expected"]
    assert failure["received"].startswith("Certificate: a chain for CN=localhost")
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3"]
    assert doc["steps"][-1]["status"] == "failed" and doc["complete"] is False
    # The server had sent the rest of its flight; only a trace of the server can know it.
    sent = "server" in traced
    not_reached = {n["number"]: n["sent"] for n in doc["not_reached"]}
    assert not_reached == {"4": sent, "5": sent, "6": False, "7a": False, "7b": False, "8": False, "8a": False,
                           "8b": False}
    if "client" in traced:
        assert failure["inferred"] is False and failure["error_type"] == "UnknownCA"
        checks = doc["steps"][-1]["checks"]
        assert [(c["by"], c["what"], c["status"]) for c in checks] == [("client", "certificate chain", "failed")]
    else:  # only the server was traced: it saw the alert, and the step is inferred from it
        assert failure["inferred"] is True
    if traced == ("client", "server"):
        assert "the server received it while waiting for ClientKeyExchange" in failure["peer_view"]
    text = render(events, "text")
    _assert_stops_at(text, "Step 3  Certificate")
    assert "✗ The connection failed at step 3 (Certificate), detected by the client." in text
    assert "fatal unknown_ca (48), sent by the client" in text
    assert ("4 ServerKeyExchange (sent, never processed)" in text) == sent


@pytest.mark.parametrize("traced", [("client", "server"), ("client",)], ids=["both", "client"])
def test_wrong_host_name_is_explained_at_the_certificate(traced: tuple[str, ...], ca: CertificateAuthority,
                                                         leaf: IssuedCertificate) -> None:
    events, _ = _connect(ClientConfig(trust_anchors=[ca.certificate]), leaf, "www.example.com", traced)
    doc = _json(events)
    failure = doc["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"]) == ("3", "client", "bad_certificate")
    assert failure["error_type"] == "HostnameMismatch" and "www.example.com" in failure["error"]
    assert "names: localhost, 127.0.0.1" in failure["received"]
    checks = {c["what"]: c["status"] for c in doc["steps"][-1]["checks"]}
    # The chain itself was fine; the name was not (and "not checked" is not said of the name).
    assert checks["certificate chain"] == "ok" and checks["host name"] == "failed"
    text = render(events, "text")
    _assert_stops_at(text, "Step 3  Certificate")
    assert "client checked host name: ✗ failed — certificate verify failed: Hostname mismatch" in text
    assert "fatal bad_certificate (42), sent by the client" in text


def _stdlib_client_against_ours(pem_dir: Path, leaf: IssuedCertificate) -> list[Tagged]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem_dir / "ca.pem")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-GCM-SHA256")  # static RSA: tls12 never enables it unless told to
    peer = StdlibPeer(ctx, server_side=False, server_hostname="localhost")
    recorder = Recorder()
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=recorder.tracer("server"))
    assert not peer.handshake_step()
    with pytest.raises(TLSError, match="no cipher suite in common"):
        server.receive_data(peer.outgoing.read())
    peer.incoming.write(server.data_to_send())
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        peer.obj.do_handshake()
    return recorder.events


def test_no_common_suite_is_explained_at_the_client_hello(pem_dir: Path, leaf: IssuedCertificate) -> None:
    events = _stdlib_client_against_ours(pem_dir, leaf)
    doc = _json(events)
    failure = doc["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"], failure["alert_direction"]) == \
        ("1", "server", "handshake_failure", "sent")
    assert failure["error"] == "no cipher suite in common" and failure["error_type"] == "HandshakeFailure"
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256 (0x009C)" in failure["received"]
    assert [s["number"] for s in doc["steps"]] == ["1"] and doc["steps"][0]["status"] == "failed"
    assert not any(n["sent"] for n in doc["not_reached"])
    text = render(events, "text")
    _assert_stops_at(text, "Step 1  ClientHello")
    assert "Step 2" not in text
    assert "what was wrong" in text and "HandshakeFailure: no cipher suite in common" in text
    assert "fatal handshake_failure (40), sent by the server" in text
    # OpenSSL's suites are named, not shown as unknown numbers.
    assert "unknown (0x" not in text


def test_no_common_suite_seen_from_our_client(pem_dir: Path, ca: CertificateAuthority) -> None:
    """Our client traced against OpenSSL speaking another suite: the alert arrives instead of a ServerHello."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem_dir / "leaf.pem", pem_dir / "leaf.key")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-GCM-SHA256")  # static RSA: tls12 never offers it unless told to
    peer = StdlibPeer(ctx, server_side=True)
    recorder = Recorder()
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost",
                              tracer=recorder.tracer("client"))
    peer.incoming.write(client.data_to_send())
    with pytest.raises(ssl.SSLError):
        peer.obj.do_handshake()
    with pytest.raises(TLSError, match="handshake_failure"):
        client.receive_data(peer.outgoing.read())
    failure = _json(recorder.events)["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"], failure["inferred"]) == \
        ("1", "server", "handshake_failure", True)
    assert "the client received the alert while waiting for ServerHello" in failure["peer_view"]


def test_a_failed_capture_is_explained_by_an_observer(other_ca: CertificateAuthority,
                                                      leaf: IssuedCertificate) -> None:
    _, flows = _connect(ClientConfig(trust_anchors=[other_ca.certificate]), leaf, "localhost", ())
    capture = Capture([(C2S if sender == "client" else S2C, data) for sender, data in flows])
    events = replay(capture, None, trust_anchors=[other_ca.certificate])
    doc = _json(events)
    failure = doc["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"], failure["inferred"]) == \
        ("3", "client", "unknown_ca", True)
    # The observer, given the same trust anchors, finds the same fault itself.
    checks = doc["steps"][-1]["checks"]
    assert [(c["by"], c["what"], c["status"]) for c in checks] == [("observer", "certificate chain", "failed")]
    _assert_stops_at(render(events, "text"), "Step 3  Certificate")


def test_the_html_page_marks_the_failed_step(other_ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    events, _ = _connect(ClientConfig(trust_anchors=[other_ca.certificate]), leaf, "localhost",
                         ("client", "server"))
    page = render(events, "html")
    assert 'class="step failed from-server" id="step-3"' in page
    assert "✗ Failed at step 3 (Certificate)" in page
    assert "fatal unknown_ca (48), sent by the client" in page
    assert 'id="step-4"' not in page


def test_tls12_connect_explains_a_refused_certificate(tmp_path: Path, other_ca: CertificateAuthority,
                                                      leaf: IssuedCertificate) -> None:
    """`tls12 connect --explain text` against a server whose CA it does not trust: exit 1, explained at step 3."""
    cafile = tmp_path / "other.pem"
    cafile.write_bytes(other_ca.cert_pem())
    config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(20)
        port = listener.getsockname()[1]

        def serve() -> None:
            sock, _ = listener.accept()
            with sock:
                sock.settimeout(20)
                with contextlib.suppress(TLSError, OSError):
                    BlockingTLS(sock, ServerConnection(config)).handshake()

        thread = threading.Thread(target=serve)
        thread.start()
        result = subprocess.run([sys.executable, "-m", "tls12", "connect", f"127.0.0.1:{port}", "--servername",
                                 "localhost", "--cafile", str(cafile), "--explain", "text"],
                                capture_output=True, text=True, timeout=60, check=False)
        thread.join(20)
    assert result.returncode == 1, result.stderr
    _assert_stops_at(result.stdout, "Step 3  Certificate")
    assert "fatal unknown_ca (48), sent by the client" in result.stdout
    assert "sent alert unknown_ca" in result.stderr
    assert "\x1b[" not in result.stdout
