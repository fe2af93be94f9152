"""bench/bench.py still runs: a --quick run ends with JSON covering every section.

Not a timed test: nothing here asserts on speed, only that every number is there
and positive, that both sides negotiated the same parameters, and that the README
table can be generated from a run's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "bench.py"

RESUMED = ("resumed_ticket", "resumed_id", "resumed_ticket_ecdsa")
SECTIONS = (
    "handshake", "handshake_dhe", *RESUMED, "bulk_16k", "bulk_256", "bulk_chacha_16k", "bulk_chacha_256",
    "socket_16k", "socket_256",
    "memory",
    "server_handshakes", "server_throughput",
)
IMPLS = {
    "handshake": ("tls12", "ssl", "floor"),
    "socket_16k": ("tls12", "tls12_compat", "ssl"),
    "socket_256": ("tls12", "tls12_compat", "ssl"),
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def quick_run() -> tuple[str, dict[str, Any]]:
    result = _run("--quick", "--seed", "1")
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    return result.stdout, json.loads(last)


def _positive(summary: dict[str, Any]) -> None:
    assert summary["median"] > 0
    assert summary["rounds"]
    assert all(v > 0 for v in summary["rounds"])


def test_every_section_has_positive_numbers(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, data = quick_run
    sections = data["sections"]
    for name in SECTIONS:
        entry = sections[name]
        for impl in IMPLS.get(name, ("tls12", "ssl")):
            _positive(entry[impl])
        _positive(entry["ratio"])
    _positive(sections["handshake"]["ratio_floor"])
    for part in ("sign", "verify", "ecdhe", "certificate"):
        assert sections["handshake"]["floor"][part] > 0
    for name in ("server_handshakes", "server_throughput"):
        for impl in ("tls12", "ssl"):
            assert sections[name][impl]["server_cpu"] >= 0


def test_tracer_section(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, data = quick_run
    tracer = data["sections"]["tracer"]
    assert isinstance(tracer["calls_without_tracer"], int) and tracer["calls_without_tracer"] >= 0
    assert tracer["trace_events_per_traced_handshake"] > 0
    _positive(tracer["handshake_ratio"])
    _positive(tracer["records_256_ratio"])


def test_same_parameters_on_both_sides(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, data = quick_run
    negotiated = data["negotiated"]
    assert len(negotiated) == 4  # the two in-memory pairs and the two servers
    for found in negotiated.values():
        assert found["version"] == "TLSv1.2"
        assert found["cipher_suite"] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        assert found["group"] == "X25519"
        assert found["signature_scheme"] == "RSA_PSS_RSAE_SHA256"
        assert found["extended_master_secret"] is True


def test_chacha_rows_on_both_sides(quick_run: tuple[str, dict[str, Any]]) -> None:
    """The bulk section's ChaCha20 rows: both pairs negotiated ECDHE-RSA-CHACHA20-POLY1305, and the
    table shows the rows."""
    stdout, data = quick_run
    negotiated = data["negotiated_chacha"]
    assert set(negotiated) == {"tls12 pair", "ssl pair"}
    for found in negotiated.values():
        assert found["version"] == "TLSv1.2"
        assert found["cipher_suite"] == "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        assert found["extended_master_secret"] is True
    assert negotiated["ssl pair"]["openssl_cipher"] == "ECDHE-RSA-CHACHA20-POLY1305"
    assert "Small records 256 B, ChaCha20-Poly1305, in memory (MB/s)" in stdout


def test_machine_and_targets(quick_run: tuple[str, dict[str, Any]]) -> None:
    stdout, data = quick_run
    for key in ("cpu", "cores", "python", "ssl_openssl", "cryptography", "cryptography_openssl"):
        assert data["machine"][key]
    assert set(data["targets"]) >= {"handshake_vs_ssl", "handshake_vs_floor", "bulk_16k", "bulk_256", "memory",
                                    "tracer_off_calls"}
    assert all(isinstance(t["met"], bool) for t in data["targets"].values())
    assert "Full handshake" in stdout  # the readable table comes before the JSON


def test_update_readme_from_a_run(quick_run: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    stdout, _ = quick_run
    output = tmp_path / "run.txt"
    output.write_text(stdout, encoding="utf-8")
    readme = tmp_path / "README.md"
    original = (REPO / "README.md").read_text(encoding="utf-8")
    readme.write_text(original, encoding="utf-8")
    for _ in range(2):  # a second update replaces the table rather than adding one
        result = _run("--update-readme", str(output), "--readme", str(readme))
        assert result.returncode == 0, result.stderr
    text = readme.read_text(encoding="utf-8")
    assert text.count("<!-- bench:start -->") == 1 and text.count("<!-- bench:end -->") == 1
    assert text.count("## Performance") == 1
    head, rest = text.split("<!-- bench:start -->")
    table, tail = rest.split("<!-- bench:end -->")
    assert "| Full handshake" in table and "cores" in table
    # Everything outside the markers is as it was.
    if "<!-- bench:start -->" in original:
        old_head, old_rest = original.split("<!-- bench:start -->")
        assert head == old_head and tail == old_rest.split("<!-- bench:end -->")[1]
    else:
        assert head.startswith(original.rstrip("\n"))


def test_profile_option() -> None:
    result = _run("--quick", "--profile", "handshake", "--top", "5")
    assert result.returncode == 0, result.stderr
    assert "tottime" in result.stdout
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["profile"] == "handshake" and len(data["entries"]) == 5


def test_another_suite_on_both_sides() -> None:
    """--suite pins our pair and the ssl pair to another suite (the in-memory sections only)."""
    result = _run("--quick", "--only", "bulk", "--rounds", "1", "--suite", "ECDHE-RSA-CHACHA20-POLY1305")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["settings"]["suite"] == "ECDHE-RSA-CHACHA20-POLY1305"
    negotiated = data["negotiated"]
    assert {found["cipher_suite"] for found in negotiated.values()} == {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}
    assert negotiated["ssl pair"]["openssl_cipher"] == "ECDHE-RSA-CHACHA20-POLY1305"
    for name in ("bulk_16k", "bulk_256"):
        _positive(data["sections"][name]["tls12"])
        _positive(data["sections"][name]["ssl"])
    assert "bulk_chacha_256" not in data["sections"]  # already the pinned suite: no second pair of rows
    refused = _run("--quick", "--suite", "ECDHE-RSA-CHACHA20-POLY1305")
    assert refused.returncode != 0 and "--only handshake,resumption,bulk,tracer" in refused.stderr


ECDSA_ROW = "Full handshake, ECDSA P-256, client+server in memory (ms)"


def _ecdsa_negotiated(data: dict[str, Any], cipher_suite: str) -> None:
    negotiated = data["negotiated_ecdsa"]
    assert set(negotiated) == {"tls12 pair", "ssl pair"}
    for found in negotiated.values():
        assert found["version"] == "TLSv1.2"
        assert found["cipher_suite"] == cipher_suite
        assert found["group"] == "X25519"
        assert found["signature_scheme"] == "ECDSA_SECP256R1_SHA256"
        assert found["extended_master_secret"] is True


def test_ecdsa_handshake_side_by_side(quick_run: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    """The ECDSA P-256 handshake row: both sides on the same certificate and parameters, a ratio, a table row."""
    stdout, data = quick_run
    entry = data["sections"]["handshake_ecdsa"]
    for impl in ("tls12", "ssl"):
        _positive(entry[impl])
    _positive(entry["ratio"])
    assert entry["ratio"]["rounds"] == [t / s for t, s in zip(entry["tls12"]["rounds"], entry["ssl"]["rounds"],
                                                              strict=True)]
    _ecdsa_negotiated(data, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    assert data["negotiated_ecdsa"]["ssl pair"]["openssl_cipher"] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    assert data["settings"]["suite_ecdsa"] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    assert "handshake_ecdsa" not in data["targets"]  # issue 11 sets no target for it
    row = next(line for line in stdout.splitlines() if line.startswith(ECDSA_ROW))
    assert "(no target in issue 11; issue 15 sets <= 0.85x)" in row
    output = tmp_path / "run.txt"
    output.write_text(stdout, encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text((REPO / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    result = _run("--update-readme", str(output), "--readme", str(readme))
    assert result.returncode == 0, result.stderr
    table = readme.read_text(encoding="utf-8").split("<!-- bench:start -->")[1].split("<!-- bench:end -->")[0]
    assert f"| {ECDSA_ROW} |" in table and "ecdsa_secp256r1_sha256" in table


def test_ecdsa_handshake_with_only_handshake_and_another_suite() -> None:
    """--only handshake runs the ECDSA and DHE rows; --suite pins them to the suite's ECDSA and DHE-RSA
    counterparts."""
    result = _run("--quick", "--only", "handshake", "--rounds", "1", "--suite", "ECDHE-RSA-CHACHA20-POLY1305")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(data["sections"]) == {"handshake", "handshake_ecdsa", "handshake_dhe"}
    for row in ("handshake_ecdsa", "handshake_dhe"):
        for impl in ("tls12", "ssl"):
            _positive(data["sections"][row][impl])
        _positive(data["sections"][row]["ratio"])
    _ecdsa_negotiated(data, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")
    assert data["settings"]["suite_ecdsa"] == "ECDHE-ECDSA-CHACHA20-POLY1305"
    _dhe_negotiated(data, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
    assert data["settings"]["suite_dhe"] == "DHE-RSA-CHACHA20-POLY1305"
    assert {found["cipher_suite"] for found in data["negotiated"].values()} == {
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}


def test_ecdsa_handshake_profile() -> None:
    result = _run("--quick", "--profile", "handshake_ecdsa", "--top", "5")
    assert result.returncode == 0, result.stderr
    assert "tottime" in result.stdout and "ECDSA" in result.stdout
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["profile"] == "handshake_ecdsa" and len(data["entries"]) == 5


DHE_ROW = "Full handshake, DHE-RSA ffdhe2048, client+server in memory (ms)"


def _dhe_negotiated(data: dict[str, Any], cipher_suite: str) -> None:
    """Both pairs on DHE with the RSA certificate and ffdhe2048: ours as our client reports it, the ssl
    pair's as its server's ServerKeyExchange names it (its p and g)."""
    negotiated = data["negotiated_dhe"]
    assert set(negotiated) == {"tls12 pair", "ssl pair"}
    for found in negotiated.values():
        assert found["version"] == "TLSv1.2"
        assert found["cipher_suite"] == cipher_suite
        assert found["group"] == "FFDHE2048"
        assert found["signature_scheme"] == "RSA_PSS_RSAE_SHA256"
        assert found["extended_master_secret"] is True


def test_dhe_handshake_side_by_side(quick_run: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    """The DHE handshake row: both pairs negotiated DHE-RSA on ffdhe2048, a ratio, a table row."""
    stdout, data = quick_run
    entry = data["sections"]["handshake_dhe"]
    for impl in ("tls12", "ssl"):
        _positive(entry[impl])
    _positive(entry["ratio"])
    assert entry["ratio"]["rounds"] == [t / s for t, s in zip(entry["tls12"]["rounds"], entry["ssl"]["rounds"],
                                                              strict=True)]
    _dhe_negotiated(data, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
    assert data["negotiated_dhe"]["ssl pair"]["openssl_cipher"] == "DHE-RSA-AES256-GCM-SHA384"
    assert data["settings"]["suite_dhe"] == "DHE-RSA-AES256-GCM-SHA384"
    assert data["settings"]["group_dhe"] == "FFDHE2048"
    assert "handshake_dhe" not in data["targets"]  # issue 15 sets no target for it
    row = next(line for line in stdout.splitlines() if line.startswith(DHE_ROW))
    assert "(no target in issue 15)" in row
    assert "negotiated (ssl pair, DHE row): cipher_suite=TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in stdout
    output = tmp_path / "run.txt"
    output.write_text(stdout, encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text((REPO / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    result = _run("--update-readme", str(output), "--readme", str(readme))
    assert result.returncode == 0, result.stderr
    table = readme.read_text(encoding="utf-8").split("<!-- bench:start -->")[1].split("<!-- bench:end -->")[0]
    assert f"| {DHE_ROW} |" in table and "DHE-RSA-AES256-GCM-SHA384, the RFC 7919 group ffdhe2048" in table


def test_dhe_handshake_profile() -> None:
    result = _run("--quick", "--profile", "handshake_dhe", "--top", "5")
    assert result.returncode == 0, result.stderr
    assert "tottime" in result.stdout and "DHE-RSA-AES256-GCM-SHA384, ffdhe2048" in result.stdout
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["profile"] == "handshake_dhe" and len(data["entries"]) == 5


def test_resumption_rows_side_by_side(quick_run: tuple[str, dict[str, Any]]) -> None:
    """Both pairs resume the same way in each resumed row (checked by the benchmark before it measures),
    and each row has its target and its line in the table."""
    stdout, data = quick_run
    negotiated = data["negotiated_resumption"]
    assert set(negotiated) == set(RESUMED)
    for row, pairs in negotiated.items():
        assert set(pairs) == {"tls12 pair", "ssl pair"}
        ours, theirs = pairs["tls12 pair"], pairs["ssl pair"]
        assert {k: ours[k] for k in theirs} == theirs
        assert ours["resumed"] is True and ours["extended_master_secret"] is True
        assert ours["by"] == ("session ID" if row == "resumed_id" else "ticket")
        assert ours["full_handshake_issued_ticket"] is (row != "resumed_id")
        assert ours["resumed_flight"] == "SERVER_HELLO, ChangeCipherSpec, encrypted handshake record"
    assert negotiated["resumed_ticket_ecdsa"]["ssl pair"]["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    for row in RESUMED:
        assert data["targets"][row]["target"] == "<= 0.85"
    for label in ("Resumed handshake by ticket, client+server", "Resumed handshake by session ID, client+server",
                  "Resumed handshake by ticket, ECDSA P-256, client+server"):
        assert any(line.startswith(label) for line in stdout.splitlines())


def test_resumed_profile_step_by_step() -> None:
    """--profile resumed_id: both sides step by step, tls12 by state, then cProfile."""
    result = _run("--quick", "--profile", "resumed_id", "--top", "5")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["profile"] == "resumed_id" and len(data["entries"]) == 5
    assert len(data["steps_us"]) == 5
    assert all(ours > 0 and theirs > 0 for ours, theirs in data["steps_us"].values())
    assert data["by_state_us"]["server ExpectClientHello.handle"] > 0
    assert data["by_state_us"]["client ExpectResumedFinished.handle"] > 0


def test_workers_row() -> None:
    """--only workers: the Go load client is built and run against --workers 1 and 2; every figure the
    row needs is there (the client checks what it negotiated: TLS 1.2, the pinned suite, no resumption)."""
    result = _run("--quick", "--only", "workers", "--rounds", "1")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    entry = data["sections"]["workers"]
    for impl in ("workers_1", "workers_2"):
        _positive(entry[impl])
        for key in ("workers_cpu", "workers_cpu_ms_per_handshake", "generator_cpu", "generator_cpu_ms_per_handshake"):
            assert entry[impl][key] > 0
        assert entry[impl]["handshakes"] > 0
    for key in ("ratio", "ratio_ceiling", "cpu_per_handshake_ratio", "ratio_workers_alone"):
        _positive(entry[key])
    assert entry["cores"] == os.cpu_count()
    assert data["targets"]["workers"]["target"] == ">= 1.7"
    assert data["machine"]["go"]
    assert "--workers 2 / --workers 1 (Go load client" in result.stdout
