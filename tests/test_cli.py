"""The command line: `tls12 demo` runs a real loopback connection and explains it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tls12.cli.main import main

STEPS = [
    "Step 1  ClientHello",
    "Step 2  ServerHello",
    "Step 3  Certificate",
    "Step 4  ServerKeyExchange",
    "Step 5  ServerHelloDone",
    "Step 6  ClientKeyExchange",
    "Step 7a  ChangeCipherSpec (client)",
    "Step 7b  Finished (client)",
    "Step 8a  ChangeCipherSpec (server)",
    "Step 8b  Finished (server)",
]


def test_demo_explains_the_eight_steps_in_order(tmp_path: Path) -> None:
    out = tmp_path / "demo.txt"
    assert main(["demo", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    positions = [text.index(step) for step in STEPS]
    assert positions == sorted(positions)
    assert "client checked certificate chain: ✓ verified — a path of 2 certificates to a trusted root" in text
    assert "client checked host name: ✓ verified — localhost matches the certificate's subjectAltName" in text
    assert "client checked ServerKeyExchange signature: ✓ verified" in text
    assert "server checked client Finished: ✓ verified" in text
    assert "client checked server Finished: ✓ verified" in text
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xC030)" in text
    assert "(client received b'hello back from the tls12 server')" in text
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
    text = out.read_text(encoding="utf-8")
    client_random, master = match.groups()
    # The explanation shows the same values the key log carries.
    assert re.search(rf"random\s+{client_random}", text)
    assert re.search(rf"master_secret\s+{master}", text)


def test_python_dash_m_runs_the_demo() -> None:
    result = subprocess.run([sys.executable, "-m", "tls12", "demo"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "Step 8b  Finished (server)" in result.stdout
    assert "the connection ended cleanly" in result.stdout
