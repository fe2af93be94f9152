"""Captures of curl to `openssl s_server` in the other kinds of suite, taken by dumpcap, explained and decrypted.

DHE_RSA (DHE-RSA-AES128-GCM-SHA256), static RSA (AES128-GCM-SHA256) and ECDHE_ECDSA
(ECDHE-ECDSA-AES128-GCM-SHA256, over an ECDSA P-256 certificate made with tls12.certs). Each
explanation is checked against curl's key log (client random, master secret), against tshark's
reading of the same capture (the suite, the DH parameters, the key-exchange values, the signature),
and against what curl received (the decrypted application data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_pcap_peers import app_data, check_against_keylog_and_wire, curl, explain, wire
from tls12.certs import CertificateAuthority
from tls12.explain.annotate import dh_group_name

from pcap_support import Dumpcap, Process, free_port, require, wait_port

pytestmark = pytest.mark.interop


def _step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == step_id)


def _hex(doc: dict[str, Any], step_id: str, name: str) -> str:
    """The bytes of one field as the explanation shows them (the leaf, or its children without the length)."""
    def walk(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [x for f in fields for x in [f, *walk(f["children"])]]

    [found] = [f for f in walk(_step(doc, step_id)["fields"]) if f["name"] == name]
    value: str = found["hex"] if found["hex"] is not None else "".join(
        c["hex"] for c in found["children"] if c["kind"] != "length")
    return value


def _capture(tmp_path: Path, cert: Path, key: Path, ca: Path, openssl_suite: str,
             capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], Path, Path, Path]:
    require("openssl", "curl", "dumpcap", "tshark")
    port, cap, keys, page = free_port(), tmp_path / "curl.pcapng", tmp_path / "curl.keys", tmp_path / "page"
    server = Process(["openssl", "s_server", "-accept", str(port), "-cert", cert, "-key", key, "-www", "-quiet",
                      "-tls1_2", "-cipher", openssl_suite])
    try:
        wait_port(port)
        with Dumpcap(port, cap):
            curl(port, keys, page, "--cacert", str(ca), "--tls-max", "1.2")
    finally:
        server.stop()
    doc = explain(capsys, cap, "--keylog", str(keys), "--cafile", str(ca))
    assert app_data(doc, "client").startswith(b"GET / HTTP/1.1\r\nHost: localhost:")
    response = app_data(doc, "server")
    assert response.split(b"\r\n\r\n", 1)[1] == page.read_bytes()  # decrypted: what curl received
    return doc, cap, keys, page


def _ok_checks(doc: dict[str, Any]) -> dict[str, str]:
    return {c["what"]: c["status"] for s in doc["steps"] for c in s["checks"]}


def test_curl_to_openssl_dhe_rsa(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc, cap, keys, _ = _capture(tmp_path, pem_dir / "leaf.pem", pem_dir / "leaf.key", pem_dir / "ca.pem",
                                 "DHE-RSA-AES128-GCM-SHA256", capsys)
    check_against_keylog_and_wire(doc, cap, keys, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256")
    [p], [g], [ys] = (wire(cap, f"tls.handshake.{name}", 12) for name in ("p", "g", "ys"))
    assert _hex(doc, "server_key_exchange", "dh_p") == p
    assert _hex(doc, "server_key_exchange", "dh_g") == g
    assert _hex(doc, "server_key_exchange", "dh_Ys") == ys
    assert _hex(doc, "client_key_exchange", "dh_Yc") == wire(cap, "tls.handshake.yc", 16)[0]
    assert _hex(doc, "server_key_exchange", "signature") == wire(cap, "tls.handshake.sig", 12)[0]
    # The group is named as RFC 7919's when p and g are one of its groups, else said to be explicit.
    group = next(f for f in _step(doc, "server_key_exchange")["fields"] if f["name"] == "group")
    assert group["value"] == dh_group_name(bytes.fromhex(p), bytes.fromhex(g))
    assert _ok_checks(doc)["ServerKeyExchange signature"] == "ok"
    premaster = next(d for d in _step(doc, "client_key_exchange")["derivations"] if d["label"] == "pre_master_secret")
    assert premaster["value"] is None and "Yc^y mod p" in premaster["formula"]


def test_curl_to_openssl_static_rsa(pem_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc, cap, keys, _ = _capture(tmp_path, pem_dir / "leaf.pem", pem_dir / "leaf.key", pem_dir / "ca.pem",
                                 "AES128-GCM-SHA256", capsys)
    check_against_keylog_and_wire(doc, cap, keys, "TLS_RSA_WITH_AES_128_GCM_SHA256")
    assert "server_key_exchange" not in [s["id"] for s in doc["steps"]]
    assert _hex(doc, "client_key_exchange", "EncryptedPreMasterSecret") == wire(cap, "tls.handshake.epms", 16)[0]
    step6 = _step(doc, "client_key_exchange")
    assert any("never revealed" in n for n in step6["notes"])
    premaster = next(d for d in step6["derivations"] if d["label"] == "pre_master_secret")
    assert premaster["value"] is None and premaster["length"] == 48
    assert doc["summary"]["key exchange"].startswith("RSA")


def test_curl_to_openssl_ecdhe_ecdsa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = CertificateAuthority(key_type="ecdsa-p256")
    leaf = ca.issue(("localhost", "127.0.0.1"), key_type="ecdsa-p256")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    (tmp_path / "leaf.pem").write_bytes(leaf.cert_pem())
    (tmp_path / "leaf.key").write_bytes(leaf.key_pem())
    doc, cap, keys, _ = _capture(tmp_path, tmp_path / "leaf.pem", tmp_path / "leaf.key", tmp_path / "ca.pem",
                                 "ECDHE-ECDSA-AES128-GCM-SHA256", capsys)
    check_against_keylog_and_wire(doc, cap, keys, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    assert _hex(doc, "server_key_exchange", "public") == wire(cap, "tls.handshake.server_point", 12)[0]
    assert _hex(doc, "client_key_exchange", "ecdh_Yc") == wire(cap, "tls.handshake.client_point", 16)[0]
    assert _hex(doc, "server_key_exchange", "signature") == wire(cap, "tls.handshake.sig", 12)[0]
    checks = _ok_checks(doc)
    assert checks["ServerKeyExchange signature"] == checks["certificate chain"] == "ok"
    note = next(n for n in _step(doc, "server_key_exchange")["notes"] if n.startswith("signature:"))
    assert doc["summary"]["signature scheme"].split(" ")[0] in note and "ECDSA P-256" in note
    chosen = next(d for d in _step(doc, "certificate")["decisions"] if d["what"] == "certificate")
    assert chosen["value"].startswith("ECDSA P-256 certificate") and "not on the wire" in chosen["why"]
