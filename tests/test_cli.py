"""The command line: `tls12 demo` runs a real loopback connection and explains it, in text, JSON or HTML."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.cli import serve
from tls12.cli.main import build_parser, main
from tls12.explain import SCHEMA, Recorder, render

from helpers import STEPS


def _flat(text: str) -> str:
    """Join the continuation lines of long values (hex is cut into lines of 64 digits)."""
    return re.sub(r"\n {30,}", "", text)


def test_demo_explains_the_eight_steps_in_order(tmp_path: Path) -> None:
    out = tmp_path / "demo.txt"
    assert main(["demo", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    positions = [text.index(step) for step in STEPS]
    assert positions == sorted(positions)
    for step in STEPS:  # each with the RFC section it comes from
        assert re.search(rf"^{re.escape(step)}   (client → server|server → client)   RFC \d+ §", text, re.M), step
    assert "client checked certificate chain: ✓ verified — a path of 2 certificates to a trusted root" in text
    assert "client checked host name: ✓ verified — localhost matches the certificate's subjectAltName" in text
    assert "client checked ServerKeyExchange signature: ✓ verified" in text
    assert "server checked client Finished: ✓ verified" in text
    assert "client checked server Finished: ✓ verified" in text
    assert "client and server derived the same master secret: ✓ verified" in text
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xC030)" in text
    assert "server chose group: x25519 (0x001D)" in text
    for name in ("server_name (0x0000)", "supported_groups (0x000A)", "signature_algorithms (0x000D)",
                 "extended_master_secret (0x0017)", "renegotiation_info (0xFF01)"):
        assert name in text
    for detail in ("subject", "issuer", "validity", "subjectAltName", "public key", "signature algorithm"):
        assert re.search(rf"^ +{detail} +\S", text, re.M), detail
    assert "PRF(pre_master_secret, 'extended master secret', session_hash)[0..47]" in text
    assert "client_write_key" in text and "server_write_IV" in text
    assert "application_data  b'hello from the tls12 client'" in text
    assert "application_data  b'hello back from the tls12 server'" in text
    assert "Each side sent close_notify: the connection ended cleanly" in text
    # Without --reveal-secrets or --keylog, no secret value is printed.
    assert "bytes hidden" in text
    assert "\x1b[" not in text  # no colour in a file


def test_demo_keylog_matches_the_revealed_master_secret(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    out = tmp_path / "demo.txt"
    assert main(["demo", "--keylog", str(keylog), "--output", str(out)]) == 0
    lines = keylog.read_text(encoding="ascii").splitlines()
    assert len(lines) == 1
    match = re.fullmatch(r"CLIENT_RANDOM ([0-9a-f]{64}) ([0-9a-f]{96})", lines[0])
    assert match is not None
    text = _flat(out.read_text(encoding="utf-8"))
    client_random, master = match.groups()
    # The explanation shows the same values the key log carries (a key log implies revealing secrets).
    assert re.search(rf"random\s+{client_random}", text)
    assert re.search(rf"master_secret\s+{master}", text)
    assert "bytes hidden" not in text


def test_demo_reveals_secrets_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "demo.txt"
    assert main(["demo", "--reveal-secrets", "--output", str(out)]) == 0
    text = _flat(out.read_text(encoding="utf-8"))
    assert "bytes hidden" not in text
    assert re.search(r"pre_master_secret\s+[0-9a-f]{64}(?![0-9a-f])", text)
    assert re.search(r"\smaster_secret\s+[0-9a-f]{96}(?![0-9a-f])", text)


def test_demo_json(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    assert main(["demo", "--explain", "json", "--output", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA and doc["complete"] is True and doc["traced"] == ["client", "server"]
    # The client asks for a session ticket: the server's NewSessionTicket is step 8, before its ChangeCipherSpec.
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3", "4", "5", "6", "7a", "7b", "8", "8a", "8b"]
    assert [f["phase"] for f in doc["flights"]] == ["handshake"] * 4 + ["application"] * 2 + ["close"] * 2
    assert list(doc) == ["schema", "title", "subtitle", "source", "traced", "complete", "handshake", "secrets_revealed",
                         "summary", "flights", "steps", "not_reached", "failure", "record_protection",
                         "after_handshake", "decisions_after_handshake", "notes"]


def test_demo_with_a_client_certificate_is_mutual_tls(tmp_path: Path) -> None:
    """`tls12 demo --client-cert`: the server requires a client certificate; both ends explain it."""
    out = tmp_path / "demo.json"
    assert main(["demo", "--client-cert", "--explain", "json", "--output", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["complete"] is True and "Mutual TLS: the server requires a client certificate" in doc["subtitle"]
    # Step 8 is the server's NewSessionTicket (the client asks for a ticket).
    assert [s["number"] for s in doc["steps"]] == \
        ["1", "2", "3", "4", "4b", "5", "5b", "6", "6b", "7a", "7b", "8", "8a", "8b"]
    assert doc["summary"]["client certificate"] == "CN=client.localhost,O=tls12 throwaway (ECDSA P-256)"
    steps = {s["number"]: s for s in doc["steps"]}
    assert [(d["by"], d["what"]) for d in steps["5b"]["decisions"]] == \
        [("client", "client certificate"), ("server", "client certificate")]
    checks = {(c["by"], c["what"]): c["status"] for s in doc["steps"] for c in s["checks"]}
    assert checks[("server", "client certificate chain")] == checks[("server", "client CertificateVerify")] == "ok"
    text_out = tmp_path / "demo.txt"
    assert main(["demo", "--client-cert", "--output", str(text_out)]) == 0
    text = text_out.read_text(encoding="utf-8")
    for heading in ("Step 4b  CertificateRequest", "Step 5b  Certificate (client)", "Step 6b  CertificateVerify"):
        assert re.search(rf"^{re.escape(heading)}   (client → server|server → client)   RFC 5246 §", text, re.M)


@pytest.mark.parametrize("how", ["ticket", "id"])
def test_demo_resume_explains_the_abbreviated_handshake(how: str, tmp_path: Path) -> None:
    """`tls12 demo --resume`: a full handshake, then a second connection resuming its session (by ticket, or by
    session ID), explained; its key log line carries the first connection's master secret, its capture replays."""
    out, keylog, capture = tmp_path / "demo.json", tmp_path / "keys.log", tmp_path / "capture.txt"
    argv = ["demo", "--resume", "--explain", "json", "--keylog", str(keylog), "--capture", str(capture)]
    if how == "id":
        argv[2:2] = ["id"]
    assert main([*argv, "--output", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["handshake"] == "abbreviated" and doc["complete"] is True
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3a", "3b", "4a", "4b"]
    by = "ticket" if how == "ticket" else "session id"
    assert doc["summary"]["session"] == f"resumed by {by} (abbreviated handshake)"
    assert "Connection 1, a full handshake" in doc["subtitle"] and "Connection 2, explained here" in doc["subtitle"]
    lines = [line.split() for line in keylog.read_text(encoding="ascii").splitlines()]
    assert len(lines) == 2 and lines[0][2] == lines[1][2]  # one master secret, two connections
    steps = {s["number"]: s for s in doc["steps"]}
    hello = {f["name"]: f["value"] for f in steps["1"]["fields"]}
    assert hello["random"] == lines[1][1]
    master = {d["label"]: d["value"] for d in steps["2"]["derivations"]}["master_secret"]
    assert master == lines[1][2]
    assert main(["explain", str(capture), "--keylog", str(keylog), "--explain", "json", "--reveal-secrets",
                 "--output", str(tmp_path / "replayed.json")]) == 0
    replayed = json.loads((tmp_path / "replayed.json").read_text(encoding="utf-8"))
    assert replayed["handshake"] == "abbreviated" and replayed["complete"] is True
    assert [s["hex"] for s in replayed["steps"]] == [s["hex"] for s in doc["steps"]]


def test_demo_html_to_standard_output() -> None:
    result = subprocess.run([sys.executable, "-m", "tls12", "demo", "--explain", "html"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith("</html>")
    assert "Step 8b · Finished (server)" in result.stdout


def test_python_dash_m_runs_the_demo() -> None:
    result = subprocess.run([sys.executable, "-m", "tls12", "demo"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "Step 8b  Finished (server)" in result.stdout
    assert "the connection ended cleanly" in result.stdout
    assert "\x1b[" not in result.stdout  # piped: plain


def _run_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tls12", *args], stdout=terminal, stderr=terminal,
                                env=env)
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(controller)
    return b"".join(chunks).decode("utf-8", "replace")


def test_demo_is_in_colour_on_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    output = _run_on_a_terminal(["demo"], env)
    assert "\x1b[1;36mStep 1  ClientHello\x1b[0m" in output
    assert "\x1b[32m✓ verified\x1b[0m" in output
    assert "\x1b[" not in _run_on_a_terminal(["demo"], {**env, "NO_COLOR": "1"})


def test_the_explain_command_is_listed() -> None:
    result = subprocess.run([sys.executable, "-m", "tls12", "--help"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0
    assert "explain" in result.stdout


def test_render_for_one_traced_server(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """What `tls12 serve --explain FORMAT` needs: `render(events, fmt)` on a server's trace alone."""
    recorder = Recorder()
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost")
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=recorder.tracer("server"))
    while not (client.handshake_complete and server.handshake_complete):
        data = client.data_to_send()
        if data:
            server.receive_data(data)
        data = server.data_to_send()
        if data:
            client.receive_data(data)
    text = render(recorder.events, "text")
    assert all(step in text for step in STEPS)
    assert "server checked client Finished: ✓ verified" in text
    assert "Key schedule, as computed by the server" in text
    doc = json.loads(render(recorder.events, "json"))
    assert doc["traced"] == ["server"] and doc["complete"] is True
    assert render(recorder.events, "html").startswith("<!DOCTYPE html>")


def test_serve_max_certificate_size_reaches_the_server_config() -> None:
    args = build_parser().parse_args(["serve", "--max-certificate-size", "200000"])
    assert serve._config(args)[0].max_certificate_size == 200000
    default = build_parser().parse_args(["serve"])
    assert serve._config(default)[0].max_certificate_size == 65536


@pytest.mark.parametrize("value", ["100", "16777216", "lots"])
def test_serve_max_certificate_size_out_of_range(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--max-certificate-size", value])
    assert info.value.code == 2
    assert "--max-certificate-size" in capsys.readouterr().err
